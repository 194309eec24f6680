/* qlm chat driven through a pseudo-terminal, on stories260K (converted from
 * its GGUF) and on a tiny synthetic model with the real SmolLM2 tokenizer
 * (qlm synth + qlm convert), with --template chatml: prompts, turns that
 * stop at the length limit, /undo /reset /stats /save, multi-line input,
 * Ctrl-C mid-reply, Ctrl-D; the token ids fed to the model for turns 1-3
 * equal rendering and encoding each whole conversation at once; and a
 * 64-token context survives 50 long turns. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/common/json.h"
#include "runtime/chat/template.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/common/testutil.h"

static char g_model[4096], g_tok[4096], g_stories[4096];
static bool g_color; /* spawn without NO_COLOR */

/* Tiny Llama-architecture weights around the real 49152-token vocabulary. */
static int make_model(void **state)
{
    (void)state;
    snprintf(g_tok, sizeof g_tok, "%s", tu_shared("models/tokenizers/smollm2-135m-instruct"));
    const char *cfg = tu_tmp("tiny.json");
    tu_write(cfg, "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64,"
             " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
             " \"num_key_value_heads\": 2, \"vocab_size\": 49152, \"max_position_embeddings\": 2048,"
             " \"rms_norm_eps\": 1e-05, \"rope_theta\": 100000, \"tie_word_embeddings\": true,"
             " \"bos_token_id\": 1, \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"torch_dtype\": \"bfloat16\"}\n");
    snprintf(g_model, sizeof g_model, "%s", tu_tmp("tiny.qlm"));
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' synth --config '%s' --tokenizer '%s' --seed 7 -o '%s' --threads 1 && '%s' convert '%s' -o '%s' --quiet --threads 1",
             tu_qlm_bin(), cfg, g_tok, tu_tmp("tiny-hf"), tu_qlm_bin(), tu_tmp("tiny-hf"), g_model);
    int rc = tu_run(cmd, &out);
    if (rc != 0)
        fprintf(stderr, "model fixture failed: %s\n", out);
    free(out);
    if (rc != 0)
        return -1;
    snprintf(g_stories, sizeof g_stories, "%s", tu_tmp("stories260K.qlm"));
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --quiet --threads 1", tu_qlm_bin(),
             tu_shared("models/stories260K/stories260K-f32.gguf"), g_stories);
    rc = tu_run(cmd, &out);
    if (rc != 0)
        fprintf(stderr, "stories260K conversion failed: %s\n", out);
    free(out);
    return rc == 0 ? 0 : -1;
}

/* ---- a child on a pseudo-terminal ------------------------------------------------ */

typedef struct {
    pid_t pid;
    int fd;
    char *out;       /* everything the child printed */
    size_t n, cap, mark;
} pty_child;

static void spawn(pty_child *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    struct winsize ws = {.ws_row = 40, .ws_col = 200};
    p->pid = forkpty(&p->fd, NULL, NULL, &ws);
    if (p->pid < 0)
        fail_msg("forkpty: %s", strerror(errno));
    if (p->pid == 0) {
        setenv("QLM_HISTORY", tu_tmp("history"), 1);
        setenv("QLM_THREADS", "1", 1);
        if (g_color)
            unsetenv("NO_COLOR");
        else
            setenv("NO_COLOR", "1", 1);
        execv(tu_qlm_bin(), argv);
        _exit(127);
    }
    p->cap = 1 << 16;
    p->out = malloc(p->cap);
}

static void pump(pty_child *p, int ms)
{
    struct pollfd pfd = {p->fd, POLLIN, 0};
    if (poll(&pfd, 1, ms) <= 0)
        return;
    if (p->n + 4096 + 1 > p->cap) {
        p->cap *= 2;
        p->out = realloc(p->out, p->cap);
    }
    ssize_t r = read(p->fd, p->out + p->n, 4096);
    if (r > 0)
        p->n += (size_t)r;
    p->out[p->n] = 0;
}

