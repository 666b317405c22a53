/* Resource commands: resource add|get|list|set-state, and score set. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define RESOURCE_STATES \
    "active|standby|degraded|draining|failed|quarantined|unreachable"

static const struct cli_column resource_columns[] = {
    {"ID", "{id}"},
    {"KIND", "{kind}"},
    {"STATE", "{state}"},
    {"CPU(used/cap)", "{used.cpu}/{capacity.cpu}"},
    {"MEM_MB(used/cap)", "{used.mem_mb}/{capacity.mem_mb}"},
    {"P_FAIL", "{score.p}"},
    {"LABELS", "{labels}"},
    {0},
};

/* Check the --label values: KEY=VALUE, each key once. */
static int labels_check(struct cli *cli, const struct cli_flag_values *labels)
{
    const char *eq[CLI_REPEAT_MAX];
    int rv;

    for (unsigned i = 0; i < labels->n; i++) {
        rv = cli_value_label(cli, "--label", labels->v[i], &eq[i]);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        for (unsigned j = 0; j < i; j++) {
            size_t len = (size_t)(eq[i] - labels->v[i]);
            if ((size_t)(eq[j] - labels->v[j]) == len &&
                memcmp(labels->v[i], labels->v[j], len) == 0) {
                return cli_usage(cli, "--label '%.*s' given twice", (int)len,
                                 labels->v[i]);
            }
        }
    }
    return CLI_EXIT_OK;
}

static void pack_labels(struct cli_pack *p, const struct cli_flag_values *l)
{
    cli_pack_str(p, "labels", strlen("labels"));
    cli_pack_map(p, l->n);
    for (unsigned i = 0; i < l->n; i++) {
        const char *eq = strchr(l->v[i], '=');
        cli_pack_str(p, l->v[i], (size_t)(eq - l->v[i]));
        cli_pack_str(p, eq + 1, strlen(eq + 1));
    }
}

static int run_resource_add(struct cli *cli, const struct cli_args *a)
{
    const char *capacity = cli_args_get(a, "capacity");
    const struct cli_flag_values *labels = cli_args_all(a, "label");
    struct cli_capacity cap;
    struct cli_pack args;
    int rv = CLI_EXIT_OK;

    if (capacity != NULL) {
        rv = cli_value_capacity(cli, "--capacity", capacity, &cap);
    }
    if (rv == CLI_EXIT_OK) {
        rv = labels_check(cli, labels);
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 2 + (capacity != NULL) + (labels->n > 0));
    cli_pack_kv_str(&args, "id", a->pos[0]);
    cli_pack_kv_str(&args, "kind", cli_args_get(a, "kind"));
    if (capacity != NULL) {
        cli_pack_kv_capacity(&args, "capacity", &cap);
    }
    if (labels->n > 0) {
        pack_labels(&args, labels);
    }
    rv = cli_run_write(cli, CLI_OP(RESOURCE_ADD), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_resource_get(struct cli *cli, const struct cli_args *a)
{
    return cli_run_get(cli, CLI_OP(RESOURCE_GET), "id", a->pos[0]);
}

static int run_resource_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(RESOURCE_LIST), NULL, NULL,
                        resource_columns);
}

static int run_resource_set_state(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    int rv;

    rv = cli_value_choice(cli, "STATE", a->pos[1], RESOURCE_STATES);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_str(&args, "id", a->pos[0]);
    cli_pack_kv_str(&args, "state", a->pos[1]);
    rv = cli_run_write(cli, CLI_OP(RESOURCE_SET_STATE), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_score_set(struct cli *cli, const struct cli_args *a)
{
    const char *window = cli_args_get(a, "window");
    struct cli_pack args;
    uint64_t window_s = 0;
    double p;
    int rv;

    rv = cli_value_prob(cli, "P", a->pos[1], &p);
    if (rv == CLI_EXIT_OK && window != NULL) {
        rv = cli_value_u64(cli, "--window", window, 1, &window_s);
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 2 + (window != NULL));
    cli_pack_kv_str(&args, "id", a->pos[0]);
    cli_pack_kv_double(&args, "p", p);
    if (window != NULL) {
        cli_pack_kv_u64(&args, "window", window_s);
    }
    rv = cli_run_write(cli, CLI_OP(SCORE_SET), &args);
    cli_pack_close(&args);
    return rv;
}

static const struct cli_arg id_arg[] = {
    {"ID", "resource id: 1 to 127 bytes of [A-Za-z0-9._:@-]", false},
    {0},
};

static const struct cli_arg set_state_args[] = {
    {"ID", "resource id", false},
    {"STATE",
     "active, standby, degraded, draining, failed, quarantined or unreachable "
     "(normally the leader's, from host leases)",
     false},
    {0},
};

static const struct cli_arg score_args[] = {
    {"R", "resource id", false},
    {"P", "its probability of failure within the window, from 0 to 1", false},
    {0},
};

static const struct cli_flag resource_add_flags[] = {
    {"kind", 0, "KIND",
     "host, vm, container (these are granted claims), psu, switch, ...",
     CLI_FLAG_REQUIRED},
    {"capacity", 0, "cpu=N,mem_mb=N",
     "what it offers; either key may be left out (0)", 0},
    {"label", 0, "KEY=VALUE", "a label (at most 16)", CLI_FLAG_REPEAT},
    {0},
};

static const struct cli_flag score_flags[] = {
    {"window", 0, "SECONDS", "the prediction window (default 86400)", 0},
    {0},
};

const struct cli_command cli_resource_commands[] = {
    {"resource add", "register a resource (host, VM, PSU, switch, ...)", NULL,
     id_arg, resource_add_flags,
     "augur resource add host-9 --kind host --capacity cpu=16,mem_mb=65536 "
     "--label rack=r2",
     run_resource_add},
    {"resource get", "show one resource", NULL, id_arg, NULL,
     "augur resource get host-9 -o json", run_resource_get},
    {"resource list", "list every resource", NULL, NULL, NULL,
     "augur resource list", run_resource_list},
    {"resource set-state", "change a resource's state",
     "Only active hosts are granted new claims; a draining host keeps the\n"
     "claims it holds.",
     set_state_args, NULL, "augur resource set-state host-9 draining",
     run_resource_set_state},
    {0},
};

const struct cli_command cli_score_commands[] = {
    {"score set", "set a resource's failure probability",
     "New claims go to the host with the lowest probability among those\n"
     "that fit.",
     score_args, score_flags, "augur score set host-9 0.7 --window 86400",
     run_score_set},
    {0},
};
