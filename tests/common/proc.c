#include "tests/common/proc.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/testutil.h"

pid_t tp_spawn(char *const argv[], int *out_fd, int *err_fd)
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        fail_msg("pipe failed");
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork failed");
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
            _exit(127);
        close(po[0]);
        close(pe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    *out_fd = po[0];
    *err_fd = pe[0];
    return pid;
}

static void drain(int fd, char **buf, size_t *len, size_t *cap)
{
    if (*len + 4097 > *cap) {
        *cap = 2 * *cap + 8192;
        if (!(*buf = realloc(*buf, *cap)))
            fail_msg("out of memory");
    }
    ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
    if (n > 0)
        *len += (size_t)n;
}

void tp_collect(pid_t pid, int out_fd, int err_fd, tp_result *r)
{
    memset(r, 0, sizeof *r);
    size_t cap[2] = {0, 0};
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            size_t before = i ? r->err_len : r->out_len;
            if (i)
                drain(p[i].fd, &r->err, &r->err_len, &cap[1]);
            else
                drain(p[i].fd, &r->out, &r->out_len, &cap[0]);
            if ((i ? r->err_len : r->out_len) == before) { /* EOF */
                close(p[i].fd);
                p[i].fd = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        char **b = i ? &r->err : &r->out;
        if (!*b && !(*b = calloc(1, 1)))
            fail_msg("out of memory");
        (*b)[i ? r->err_len : r->out_len] = 0;
    }
    while (waitpid(pid, &r->status, 0) < 0)
        ;
}

void tp_run(char *const argv[], tp_result *r)
{
    int o, e;
    pid_t pid = tp_spawn(argv, &o, &e);
    tp_collect(pid, o, e, r);
}

void tp_free(tp_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

int tp_is_one_line_error(const tp_result *r)
{
    return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 1 && r->err_len > 6 &&
           !strncmp(r->err, "qlm: ", 5) && r->err[r->err_len - 1] == '\n' && !memchr(r->err, '\n', r->err_len - 1);
}
