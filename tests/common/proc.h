/* Running a program with stdout and stderr captured separately (tu_run()
 * goes through the shell and merges them): for tests that check the exact
 * error line and exit status of the CLI, and that signal a running child. */
#ifndef QLM_TESTS_PROC_H
#define QLM_TESTS_PROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int status;      /* waitpid() status */
    char *out, *err; /* NUL-terminated, malloc'd */
    size_t out_len, err_len;
} tp_result;

/* Start argv[0] (a path) with argv; stdin is /dev/null. *out_fd and *err_fd
 * are the read ends of its stdout and stderr. Aborts the test on failure. */
pid_t tp_spawn(char *const argv[], int *out_fd, int *err_fd);
/* Read both pipes to EOF, wait for pid, close the pipes. */
void tp_collect(pid_t pid, int out_fd, int err_fd, tp_result *r);
/* tp_spawn + tp_collect. */
void tp_run(char *const argv[], tp_result *r);
void tp_free(tp_result *r);

/* True when r is the CLI's documented failure: exit status 1 and stderr
 * exactly one line starting "qlm: " (no sanitizer report, no second line). */
int tp_is_one_line_error(const tp_result *r);

#endif