/* Wait (up to 60 s) for `s` to appear after the mark; the mark moves past it. */
static void expect(pty_child *p, const char *s)
{
    time_t t0 = time(NULL);
    for (;;) {
        if (p->n) {
            p->out[p->n] = 0;
            char *hit = strstr(p->out + p->mark, s);
            if (hit) {
                p->mark = (size_t)(hit - p->out) + strlen(s);
                return;
            }
        }
        if (time(NULL) - t0 > 60)
            fail_msg("timed out waiting for '%s'; output so far:\n%s", s, p->out + p->mark);
        pump(p, 100);
    }
}

/* Wait (up to 60 s) until at least n more bytes have arrived after the mark. */
static void expect_more(pty_child *p, size_t n)
{
    time_t t0 = time(NULL);
    while (p->n < p->mark + n) {
        if (time(NULL) - t0 > 60)
            fail_msg("timed out waiting for %zu bytes of output; output so far:\n%s", n, p->out + p->mark);
        pump(p, 100);
    }
}

/* Wait until the line editor owns the terminal again (it turns bracketed paste
 * on right after entering raw mode). A Ctrl-D typed before that is taken by the
 * cooked line discipline as an end-of-file nobody reads, and is lost. */
static void wait_for_editor(pty_child *p) { expect(p, "\x1b[?2004h"); }

static void type_keys(pty_child *p, const char *s)
{
    if (write(p->fd, s, strlen(s)) != (ssize_t)strlen(s))
        fail_msg("write to pty failed");
}

static int finish(pty_child *p)
{
    int status = 0;
    time_t t0 = time(NULL);
    while (time(NULL) - t0 < 30) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        pump(p, 0);
        nanosleep(&ts, NULL); /* the master reports hang-up at once: do not spin */
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            close(p->fd);
            free(p->out);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    fail_msg("qlm chat did not exit; output:\n%s", p->out);
    return -1;
}

/* /stats after a turn: prompt tokens evaluated and reused. */
static void last_prompt_stats(pty_child *p, long *evaluated, long *reused)
{
    type_keys(p, "/stats\r");
    expect(p, "time to first token ");
    size_t at = p->mark;
    expect(p, "reused)");
    const char *s = strstr(p->out + at, " s (");
    if (!s || sscanf(s, " s (%ld prompt tokens evaluated, %ld reused)", evaluated, reused) != 2)
        fail_msg("unexpected /stats line: %s", p->out + at);
}

/* ---- the fed ids ------------------------------------------------------------------- */

typedef struct {
    int32_t v[8192];
    size_t n;
} kv_seq;

/* Replays the --dump-ids log; snaps[k] is the cache after turn k's prompt. */
static size_t replay(const char *path, kv_seq *snaps, size_t max)
{
    size_t len, k = 0;
    char *text = tu_read(path, &len);
    kv_seq kv = {.n = 0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = line + 1;
        if (line[0] == 'T') {
            size_t pos = strtoul(p, NULL, 10);
            assert_true(pos <= kv.n);
            kv.n = pos;
        } else if (line[0] == 'E') {
            size_t pos = strtoul(p, &p, 10);
            assert_int_equal(pos, kv.n); /* evaluation continues where the cache ends */
            for (char *e; (e = p), strtol(p, &e, 10), e != p; p = e) {
                assert_true(kv.n < 8192);
                kv.v[kv.n++] = (int32_t)strtol(p, NULL, 10);
            }
        } else if (line[0] == 'P' && k < max) {
            snaps[k++] = kv;
        }
    }
    free(text);
    return k;
}

/* Turn k's prompt rendered from the saved conversation in one go. */
static void whole_prompt(const qlm_tokenizer *tok, const json_value *conv, size_t turn, int32_t **ids, size_t *n)
{
    const json_value *msgs = json_get(conv, "messages");
    qlm_chat_msg m[16];
    size_t k = 0;
    const char *sys = json_get_str(conv, "system");
    if (sys)
        m[k++] = (qlm_chat_msg){"system", sys, NULL};
    for (size_t i = 0; i < 2 * turn + 1; i++)
        m[k++] = (qlm_chat_msg){json_get_str(json_at(msgs, i), "role"), json_get_str(json_at(msgs, i), "content"), NULL};
    qlm_template *t;
    const char *src = qlm_tpl_builtin("chatml");
    assert_ok(qlm_tpl_parse(src, strlen(src), &t));
    qlm_tpl_vars v = {.messages = m, .n_messages = k, .add_generation_prompt = true, .enable_thinking = -1};
    char *text;
    size_t len;
    assert_ok(qlm_tpl_render(t, &v, &text, &len));
    qlm_tok_encode_opts o = {.add_bos = false, .parse_special = true};
    assert_ok(qlm_tok_encode(tok, text, len, &o, ids, n));
    free(text);
    qlm_tpl_free(t);
}

