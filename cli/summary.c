/* One-line summaries of writes: the confirmation a write command prints and
 * the SUMMARY column of 'augur events'. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Templates over the write's result object (see cli_template_expand). */
static const struct
{
    const char *op;
    const char *template;
} summaries[] = {
    {"resource.add", "resource {id} added (kind {kind})"},
    {"resource.set_state", "resource {id} is now {state}"},
    {"workload.add", "workload {id} added"},
    {"edge.add", "edge {from} -> {to} added ({kind})"},
    {"edge.remove", "edge {from} -> {to} removed"},
    {"claim.acquire", "claim {workload} -> {host} epoch {epoch}"},
    {"claim.transfer", "claim {workload} -> {host} epoch {epoch}"},
    {"claim.release", "claim {workload} released from {host} (epoch {epoch})"},
    {"score.set", "score {id} p={score.p} window {score.window}s"},
    {"node.set", "node {id} at {raft_address} (clients {client_address})"},
    {"member.add", "member {id} added at {address} as {role}: {configuration}"},
    {"member.remove", "member {id} removed: {configuration}"},
    {"leader.transfer", "leader is now node {leader}"},
};

void cli_summary(struct cli_buf *b, const char *op, const json_t *data)
{
    char *s;

    for (size_t i = 0; i < sizeof summaries / sizeof summaries[0]; i++) {
        if (strcmp(summaries[i].op, op) == 0) {
            cli_template_expand(b, summaries[i].template, data);
            return;
        }
    }
    if (data == NULL) {
        cli_buf_puts(b, "-");
        return;
    }
    s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        b->failed = true;
        return;
    }
    cli_buf_puts(b, s);
    free(s);
}
