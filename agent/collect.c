/* The agent object, its table of kernel collectors, and reading files
 * under its root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/log.h"

static const char *const collector_names[AGENT_C_COUNT] = {
    "cpu",   "mem",     "disk", "net",   "psi",
    "hwmon", "thermal", "edac", "smart", "probes",
};

/* The kernel collectors, in the order their samples appear. */
static int (*const kernel_readers[])(struct agent *,
                                     struct agent_readings *) = {
    [AGENT_C_CPU] = agent__cpu_read,
    [AGENT_C_MEM] = agent__mem_read,
    [AGENT_C_DISK] = agent__disk_read,
    [AGENT_C_NET] = agent__net_read,
    [AGENT_C_PSI] = agent__psi_read,
    [AGENT_C_HWMON] = agent__hwmon_read,
    [AGENT_C_THERMAL] = agent__thermal_read,
    [AGENT_C_EDAC] = agent__edac_read,
};

const char *agent_collector_name(enum agent_collector_id id)
{
    return (unsigned)id < AGENT_C_COUNT ? collector_names[id] : "?";
}

int agent_init(struct agent *a, const char *root, const char *smartctl)
{
    const char *env = getenv("AUGUR_SMARTCTL");
    size_t len;

    memset(a, 0, sizeof *a);
    a->smart_timeout_ms = AGENT_SMART_TIMEOUT_MS;
    a->smart_enabled = true;
    if (root != NULL) {
        len = strlen(root);
        while (len > 1 && root[len - 1] == '/') {
            len--; /* "DIR/" and "DIR" name the same tree */
        }
        if (len >= sizeof a->root - 64) {
            return AUGUR_EINVAL;
        }
        memcpy(a->root, root, len);
        a->root[len] = '\0';
        if (strcmp(a->root, "/") == 0) {
            a->root[0] = '\0';
        }
    }
    if (smartctl == NULL) {
        smartctl = env != NULL && env[0] != '\0' ? env : "smartctl";
    }
    if (strlen(smartctl) >= sizeof a->smartctl) {
        return AUGUR_EINVAL;
    }
    snprintf(a->smartctl, sizeof a->smartctl, "%s", smartctl);
    return 0;
}

void agent_close(struct agent *a)
{
    free(a->probes);
    a->probes = NULL;
    a->n_probes = 0;
}

int agent__path(const struct agent *a, char *out, const char *rel)
{
    int n = snprintf(out, AGENT_PATH_MAX, "%s%s", a->root, rel);
    return n < 0 || n >= AGENT_PATH_MAX ? AUGUR_EINVAL : 0;
}

int agent__read_file(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return errno == ENOENT || errno == ENOTDIR ? AUGUR_ENOTFOUND
                                                   : AUGUR_EIO;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            /* PSI files exist but refuse reads when psi=0. */
            int unsupported = errno == EOPNOTSUPP;
            close(fd);
            return unsupported ? AUGUR_ENOTFOUND : AUGUR_EIO;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == size - 1) {
            close(fd);
            buf[len] = '\0';
            return AUGUR_ETOOBIG;
        }
    }
    close(fd);
    buf[len] = '\0';
    return 0;
}

/* Read ROOT@rel into a fresh buffer of @size; NULL with *@rv set on error.
 * The caller frees it. */
char *agent__slurp(struct agent *a, const char *rel, size_t size, int *rv)
{
    char path[AGENT_PATH_MAX];
    char *buf;

    *rv = agent__path(a, path, rel);
    if (*rv != 0) {
        return NULL;
    }
    buf = malloc(size);
    if (buf == NULL) {
        *rv = AUGUR_ENOMEM;
        return NULL;
    }
    *rv = agent__read_file(path, buf, size);
    if (*rv != 0) {
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "%.200s: %s", path,
                 *rv == AUGUR_ENOTFOUND ? "absent" : augur_strerror(*rv));
        free(buf);
        return NULL;
    }
    return buf;
}

int agent_collect_kernel(struct agent *a, struct agent_readings *out)
{
    agent_readings_clear(out);
    for (unsigned id = 0; id < AGENT_C_SMART; id++) {
        size_t before = out->n;
        int rv;

        a->errmsg[0] = '\0';
        rv = kernel_readers[id](a, out);
        if (rv == AUGUR_ENOMEM) {
            return rv;
        }
        if (rv == AUGUR_ENOTFOUND) {
            out->n = before;
            a->missing |= 1u << id;
            if (!(a->reported & 1u << id)) {
                a->reported |= 1u << id;
                LOG(LOG_LEVEL_INFO,
                    "collector %s: not on this host (%s); skipped",
                    collector_names[id],
                    a->errmsg[0] != '\0' ? a->errmsg : "absent");
            }
        } else if (rv != 0) {
            out->n = before;
            LOG(LOG_LEVEL_WARN, "collector %s: %s: %s; skipped this time",
                collector_names[id], augur_errname(rv), a->errmsg);
        } else {
            a->missing &= ~(1u << id);
        }
    }
    return 0;
}

int64_t agent_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t agent_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
