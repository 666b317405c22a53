/* One-line summaries of writes: the confirmation a write command prints and
 * the SUMMARY column of 'augur events'. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Templates over the write's result object (see cli_template_expand). */
static const struct
{
    enum augur_op op;
    const char *template;
} summaries[] = {
    {AUGUR_OP_RESOURCE_ADD, "resource {id} added (kind {kind})"},
    {AUGUR_OP_RESOURCE_SET_STATE, "resource {id} is now {state}"},
    {AUGUR_OP_WORKLOAD_ADD, "workload {id} added"},
    {AUGUR_OP_EDGE_ADD, "edge {from} -> {to} added ({kind})"},
    {AUGUR_OP_EDGE_REMOVE, "edge {from} -> {to} removed"},
    {AUGUR_OP_CLAIM_ACQUIRE, "claim {workload} -> {host} epoch {epoch}"},
    {AUGUR_OP_CLAIM_TRANSFER, "claim {workload} -> {host} epoch {epoch}"},
    {AUGUR_OP_CLAIM_RELEASE,
     "claim {workload} released from {host} (epoch {epoch})"},
    {AUGUR_OP_SCORE_SET, "score {id} p={score.p} window {score.window}s"},
    {AUGUR_OP_NODE_SET,
     "node {id} at {raft_address} (clients {client_address})"},
    {AUGUR_OP_MEMBER_ADD,
     "member {id} added at {address} as {role}: {configuration}"},
    {AUGUR_OP_MEMBER_REMOVE, "member {id} removed: {configuration}"},
    {AUGUR_OP_LEADER_TRANSFER, "leader is now node {leader}"},
    {AUGUR_OP_MODEL_CHUNK,
     "model {name}: chunk {index} of upload {upload} ({size} bytes)"},
    {AUGUR_OP_MODEL_COMMIT,
     "model {name} version {version} published ({size} bytes, kind "
     "{kind})"},
    {AUGUR_OP_MODEL_ACTIVATE,
     "model {name} version {version} scores kind {kind}"},
    {AUGUR_OP_COHORT_CREATE,
     "cohort {name} created: {workloads} (spread {spread}, at least "
     "{min_available} running)"},
    {AUGUR_OP_COHORT_DELETE, "cohort {name} deleted"},
    {AUGUR_OP_COHORT_ADD, "cohort {name}: {workloads}"},
    {AUGUR_OP_COHORT_REMOVE, "cohort {name}: {workloads}"},
    {AUGUR_OP_POLICY_SET, "policy {key} = {value}"},
    {AUGUR_OP_WORKFLOW_CREATE,
     "workflow {id}: {workload} {from} -> {to} ({strategy}, {reason})"},
    {AUGUR_OP_WORKFLOW_ADVANCE,
     "workflow {id}: {workload} step {step}, {state}"},
    {AUGUR_OP_WORKFLOW_CANCEL, "workflow {id} cancelled: {state}"},
    {AUGUR_OP_WORKFLOW_APPROVE, "workflow {id} approved: {state}"},
    {AUGUR_OP_SHADOW_PROVISION,
     "shadow {workload} on {host} epoch {epoch}: {state}"},
    {AUGUR_OP_SHADOW_UPDATE,
     "shadow {workload} on {host}: {state} (lag {lag_ms} ms)"},
    {AUGUR_OP_SHADOW_RELEASE, "shadow {workload} on {host} released"},
};

void cli_summary(struct cli_buf *b, const char *op, const json_t *data)
{
    enum augur_op id = augur_op_find(op, strlen(op));
    char *s;

    for (size_t i = 0; i < sizeof summaries / sizeof summaries[0]; i++) {
        if (summaries[i].op == id) {
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
