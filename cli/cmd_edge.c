/* Dependency edge commands: edge add|remove|list. */
#include "cli/cli.h"

#define EDGE_KINDS "power|network|storage|workload|cooling"

static const struct cli_column edge_columns[] = {
    {"FROM", "{from}"},
    {"TO", "{to}"},
    {"KIND", "{kind}"},
    {0},
};

static int run_edge_add(struct cli *cli, const struct cli_args *a)
{
    const char *kind = cli_args_get(a, "kind");
    struct cli_pack args;
    int rv;

    rv = cli_value_choice(cli, "--kind", kind, EDGE_KINDS);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 3);
    cli_pack_kv_str(&args, "from", a->pos[0]);
    cli_pack_kv_str(&args, "to", a->pos[1]);
    cli_pack_kv_str(&args, "kind", kind);
    rv = cli_run_write(cli, CLI_OP(EDGE_ADD), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_edge_remove(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_str(&args, "from", a->pos[0]);
    cli_pack_kv_str(&args, "to", a->pos[1]);
    rv = cli_run_write(cli, CLI_OP(EDGE_REMOVE), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_edge_list(struct cli *cli, const struct cli_args *a)
{
    return cli_run_list(cli, CLI_OP(EDGE_LIST), "resource",
                        cli_args_get(a, "resource"), edge_columns);
}

static const struct cli_arg edge_args[] = {
    {"FROM", "the resource that depends", false},
    {"TO", "the resource it depends on", false},
    {0},
};

static const struct cli_flag edge_add_flags[] = {
    {"kind", 0, EDGE_KINDS, "what FROM takes from TO", CLI_FLAG_REQUIRED},
    {0},
};

static const struct cli_flag edge_list_flags[] = {
    {"resource", 0, "ID", "only the edges with ID at either end", 0},
    {0},
};

const struct cli_command cli_edge_commands[] = {
    {"edge add", "record that FROM depends on TO",
     "An edge that would close a cycle is refused (ECYCLE).", edge_args,
     edge_add_flags, "augur edge add host-9 psu-a --kind power", run_edge_add},
    {"edge remove", "forget that FROM depends on TO", NULL, edge_args, NULL,
     "augur edge remove host-9 psu-a", run_edge_remove},
    {"edge list", "list dependency edges", NULL, NULL, edge_list_flags,
     "augur edge list --resource host-9", run_edge_list},
    {0},
};