static void check_fed_ids(const char *dump, const char *saved, const char *tok_path)
{
    static kv_seq snaps[3];
    assert_int_equal(replay(dump, snaps, 3), 3);
    size_t len;
    char *text = tu_read(saved, &len);
    json_doc *doc;
    assert_ok(json_parse(text, len, &doc));
    free(text);
    assert_int_equal(json_get(json_root(doc), "messages")->n, 6);
    qlm_tokenizer *tok;
    assert_ok(qlm_tok_load_path(tok_path, &tok));
    for (size_t turn = 0; turn < 3; turn++) {
        int32_t *ids;
        size_t n;
        whole_prompt(tok, json_root(doc), turn, &ids, &n);
        if (n != snaps[turn].n || memcmp(ids, snaps[turn].v, n * sizeof *ids) != 0)
            fail_msg("turn %zu: the cache holds %zu ids, rendering the conversation gives %zu (or they differ)",
                     turn + 1, snaps[turn].n, n);
        free(ids);
    }
    qlm_tok_free(tok);
    json_free(doc);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* One scripted session; `tok` is a tokenizer path when the model has none. */
static void repl_session(const char *model, const char *tok, const char *banner)
{
    const char *dump = tu_tmp("ids.txt"), *saved = tu_tmp("conv.json"), *saved2 = tu_tmp("conv2.json");
    static char save_cmd[8192], save2_cmd[8192];
    snprintf(save_cmd, sizeof save_cmd, "/save %s\r", saved);
    snprintf(save2_cmd, sizeof save2_cmd, "/save %s\r", saved2);
    char *argv[] = {"qlm", "chat", "-m", (char *)model, "--template", "chatml", "--system", "Be brief.",
                    "-n", "8", "--temp", "0", "--ctx", "512", "--dump-ids", (char *)dump,
                    tok ? "--tokenizer" : NULL, (char *)tok, NULL};
    pty_child p;
    spawn(&p, argv);
    expect(&p, banner);
    const char *turns[] = {"Hello!\r", "What is 2+2?\r", "Tell me a story.\r"};
    for (size_t i = 0; i < 3; i++) {
        expect(&p, ">>> ");
        type_keys(&p, turns[i]);
        expect(&p, "[reply cut at the length limit]");
    }
    long eval3, reused3, eval5, reused5;
    last_prompt_stats(&p, &eval3, &reused3);
    expect(&p, ">>> ");
    type_keys(&p, save_cmd);
    expect(&p, "saved to");
    type_keys(&p, "/stats\r");
    expect(&p, "6 messages");
    expect(&p, "last reply: 8 tokens");
    /* turns 4 and 5: only the new tokens are evaluated, however long the conversation */
    const char *more[] = {"Tell me a poem.\r", "Tell me a joke.\r"};
    for (size_t i = 0; i < 2; i++) {
        expect(&p, ">>> ");
        type_keys(&p, more[i]);
        expect(&p, "[reply cut at the length limit]");
    }
    last_prompt_stats(&p, &eval5, &reused5);
    if (!(eval3 < reused3 && eval5 <= eval3 + 4 && reused5 >= reused3 + 16))
        fail_msg("turn 3 evaluated %ld tokens (%ld reused), turn 5 %ld (%ld reused)", eval3, reused3, eval5, reused5);
    type_keys(&p, "/undo\r");
    expect(&p, "last exchange dropped");
    type_keys(&p, "/stats\r");
    expect(&p, "8 messages");
    type_keys(&p, "/reset\r");
    expect(&p, "conversation cleared");
    type_keys(&p, "/stats\r");
    expect(&p, "0 messages");
    /* multi-line input: a """ block and a backslash continuation are one message each */
    type_keys(&p, "\"\"\"\rline one\rline two\r\"\"\"\r");
    expect(&p, "[reply cut at the length limit]");
    type_keys(&p, "first \\\rsecond\r");
    expect(&p, "[reply cut at the length limit]");
    /* a bracketed paste keeps its newlines in one message */
    type_keys(&p, "\x1b[200~pasted\rtext\x1b[201~\r");
    expect(&p, "[reply cut at the length limit]");
    type_keys(&p, save2_cmd);
    expect(&p, "saved to");
    static char load_cmd[8192];
    snprintf(load_cmd, sizeof load_cmd, "/load %s\r", saved);
    type_keys(&p, load_cmd);
    expect(&p, "(6 messages)");
    type_keys(&p, "/load /nonexistent.json\r");
    expect(&p, "cannot open /nonexistent.json");
    type_keys(&p, "/nonsense\r");
    expect(&p, "unknown command /nonsense");
    wait_for_editor(&p);
    type_keys(&p, "\x04");
    assert_int_equal(finish(&p), 0);

    check_fed_ids(dump, saved, tok ? tok : model);
    size_t len;
    char *conv2 = tu_read(saved2, &len);
    assert_non_null(strstr(conv2, "\"line one\\nline two\""));
    assert_non_null(strstr(conv2, "\"first \\nsecond\""));
    assert_non_null(strstr(conv2, "\"pasted\\ntext\""));
    free(conv2);
    /* history persisted, multi-line entries included */
    char *hist = tu_read(tu_tmp("history"), &len);
    assert_non_null(strstr(hist, "What is 2+2?\n"));
    assert_non_null(strstr(hist, "line one\\nline two\n"));
    free(hist);
}

static void test_repl_stories260k(void **state)
{
    (void)state;
    repl_session(g_stories, NULL, "qlm chat: stories260K.qlm");
}

static void test_repl_smollm2_vocab(void **state)
{
    (void)state;
    repl_session(g_model, g_tok, "qlm chat: tiny.qlm");
}

/* A chat whose replies never end by themselves (-n 0, greedy), at its first prompt. */
static void spawn_endless_chat(pty_child *p)
{
    char *argv[] = {"qlm", "chat", "-m", g_model, "--tokenizer", g_tok, "--template", "chatml",
                    "--temp", "0", "-n", "0", NULL};
    spawn(p, argv);
    expect(p, ">>> ");
}

/* Ctrl-C stops a long reply and returns to the prompt, keeping the partial
 * reply. A fresh session: the interrupt must not depend on what came before. */
static void test_ctrl_c_mid_reply(void **state)
{
    (void)state;
    pty_child p;
    spawn_endless_chat(&p);
    type_keys(&p, "Go on and on.\r");
    /* Ctrl-C only raises SIGINT once the line editor has put the terminal
     * back in cooked mode; reply text is printed after that switch. */
    expect(&p, "\x1b[?2004l\r\r\n"); /* ONLCR: the editor's \r\n arrives as \r\r\n */
    expect_more(&p, 8);
    type_keys(&p, "\x03");
    expect(&p, "[interrupted]");
    expect(&p, ">>> ");
    type_keys(&p, "/stats\r");
    expect(&p, "2 messages"); /* the partial reply is kept */
    wait_for_editor(&p);
    type_keys(&p, "\x04");
    assert_int_equal(finish(&p), 0);
}

/* Ctrl-C typed together with Enter reaches the editor as a raw byte, before
 * the terminal is back in cooked mode (on a busy machine the window is as
 * long as the child takes to read the line): it must still stop the reply,
 * not run it to the end and then cancel the next prompt, which ended the
 * chat. One write, so the keys are queued before the editor reads Enter. */
static void test_ctrl_c_typed_ahead(void **state)
{
    (void)state;
    pty_child p;
    spawn_endless_chat(&p);
    type_keys(&p, "Go on and on.\r\x03/stats\r");
    expect(&p, "[interrupted]");
    expect(&p, "0 messages"); /* keys typed after the Ctrl-C are kept, in order */
    wait_for_editor(&p);
    type_keys(&p, "\x04");
    assert_int_equal(finish(&p), 0);
}

/* ---- think blocks ---- */

/* Prompt ids and generated ids of one scripted turn, from --dump-ids. */
static void scripted_turn(const char *tok, int32_t *prompt, size_t *n_prompt, int32_t *gen, size_t *n_gen)
{
    const char *dump = tu_tmp("think-ids.txt");
    char cmd[16384], *out;
    snprintf(cmd, sizeof cmd, "printf 'Hi\\n' | '%s' chat -m '%s' --template chatml --temp 0 -n 12 --dump-ids '%s'%s%s%s",
             tu_qlm_bin(), g_stories, dump, tok ? " --tokenizer '" : "", tok ? tok : "", tok ? "'" : "");
    assert_int_equal(tu_run(cmd, &out), 0);
    free(out);
    char *text = tu_read(dump, NULL);
    bool after_prompt = false;
    *n_prompt = *n_gen = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == 'P') {
            after_prompt = true;
            continue;
        }
        if (line[0] != 'E')
            continue;
        char *s = strchr(line + 2, ' ');
        for (long v; s && *s; s = strchr(s + 1, ' ')) {
            v = strtol(s + 1, NULL, 10);
            if (after_prompt)
                gen[(*n_gen)++] = (int32_t)v;
            else
                prompt[(*n_prompt)++] = (int32_t)v;
        }
    }
    free(text);
}

