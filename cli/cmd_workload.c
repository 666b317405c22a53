/* Workload commands: workload add|get|list. */
#include "cli/cli.h"

static const struct cli_column workload_columns[] = {
    {"ID", "{id}"},
    {"CPU", "{demand.cpu}"},
    {"MEM_MB", "{demand.mem_mb}"},
    {"PRIORITY", "{priority}"},
    {"STRATEGY", "{strategy}"},
    {"HOST", "{claim.host}"},
    {"EPOCH", "{claim.epoch}"},
    {0},
};

static int run_workload_add(struct cli *cli, const struct cli_args *a)
{
    const char *demand = cli_args_get(a, "demand");
    const char *priority = cli_args_get(a, "priority");
    const char *strategy = cli_args_get(a, "strategy");
    struct cli_capacity dem;
    struct cli_pack args;
    int64_t prio = 0;
    int rv = CLI_EXIT_OK;

    if (demand != NULL) {
        rv = cli_value_capacity(cli, "--demand", demand, &dem);
    }
    if (rv == CLI_EXIT_OK && priority != NULL) {
        rv = cli_value_i64(cli, "--priority", priority, &prio);
    }
    if (rv == CLI_EXIT_OK && strategy != NULL) {
        rv = cli_value_choice(cli, "--strategy", strategy,
                              "live|standby|blue-green");
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(
        &args, 1 + (demand != NULL) + (priority != NULL) + (strategy != NULL));
    cli_pack_kv_str(&args, "id", a->pos[0]);
    if (demand != NULL) {
        cli_pack_kv_capacity(&args, "demand", &dem);
    }
    if (priority != NULL) {
        cli_pack_kv_i64(&args, "priority", prio);
    }
    if (strategy != NULL) {
        cli_pack_kv_str(&args, "strategy", strategy);
    }
    rv = cli_run_write(cli, CLI_OP(WORKLOAD_ADD), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_workload_get(struct cli *cli, const struct cli_args *a)
{
    return cli_run_get(cli, CLI_OP(WORKLOAD_GET), "id", a->pos[0]);
}

static int run_workload_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(WORKLOAD_LIST), NULL, NULL,
                        workload_columns);
}

static const struct cli_arg id_arg[] = {
    {"ID", "workload id: 1 to 127 bytes of [A-Za-z0-9._:@-]", false},
    {0},
};

static const struct cli_flag workload_add_flags[] = {
    {"demand", 0, "cpu=N,mem_mb=N",
     "what it needs from its host; either key may be left out (0)", 0},
    {"priority", 0, "N", "its priority, a signed integer (default 0)", 0},
    {"strategy", 0, "live|standby|blue-green",
     "how it migrates: live (default), standby (activate a shadow) or "
     "blue-green (the old instance stays warm a while)",
     0},
    {0},
};

const struct cli_command cli_workload_commands[] = {
    {"workload add", "register a workload", NULL, id_arg, workload_add_flags,
     "augur workload add billing --demand cpu=2,mem_mb=4096 --priority 10 "
     "--strategy blue-green",
     run_workload_add},
    {"workload get", "show one workload and its claim", NULL, id_arg, NULL,
     "augur workload get billing", run_workload_get},
    {"workload list", "list every workload and where it runs", NULL, NULL, NULL,
     "augur workload list -o json", run_workload_list},
    {0},
};
