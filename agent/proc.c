/* The CPU and memory collectors: /proc/stat and /proc/meminfo. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

#define STAT_SIZE 65536
#define MEMINFO_SIZE 16384

/* The value after "@key " on a line of @text starting with it. */
static bool line_u64(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            char *end;
            *out = strtoull(p + klen + 1, &end, 10);
            return end != p + klen + 1;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return false;
}

int agent__cpu_read(struct agent *a, struct agent_readings *out)
{
    /* user nice system idle iowait irq softirq steal (guest is already in
     * user and nice) */
    uint64_t f[8] = {0};
    uint64_t total = 0;
    uint64_t v;
    unsigned cpus = 0;
    int rv;
    char *buf = agent__slurp(a, "/proc/stat", STAT_SIZE, &rv);
    int n;

    if (buf == NULL) {
        return rv;
    }
    n = sscanf(buf,
               "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
               " %" SCNu64 " %" SCNu64 " %" SCNu64,
               &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]);
    if (n < 4) {
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE,
                 "/proc/stat: no aggregate cpu line");
        free(buf);
        return AUGUR_EMALFORMED;
    }
    for (int i = 0; i < 8; i++) {
        total += f[i];
    }
    for (const char *p = strstr(buf, "\ncpu"); p != NULL;
         p = strstr(p + 1, "\ncpu")) {
        cpus += p[4] >= '0' && p[4] <= '9';
    }
    rv = 0;
    rv = rv ? rv
            : agent_readings_add(out, AGENT_SHARE, (double)(f[0] + f[1]),
                                 (double)total, "cpu.user");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_SHARE, (double)(f[2] + f[5] + f[6]),
                                 (double)total, "cpu.system");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_SHARE, (double)f[4], (double)total,
                                 "cpu.iowait");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_SHARE, (double)f[7], (double)total,
                                 "cpu.steal");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_SHARE, (double)f[3], (double)total,
                                 "cpu.idle");
    rv =
        rv ? rv
           : agent_readings_add(out, AGENT_GAUGE, (double)cpus, 0, "cpu.count");
    if (rv == 0 && line_u64(buf, "ctxt", &v)) {
        rv = agent_readings_add(out, AGENT_COUNTER, (double)v, 0,
                                "cpu.context_switches");
    }
    if (rv == 0 && line_u64(buf, "procs_running", &v)) {
        rv = agent_readings_add(out, AGENT_GAUGE, (double)v, 0,
                                "cpu.procs_running");
    }
    if (rv == 0 && line_u64(buf, "procs_blocked", &v)) {
        rv = agent_readings_add(out, AGENT_GAUGE, (double)v, 0,
                                "cpu.procs_blocked");
    }
    free(buf);
    return rv;
}

/* "Key:   N kB" of /proc/meminfo, in bytes. */
static bool meminfo_get(const char *text, const char *key, double *bytes)
{
    size_t klen = strlen(key);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            char *end;
            unsigned long long v = strtoull(p + klen + 1, &end, 10);
            if (end == p + klen + 1) {
                return false;
            }
            *bytes = (double)v * (strncmp(end, " kB", 3) == 0 ? 1024.0 : 1.0);
            return true;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return false;
}

int agent__mem_read(struct agent *a, struct agent_readings *out)
{
    double total;
    double avail;
    double free_b = 0;
    double buffers = 0;
    double cached = 0;
    double swap_total = 0;
    double swap_free = 0;
    int rv;
    char *buf = agent__slurp(a, "/proc/meminfo", MEMINFO_SIZE, &rv);

    if (buf == NULL) {
        return rv;
    }
    if (!meminfo_get(buf, "MemTotal", &total) || total <= 0) {
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "/proc/meminfo: no MemTotal");
        free(buf);
        return AUGUR_EMALFORMED;
    }
    if (!meminfo_get(buf, "MemAvailable", &avail)) {
        /* Kernels before 3.14: the old estimate. */
        (void)meminfo_get(buf, "MemFree", &free_b);
        (void)meminfo_get(buf, "Buffers", &buffers);
        (void)meminfo_get(buf, "Cached", &cached);
        avail = free_b + buffers + cached;
    }
    (void)meminfo_get(buf, "SwapTotal", &swap_total);
    (void)meminfo_get(buf, "SwapFree", &swap_free);
    free(buf);
    rv = agent_readings_add(out, AGENT_GAUGE, total, 0, "mem.total_bytes");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_GAUGE, avail, 0,
                                 "mem.available_bytes");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_GAUGE, 1.0 - avail / total, 0,
                                 "mem.used_fraction");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_GAUGE, swap_total, 0,
                                 "mem.swap_total_bytes");
    rv = rv ? rv
            : agent_readings_add(out, AGENT_GAUGE, swap_total - swap_free, 0,
                                 "mem.swap_used_bytes");
    if (rv == 0 && swap_total > 0) {
        rv = agent_readings_add(out, AGENT_GAUGE,
                                (swap_total - swap_free) / swap_total, 0,
                                "mem.swap_used_fraction");
    }
    return rv;
}
