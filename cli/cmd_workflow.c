/* Migration commands: migrate, workflow list|get|cancel|approve. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static const struct cli_column workflow_columns[] = {
    {"ID", "{id}"},
    {"WORKLOAD", "{workload}"},
    {"FROM", "{from}"},
    {"TO", "{to}"},
    {"STRATEGY", "{strategy}"},
    {"REASON", "{reason}"},
    {"STATE", "{state}"},
    {"STEP", "{step}"},
    {"APPROVED", "{approved}"},
    {0},
};

static const struct cli_column workflow_fields[] = {
    {"id", "{id}"},
    {"workload", "{workload}"},
    {"from", "{from}"},
    {"to", "{to}"},
    {"strategy", "{strategy}"},
    {"reason", "{reason}"},
    {"state", "{state}"},
    {"step", "{step}"},
    {"epoch", "{epoch} (actuators now carry {cur_epoch})"},
    {"approved", "{approved}"},
    {"created_at", "{created_at}"},
    {"updated_at", "{updated_at}"},
    {"error", "{error}"},
    {0},
};

static const struct cli_column step_columns[] = {
    {"STEP", "{name}"},
    {"STATE", "{state}"},
    {"ATTEMPT", "{attempt}"},
    {"STARTED_AT", "{started_at}"},
    {"ENDED_AT", "{ended_at}"},
    {"DETAIL", "{detail}"},
    {0},
};

/* Print a workflow object: JSON, or its fields then its steps' table. */
static int workflow_print(struct cli *cli, const json_t *w)
{
    int rv;

    if (cli->json) {
        rv = cli_json_print(w);
    } else {
        rv = cli_fields_print(workflow_fields, w);
        if (rv == 0) {
            putchar('\n');
            rv = cli_table_print(step_columns, json_object_get(w, "steps"));
        }
    }
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the result");
}

static int run_migrate(struct cli *cli, const struct cli_args *a)
{
    const char *to = cli_args_get(a, "to");
    const char *strategy = cli_args_get(a, "strategy");
    struct cli_pack args;
    json_t *result;
    int rv = CLI_EXIT_OK;

    if (strategy != NULL) {
        rv = cli_value_choice(cli, "--strategy", strategy,
                              "live|standby|blue-green");
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 1 + (to != NULL) + (strategy != NULL));
    cli_pack_kv_str(&args, "workload", a->pos[0]);
    if (to != NULL) {
        cli_pack_kv_str(&args, "to", to);
    }
    if (strategy != NULL) {
        cli_pack_kv_str(&args, "strategy", strategy);
    }
    rv = cli_call(cli, CLI_OP(WORKFLOW_CREATE), &args, false, &result);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = workflow_print(cli, result);
    } else {
        /* The id alone, for scripts: augur workflow get $(augur migrate W). */
        printf("%" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(result, "id")));
    }
    json_decref(result);
    return rv;
}

/* Pack {"id": ID} from the positional argument. */
static int id_args(struct cli *cli, const char *s, struct cli_pack *args)
{
    uint64_t id;
    int rv = cli_value_u64(cli, "ID", s, 1, &id);

    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(args);
    cli_pack_map(args, 1);
    cli_pack_kv_u64(args, "id", id);
    return CLI_EXIT_OK;
}

static int run_workflow_get(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    json_t *result;
    int rv = id_args(cli, a->pos[0], &args);

    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli_call(cli, CLI_OP(WORKFLOW_GET), &args, true, &result);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = workflow_print(cli, result);
    json_decref(result);
    return rv;
}

static int run_workflow_write(struct cli *cli,
                              const struct cli_args *a,
                              const char *op)
{
    struct cli_pack args;
    int rv = id_args(cli, a->pos[0], &args);

    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli_run_write(cli, op, &args);
    cli_pack_close(&args);
    return rv;
}

static int run_workflow_cancel(struct cli *cli, const struct cli_args *a)
{
    return run_workflow_write(cli, a, CLI_OP(WORKFLOW_CANCEL));
}

static int run_workflow_approve(struct cli *cli, const struct cli_args *a)
{
    return run_workflow_write(cli, a, CLI_OP(WORKFLOW_APPROVE));
}

static int run_workflow_list(struct cli *cli, const struct cli_args *a)
{
    bool active = cli_args_get(a, "active") != NULL;

    return cli_run_list(cli, CLI_OP(WORKFLOW_LIST), "state",
                        active ? "active" : NULL, workflow_columns);
}

static const struct cli_arg workload_arg[] = {
    {"W", "workload id", false},
    {0},
};

static const struct cli_arg id_arg[] = {
    {"ID", "workflow id (what augur migrate printed)", false},
    {0},
};

static const struct cli_flag migrate_flags[] = {
    {"to", 0, "H",
     "the host to move it to (default: the cluster picks another; with "
     "--strategy standby, its standby's host)",
     0},
    {"strategy", 0, "live|standby|blue-green",
     "how to move it (default: the workload's strategy)", 0},
    {0},
};

static const struct cli_flag list_flags[] = {
    {"active", 0, NULL, "only the workflows in flight (pending, running)", 0},
    {0},
};

const struct cli_command cli_migrate_commands[] = {
    {"migrate", "move a workload to another host through a workflow",
     "Starts a migration workflow and prints its id; the leader's\n"
     "orchestrator then runs its steps (prepare, transfer of the claim,\n"
     "activate, release; by strategy).  A workload moves through one\n"
     "workflow at a time: a second is refused with EBUSY, naming the first.\n"
     "-o json prints the whole workflow.",
     workload_arg, migrate_flags, "augur migrate billing --to host-9",
     run_migrate},
    {0},
};

const struct cli_command cli_workflow_commands[] = {
    {"workflow list", "list migration workflows",
     "The newest 10000 finished workflows are kept, and every one in flight.",
     NULL, list_flags, "augur workflow list --active", run_workflow_list},
    {"workflow get", "show a workflow and its steps", NULL, id_arg, NULL,
     "augur workflow get 42 -o json", run_workflow_get},
    {"workflow cancel", "cancel a workflow before its claim transfer",
     "What was prepared on the target is undone first.  After the transfer\n"
     "it is refused with ECONFLICT: migrate the workload back instead.",
     id_arg, NULL, "augur workflow cancel 42", run_workflow_cancel},
    {"workflow approve", "let a proposed workflow run",
     "Proactive and rebalance workflows wait for approval when the policy\n"
     "'automatic' is false.",
     id_arg, NULL, "augur workflow approve 42", run_workflow_approve},
    {0},
};