/* tok512.bin (llama2.c: int32 max_len, then per token float score, int32 len,
 * bytes) with the pieces of ids a and b replaced by "<think>" and "</think>". */
static void write_think_tokenizer(const char *path, int32_t a, int32_t b)
{
    size_t n;
    char *in = tu_read(tu_shared("models/stories260K/tok512.bin"), &n);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t max_len;
    memcpy(&max_len, in, 4);
    if (max_len < 8)
        max_len = 8;
    fwrite(&max_len, 4, 1, f);
    size_t at = 4;
    for (int32_t id = 0; at + 8 <= n; id++) {
        int32_t len;
        memcpy(&len, in + at + 4, 4);
        assert_true(len >= 0 && at + 8 + (size_t)len <= n);
        const char *piece = id == a ? "<think>" : id == b ? "</think>" : NULL;
        int32_t out_len = piece ? (int32_t)strlen(piece) : len;
        fwrite(in + at, 4, 1, f); /* score */
        fwrite(&out_len, 4, 1, f);
        fwrite(piece ? piece : in + at + 8, 1, (size_t)out_len, f);
        at += 8 + (size_t)len;
    }
    fclose(f);
    free(in);
}

/* Qwen3-style thinking on the terminal: stories260K's greedy reply with two
 * of its tokens renamed <think> and </think> (the prompt's tokens unchanged,
 * so the same reply comes): the block is shown dim, or not at all with
 * --hide-think, and the text after it normally. */
