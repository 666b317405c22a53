/* The network collector: /proc/net/dev, every interface but loopback. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

#define NETDEV_SIZE (256 * 1024)

int agent__net_read(struct agent *a, struct agent_readings *out)
{
    int rv;
    char *buf = agent__slurp(a, "/proc/net/dev", NETDEV_SIZE, &rv);

    if (buf == NULL) {
        return rv;
    }
    for (char *line = buf; line != NULL && *line != '\0' && rv == 0;) {
        char *nl = strchr(line, '\n');
        char *colon;
        uint64_t f[16];
        char name[64];

        if (nl != NULL) {
            *nl = '\0';
        }
        colon = strchr(line, ':');
        /* The two header lines have '|' and no ':'. */
        if (colon != NULL &&
            sscanf(colon + 1,
                   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64,
                   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7],
                   &f[8], &f[9], &f[10], &f[11]) == 12) {
            *colon = '\0';
            while (*line == ' ') {
                line++;
            }
            snprintf(name, sizeof name, "%s", line);
            agent_name_clean(name);
            if (strcmp(name, "lo") != 0 && name[0] != '\0') {
                static const char *const what[] = {
                    "rx_bytes", "rx_packets", "rx_errors", "rx_drops",
                    "tx_bytes", "tx_packets", "tx_errors", "tx_drops"};
                /* receive: bytes packets errs drop (fields 0-3); transmit
                 * starts at field 8 */
                for (int i = 0; i < 8 && rv == 0; i++) {
                    rv = agent_readings_add(out, AGENT_COUNTER,
                                            (double)f[i < 4 ? i : i + 4], 0,
                                            "net.%s.%s", name, what[i]);
                }
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(buf);
    return rv;
}
