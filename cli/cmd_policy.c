/* Policy commands: policy get|set. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static const struct cli_column policy_columns[] = {
    {"KEY", "{key}"},
    {"VALUE", "{value}"},
    {"DEFAULT", "{default}"},
    {0},
};

static int run_policy_get(struct cli *cli, const struct cli_args *a)
{
    json_t *result;
    int rv;

    (void)a;
    rv = cli_call(cli, CLI_OP(POLICY_GET), NULL, true, &result);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli->json
             ? cli_json_print(result)
             : cli_table_print(policy_columns, json_object_get(result, "keys"));
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the result");
}

static int run_policy_set(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    json_t *result;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_str(&args, "key", a->pos[0]);
    cli_pack_kv_str(&args, "value", a->pos[1]);
    rv = cli_call(cli, CLI_OP(POLICY_SET), &args, false, &result);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = cli_json_print(result);
    } else {
        struct cli_buf b;
        char *text;

        cli_buf_init(&b);
        cli_template_expand(&b, "policy {key} = {value}", result);
        text = cli_buf_take(&b);
        rv = text != NULL ? 0 : AUGUR_ENOMEM;
        if (text != NULL) {
            puts(text);
        }
        free(text);
    }
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the result");
}

static const struct cli_arg set_args[] = {
    {"KEY", "a policy key (augur policy get lists them)", false},
    {"VALUE", "its value: a probability, an integer, or true/false", false},
    {0},
};

const struct cli_command cli_policy_commands[] = {
    {"policy get",
     "show every policy key, its value and whether it is the "
     "default",
     "The orchestrator's thresholds, limits and budgets, replicated.  See\n"
     "docs/ORCHESTRATOR.md \"Policy\" for what each key means.",
     NULL, NULL, "augur policy get -o json", run_policy_get},
    {"policy set", "set one policy key",
     "Each value is checked for its key: probabilities in [0, 1],\n"
     "provision_threshold at most migrate_threshold, hysteresis below\n"
     "migrate_threshold, positive integers where 0 makes no sense, automatic\n"
     "true or false.  An unknown key is refused with EINVAL.",
     set_args, NULL, "augur policy set migrate_threshold 0.85", run_policy_set},
    {0},
};
