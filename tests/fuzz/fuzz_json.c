/* libFuzzer target: the JSON parser on arbitrary bytes, then the writer:
 * whatever parses must print as JSON that parses again to the same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"

static char *print(const json_value *v, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    if (!m)
        abort();
    json_write_value(m, v, 0, 0);
    fclose(m);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc *doc, *again;
    if (json_parse((const char *)data, size, &doc) != QLM_OK)
        return 0;
    size_t n1, n2;
    char *t1 = print(json_root(doc), &n1);
    if (json_parse(t1, n1, &again) != QLM_OK)
        abort();
    char *t2 = print(json_root(again), &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0)
        abort();
    free(t1);
    free(t2);
    json_free(again);
    json_free(doc);
    return 0;
}
