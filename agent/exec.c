/* Running a helper program (smartctl, an exec probe) with a deadline and
 * a bounded capture of its output. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"

extern char **environ;

static int spawn(char *const argv[], int out_fd, pid_t *pid, char *errmsg)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rv;

    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "out of memory");
        return AUGUR_EIO;
    }
    posix_spawnattr_init(&attr);
    /* Its own process group, so that a timeout kills what it started too
     * (sh -c 'sleep 10'). */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    rv = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rv != 0) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "%s: %s", argv[0], strerror(rv));
        return rv == ENOENT || rv == EACCES || rv == ENOTDIR ? AUGUR_ENOTFOUND
                                                             : AUGUR_EIO;
    }
    return 0;
}

int agent__run(char *const argv[],
               unsigned timeout_ms,
               char *out,
               size_t size,
               size_t *out_len,
               int *status,
               char *errmsg)
{
    int64_t deadline = agent_mono_ms() + timeout_ms;
    bool timed_out = false;
    bool cut = false;
    size_t len = 0;
    int pipefd[2];
    pid_t pid;
    int ws;
    int rv;

    *out_len = 0;
    *status = -1;
    out[0] = '\0';
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "pipe: %s", strerror(errno));
        return AUGUR_EIO;
    }
    rv = spawn(argv, pipefd[1], &pid, errmsg);
    close(pipefd[1]);
    if (rv != 0) {
        close(pipefd[0]);
        return rv;
    }
    for (;;) {
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int64_t left = deadline - agent_mono_ms();
        char scratch[4096];
        ssize_t n;

        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            break;
        }
        if (p.revents == 0) {
            continue;
        }
        if (len < size - 1) {
            n = read(pipefd[0], out + len, size - 1 - len);
        } else {
            /* Keep draining, so that the child is not stuck on a full
             * pipe, but keep nothing more. */
            n = read(pipefd[0], scratch, sizeof scratch);
            cut |= n > 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (len < size - 1) {
            len += (size_t)n;
        }
    }
    close(pipefd[0]);
    if (timed_out) {
        kill(-pid, SIGKILL);
    }
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            snprintf(errmsg, AGENT_ERRMSG_SIZE, "waitpid: %s", strerror(errno));
            return AUGUR_EIO;
        }
    }
    out[len] = '\0';
    *out_len = len;
    if (timed_out) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "%s: timed out after %u ms",
                 argv[0], timeout_ms);
        *status = -1;
    } else if (WIFEXITED(ws)) {
        *status = WEXITSTATUS(ws);
    } else if (WIFSIGNALED(ws)) {
        *status = 128 + WTERMSIG(ws);
    }
    if (cut) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "%s: output over %zu bytes",
                 argv[0], size - 1);
        return AUGUR_ETOOBIG;
    }
    return 0;
}
