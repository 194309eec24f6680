/* A libFuzzer-compatible main for the ordinary build (gcc or clang, with or
 * without sanitizers): runs a fuzz target's LLVMFuzzerTestOneInput once on
 * every file named on the command line, descending into folders, and on
 * every file listed in a *.shared list (paths relative to $QLM_SHARED, as
 * tests/fuzz/run_smoke.sh reads them). ctest runs one of these per target
 * over tests/fuzz/corpus/, so every seed and every regress-* input that once
 * crashed is replayed by `make test` and `make asan` without clang.
 *
 * A crash or sanitizer report fails the test (the process dies); a missing
 * file, an empty corpus or an unreadable input fails it with a message. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t g_runs;

static int replay_path(const char *path);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 4096, len = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return 1;
    }
    /* An exact-size copy, so ASan catches a read one past the input's end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    g_runs++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files in name order, so a failure reproduces the same way everywhere. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open folder %s\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **bigger = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            if (!bigger) {
                rc = 1;
                break;
            }
            names = bigger;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            rc = 1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = replay_path(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int replay_list(const char *list)
{
    const char *root = getenv("QLM_SHARED");
    FILE *f = fopen(list, "r");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", list);
        return 1;
    }
    char line[4096], path[8192];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        snprintf(path, sizeof path, "%s/%s", root, line);
        rc = replay_file(path);
    }
    fclose(f);
    return rc;
}

static int replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        return 1;
    }
    if (S_ISDIR(st.st_mode))
        return replay_dir(path);
    size_t n = strlen(path);
    if (n > 7 && !strcmp(path + n - 7, ".shared"))
        return replay_list(path);
    return replay_file(path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|FOLDER|LIST.shared...\n", argv[0]);
        return 2;
    }
    /* The same default as the test suite: ../shared beside the checkout. */
    setenv("QLM_SHARED", QLM_SHARED_DEFAULT, 0);
    /* Absolute paths first: a target's initializer may change folder. */
    int n = argc; /* an initializer may edit argc/argv, as libFuzzer allows */
    char **paths = calloc((size_t)n, sizeof *paths);
    int rc = !paths;
    for (int i = 1; !rc && i < n; i++)
        if (!(paths[i] = realpath(argv[i], NULL))) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            rc = 1;
        }
    if (!rc && LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; !rc && i < n; i++)
        rc = replay_path(paths[i]);
    for (int i = 1; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    if (rc)
        return 1;
    if (!g_runs) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    fprintf(stderr, "replay: %zu inputs, no crash\n", g_runs);
    return 0;
}
