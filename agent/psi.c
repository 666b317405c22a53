/* The pressure stall collector: /proc/pressure/cpu, memory and io. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

#define PSI_SIZE 1024

/* One "some|full avg10=A avg60=B avg300=C total=T" line into readings. */
static int psi_line(const char *res,
                    const char *line,
                    struct agent_readings *out)
{
    char kind[8];
    double avg10;
    double avg60;
    double avg300;
    unsigned long long total;
    int rv;

    if (sscanf(line, "%7s avg10=%lf avg60=%lf avg300=%lf total=%llu", kind,
               &avg10, &avg60, &avg300, &total) != 5 ||
        (strcmp(kind, "some") != 0 && strcmp(kind, "full") != 0)) {
        return AUGUR_EMALFORMED;
    }
    rv = agent_readings_add(out, AGENT_GAUGE, avg10, 0, "psi.%s.%s_avg10", res,
                            kind);
    rv = rv ? rv
            : agent_readings_add(out, AGENT_GAUGE, avg60, 0, "psi.%s.%s_avg60",
                                 res, kind);
    rv = rv ? rv
            : agent_readings_add(out, AGENT_GAUGE, avg300, 0,
                                 "psi.%s.%s_avg300", res, kind);
    rv = rv ? rv
            : agent_readings_add(out, AGENT_COUNTER, (double)total, 0,
                                 "psi.%s.%s_total_us", res, kind);
    return rv;
}

int agent__psi_read(struct agent *a, struct agent_readings *out)
{
    static const char *const res[] = {"cpu", "memory", "io"};
    unsigned found = 0;

    for (int i = 0; i < 3; i++) {
        char rel[64];
        char *buf;
        int rv;

        snprintf(rel, sizeof rel, "/proc/pressure/%s", res[i]);
        buf = agent__slurp(a, rel, PSI_SIZE, &rv);
        if (buf == NULL && rv == AUGUR_ENOTFOUND) {
            continue;
        }
        if (buf == NULL) {
            return rv;
        }
        found++;
        for (char *line = buf; line != NULL && *line != '\0';) {
            char *nl = strchr(line, '\n');
            if (nl != NULL) {
                *nl = '\0';
            }
            rv = psi_line(res[i], line, out);
            if (rv == AUGUR_EMALFORMED) {
                snprintf(a->errmsg, AGENT_ERRMSG_SIZE,
                         "%s: a line that is not some/full", rel);
            }
            if (rv != 0) {
                free(buf);
                return rv;
            }
            line = nl != NULL ? nl + 1 : NULL;
        }
        free(buf);
    }
    if (found == 0) {
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE,
                 "no /proc/pressure (kernel without PSI, or psi=0)");
        return AUGUR_ENOTFOUND;
    }
    return 0;
}
