/* libFuzzer target: the built-in chat templates (real model templates:
 * chatml, llama3, llama2, zephyr, qwen3) rendered over fuzzed *messages*.
 * Message text comes from strangers: any bytes (invalid UTF-8, NULs cut
 * short, template syntax such as "{{", think tags) must render or fail with
 * a message, never crash, and a successful render's length must describe
 * its buffer.
 *
 * Input: byte 0 picks the template (low 3 bits), add_generation_prompt (bit
 * 3), enable_thinking (bits 4-5: undefined/false/true) and whether a tools
 * list is passed (bit 6); the rest is split at 0xFF bytes into fields, read
 * as role, content, reasoning_content triples (an empty reasoning field
 * means absent). The role field's first byte picks a common role when it is
 * a small number, so the interesting branches are reached quickly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chat/template.h"

#define MAX_FIELDS 48

static const char *const k_names[] = {"chatml", "llama3", "llama2", "zephyr", "qwen3"};
static const char *const k_roles[] = {"system", "user", "assistant", "tool"};
static const int k_think[4] = {-1, 0, 1, 1};
static qlm_template *g_tpl[5];
static json_doc *g_tools;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < 5; i++) {
        const char *src = qlm_tpl_builtin(k_names[i]);
        if (!src || qlm_tpl_parse(src, strlen(src), &g_tpl[i]))
            abort();
    }
    static const char tools[] = "[{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
                                "\"description\":\"now\",\"parameters\":{\"type\":\"object\"}}}]";
    if (json_parse(tools, sizeof tools - 1, &g_tools))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    char *text = malloc(size); /* the fields, each NUL-terminated in place */
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    const char *field[MAX_FIELDS];
    size_t n_fields = 0;
    for (char *p = text; n_fields < MAX_FIELDS;) {
        field[n_fields++] = p;
        char *sep = memchr(p, 0xFF, (size_t)(text + size - 1 - p));
        if (!sep)
            break;
        *sep = 0;
        p = sep + 1;
    }
    qlm_chat_msg msgs[MAX_FIELDS / 3 + 1];
    size_t n = 0;
    for (size_t i = 0; i + 1 < n_fields; i += 3, n++) {
        const char *role = field[i];
        msgs[n].role = (uint8_t)role[0] < 4 && role[0] && !role[1] ? k_roles[(uint8_t)role[0]] : role;
        if (!role[0])
            msgs[n].role = "user";
        msgs[n].content = field[i + 1];
        msgs[n].reasoning_content = i + 2 < n_fields && field[i + 2][0] ? field[i + 2] : NULL;
    }
    qlm_tpl_vars v = {.messages = msgs,
                      .n_messages = n,
                      .add_generation_prompt = (flags >> 3) & 1,
                      .enable_thinking = k_think[(flags >> 4) & 3],
                      .bos_token = "<s>",
                      .eos_token = "</s>",
                      .tools = (flags >> 6) & 1 ? json_root(g_tools) : NULL};
    char *out = NULL;
    size_t len = 0;
    if (qlm_tpl_render(g_tpl[(flags & 7) % 5], &v, &out, &len) == QLM_OK && (!out || out[len] != 0))
        abort(); /* the length must describe the NUL-terminated buffer */
    free(out);
    free(text);
    return 0;
}
