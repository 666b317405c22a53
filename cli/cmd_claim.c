/* Permission store commands: claim acquire|transfer|release|get|list. */
#include "cli/cli.h"

static const struct cli_column claim_columns[] = {
    {"WORKLOAD", "{workload}"},
    {"HOST", "{host}"},
    {"EPOCH", "{epoch}"},
    {"KIND", "{kind}"},
    {0},
};

static int run_claim_acquire(struct cli *cli, const struct cli_args *a)
{
    const char *host = cli_args_get(a, "host");
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1 + (host != NULL));
    cli_pack_kv_str(&args, "workload", a->pos[0]);
    if (host != NULL) {
        cli_pack_kv_str(&args, "host", host);
    }
    rv = cli_run_write(cli, CLI_OP(CLAIM_ACQUIRE), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_claim_transfer(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    uint64_t epoch;
    int rv;

    rv = cli_value_u64(cli, "--epoch", cli_args_get(a, "epoch"), 0, &epoch);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 3);
    cli_pack_kv_str(&args, "workload", a->pos[0]);
    cli_pack_kv_str(&args, "to", cli_args_get(a, "to"));
    cli_pack_kv_u64(&args, "epoch", epoch);
    rv = cli_run_write(cli, CLI_OP(CLAIM_TRANSFER), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_claim_release(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    uint64_t epoch;
    int rv;

    rv = cli_value_u64(cli, "--epoch", cli_args_get(a, "epoch"), 0, &epoch);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_str(&args, "workload", a->pos[0]);
    cli_pack_kv_u64(&args, "epoch", epoch);
    rv = cli_run_write(cli, CLI_OP(CLAIM_RELEASE), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_claim_get(struct cli *cli, const struct cli_args *a)
{
    return cli_run_get(cli, CLI_OP(CLAIM_GET), "workload", a->pos[0]);
}

static int run_claim_list(struct cli *cli, const struct cli_args *a)
{
    return cli_run_list(cli, CLI_OP(CLAIM_LIST), "host",
                        cli_args_get(a, "host"), claim_columns);
}

static const struct cli_arg workload_arg[] = {
    {"W", "workload id", false},
    {0},
};

static const struct cli_flag acquire_flags[] = {
    {"host", 0, "H", "the host to grant it to (default: the cluster picks)", 0},
    {0},
};

static const struct cli_flag transfer_flags[] = {
    {"to", 0, "H", "the host to move it to", CLI_FLAG_REQUIRED},
    {"epoch", 0, "E", "the epoch the claim must still have", CLI_FLAG_REQUIRED},
    {0},
};

static const struct cli_flag release_flags[] = {
    {"epoch", 0, "E", "the epoch the claim must still have", CLI_FLAG_REQUIRED},
    {0},
};

static const struct cli_flag list_flags[] = {
    {"host", 0, "H",
     "only the claims held by host H, its standby claims too (kind standby)",
     0},
    {0},
};

const struct cli_command cli_claim_commands[] = {
    {"claim acquire", "grant a workload to a host",
     "Without --host the cluster picks, among the active hosts that fit, the\n"
     "one least likely to fail.  Refused with ECONFLICT when the workload is\n"
     "already held.",
     workload_arg, acquire_flags, "augur claim acquire billing",
     run_claim_acquire},
    {"claim transfer", "move a workload to another host (compare-and-set)",
     "Applies only if the claim is still at epoch E; the new claim has epoch\n"
     "E+1.  A stale epoch is refused with ECONFLICT.  Exit status 3 means the\n"
     "transfer may or may not have applied: read the claim back.",
     workload_arg, transfer_flags,
     "augur claim transfer billing --to host-9 --epoch 1", run_claim_transfer},
    {"claim release", "release a workload's claim (compare-and-set)",
     "Applies only if the claim is still at epoch E.  The next claim on the\n"
     "workload continues from epoch E+1.",
     workload_arg, release_flags, "augur claim release billing --epoch 2",
     run_claim_release},
    {"claim get", "show who holds a workload, at which epoch",
     "Refused with ENOTFOUND when the workload is not held.", workload_arg,
     NULL, "augur claim get billing -o json", run_claim_get},
    {"claim list", "list claims", NULL, NULL, list_flags,
     "augur claim list --host host-9", run_claim_list},
    {0},
};