static void test_think_block(void **state)
{
    (void)state;
    int32_t prompt[512], gen[64], prompt2[512], gen2[64];
    size_t np, ng, np2, ng2;
    scripted_turn(NULL, prompt, &np, gen, &ng);
    assert_true(ng >= 6);
    /* <think> = the first reply token, </think> = a later, different one;
     * neither may occur in the prompt */
    int32_t a = gen[0], b = -1;
    for (size_t i = 2; i + 2 < ng && b < 0; i++) {
        bool earlier = false;
        for (size_t j = 0; j < i; j++)
            earlier |= gen[j] == gen[i];
        if (!earlier && gen[i] > 2) /* 0..2: unk, bos, eos */
            b = gen[i];
    }
    assert_true(b >= 0 && a > 2);
    for (size_t i = 0; i < np; i++)
        assert_true(prompt[i] != a && prompt[i] != b);
    const char *tok = tu_tmp("think-tok512.bin");
    write_think_tokenizer(tok, a, b);
    scripted_turn(tok, prompt2, &np2, gen2, &ng2);
    assert_int_equal(np2, np); /* the renamed pieces did not touch the prompt */
    assert_memory_equal(prompt2, prompt, np * sizeof *prompt);
    assert_int_equal(ng2, ng);
    assert_memory_equal(gen2, gen, ng * sizeof *gen);

    size_t shown = 0;
    for (int hide = 0; hide < 2; hide++) {
        char *argv[] = {"qlm", "chat", "-m", g_stories, "--tokenizer", (char *)tok, "--template", "chatml",
                        "--temp", "0", "-n", "12", hide ? "--hide-think" : NULL, NULL};
        pty_child p;
        g_color = true;
        spawn(&p, argv);
        g_color = false;
        expect(&p, ">>> ");
        type_keys(&p, "Hi\r");
        expect(&p, "\x1b[?2004l\r\r\n");
        size_t start = p.mark;
        expect(&p, "[reply cut at the length limit]");
        char *reply = strndup(p.out + start, p.mark - start);
        if (!hide) {
            const char *on = strstr(reply, "\x1b[2m<think>"), *close = strstr(reply, "</think>");
            assert_non_null(on);
            assert_non_null(close);
            const char *reset = strstr(on, "\x1b[0m");
            assert_non_null(reset); /* normal again after the block... */
            assert_true(reset > close); /* ...not before its end */
            shown = strlen(reply);
        } else {
            assert_null(strstr(reply, "<think>"));
            assert_null(strstr(reply, "</think>"));
            assert_true(strlen(reply) + 15 < shown); /* the block's text is gone, the rest is there */
        }
        free(reply);
        wait_for_editor(&p);
        type_keys(&p, "\x04");
        assert_int_equal(finish(&p), 0);
    }
}

