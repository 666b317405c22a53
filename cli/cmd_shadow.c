/* Shadow commands: shadow list (standby claims). */
#include "cli/cli.h"

static const struct cli_column shadow_columns[] = {
    {"WORKLOAD", "{workload}"},
    {"HOST", "{host}"},
    {"EPOCH", "{epoch}"},
    {"STATE", "{state}"},
    {"LAG_MS", "{lag_ms}"},
    {"DRIFT", "{drift}"},
    {"CPU", "{demand.cpu}"},
    {"MEM_MB", "{demand.mem_mb}"},
    {0},
};

static int run_shadow_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(SHADOW_LIST), NULL, NULL, shadow_columns);
}

const struct cli_command cli_shadow_commands[] = {
    {"shadow list", "list standby claims (shadows) and their state",
     "A shadow holds its workload's demand on another host, within the\n"
     "shadow budget, so that a failover there needs no new room.  Its state\n"
     "(provisioning, warm, active), replication lag and configuration drift\n"
     "are what the actuator last reported.",
     NULL, NULL, "augur shadow list -o json", run_shadow_list},
    {0},
};
