/* libFuzzer target: any byte string as a chat template must parse or fail
 * with a message, and whatever parses must render or fail, within the
 * engine's limits, without crashing. Seeds: tests/fuzz/corpus/fuzz_template. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chat/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qlm_template *t;
    if (qlm_tpl_parse((const char *)data, size, &t) != QLM_OK)
        return 0;
    static const qlm_chat_msg msgs[] = {
        {"system", "Be brief.", NULL},
        {"user", "Hi <think>x</think> there", NULL},
        {"assistant", "<think>\nhmm\n</think>\n\nHello", "hmm"},
        {"user", "Bye", NULL},
    };
    qlm_tpl_vars v = {.messages = msgs, .n_messages = 4, .add_generation_prompt = true, .enable_thinking = 0,
                      .bos_token = "<s>", .eos_token = "</s>"};
    char *out = NULL;
    size_t len = 0;
    if (qlm_tpl_render(t, &v, &out, &len) == QLM_OK && len != strlen(out) && memchr(out, 0, len) == NULL)
        abort(); /* the length must describe the buffer */
    free(out);
    qlm_tpl_free(t);
    return 0;
}