static void test_ctrl_c_at_prompt_exits(void **state)
{
    (void)state;
    char *argv[] = {"qlm", "chat", "-m", g_model, "--tokenizer", g_tok, "--template", "chatml", NULL};
    pty_child p;
    spawn(&p, argv);
    expect(&p, ">>> ");
    type_keys(&p, "half a line\x03");
    expect(&p, "\x1b[?2004l"); /* the line editor let go of the line... */
    expect(&p, ">>> ");         /* ...and a non-empty line is only cancelled */
    type_keys(&p, "\x03");
    assert_int_equal(finish(&p), 0);
}

/* Scripted (stdin/stdout not a terminal), 50 long turns in a 64-token context. */
static void test_context_overflow(void **state)
{
    (void)state;
    const char *in = tu_tmp("long.txt");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 50; i++)
        fprintf(f, "Turn %d: tell me everything about the weather, the sea and the mountains today\n", i);
    for (int i = 0; i < 100; i++) /* one message longer than the whole context: refused, chat goes on */
        fputs("far too long ", f);
    fputs("\nStill here?\n", f);
    fclose(f);
    static char cmd[32768];
    char *out = NULL;
    snprintf(cmd, sizeof cmd,
             "QLM_THREADS=1 QLM_HISTORY='%s' '%s' chat -m '%s' --tokenizer '%s' --template chatml --system 'Be brief.' "
             "--ctx 64 -n 6 --temp 0 < '%s' 2>&1 >/dev/null",
             tu_tmp("hist2"), tu_qlm_bin(), g_model, g_tok, in);
    int rc = tu_run(cmd, &out);
    if (rc != 0)
        fail_msg("qlm chat exited %d:\n%s", rc, out);
    assert_non_null(strstr(out, "[context full: dropped the"));
    assert_non_null(strstr(out, "the message needs"));
    assert_null(strstr(out, "qlm:"));
    free(out);
}

static void test_bad_usage(void **state)
{
    (void)state;
    static char cmd[32768];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' chat", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat -m x.qlm --bogus", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 2);
    assert_non_null(strstr(out, "--bogus"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat -m '%s' --temp abc", tu_qlm_bin(), g_model);
    assert_int_equal(tu_run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat -m /nonexistent.qlm < /dev/null", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat -m '%s' --tokenizer '%s' --template /nonexistent.jinja < /dev/null",
             tu_qlm_bin(), g_model, g_tok);
    assert_int_equal(tu_run(cmd, &out), 1);
    assert_non_null(strstr(out, "nonexistent.jinja"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_repl_stories260k),
        cmocka_unit_test(test_repl_smollm2_vocab),
        cmocka_unit_test(test_ctrl_c_mid_reply),
        cmocka_unit_test(test_ctrl_c_typed_ahead),
        cmocka_unit_test(test_think_block),
        cmocka_unit_test(test_ctrl_c_at_prompt_exits),
        cmocka_unit_test(test_context_overflow),
    };
    return cmocka_run_group_tests(tests, make_model, NULL);
}
