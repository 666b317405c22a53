/* augur, the operator CLI: global flags, the command table and dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"

#define DEFAULT_ENDPOINTS "127.0.0.1:7001"
#define DEFAULT_TIMEOUT_S 30
#define TIMEOUT_MAX_S 2000000 /* in ms it still fits an int */

const struct cli_flag cli_global_flags[] = {
    {"endpoints", 0, "HOST:PORT,...",
     "nodes to reach (default $AUGUR_ENDPOINTS, or " DEFAULT_ENDPOINTS ")", 0},
    {"key", 0, "FILE", "this client's private key (default $AUGUR_KEY)", 0},
    {"cluster-key", 0, "FILE",
     "the cluster's public key, which the server must prove it holds "
     "(default $AUGUR_CLUSTER_KEY)",
     0},
    {"output", 'o', "table|json", "output format (default table)", 0},
    {"timeout", 0, "SECONDS",
     "give up on a call after this long (default 30; at once when every "
     "endpoint refuses)",
     0},
    {"stale", 0, NULL, "serve reads from the node reached (no Raft barrier)",
     0},
    {"help", 'h', NULL, "print help; 'augur COMMAND --help' for a command", 0},
    {"version", 0, NULL, "print the version", 0},
    {0},
};

const struct cli_group cli_groups[] = {
    {"status", "this node's view of the cluster", cli_status_commands},
    {"member", "the cluster's members", cli_member_commands},
    {"leader", "Raft leadership", cli_leader_commands},
    {"resource", "resources: hosts, VMs, PSUs, switches, ...",
     cli_resource_commands},
    {"workload", "workloads and their demands", cli_workload_commands},
    {"edge", "dependency edges between resources", cli_edge_commands},
    {"claim", "the permission store: which host runs which workload",
     cli_claim_commands},
    {"migrate", "move a workload through a migration workflow",
     cli_migrate_commands},
    {"workflow", "migration workflows: list, get, cancel, approve",
     cli_workflow_commands},
    {"shadow", "standby claims that shadow workloads on other hosts",
     cli_shadow_commands},
    {"score", "failure probabilities of resources", cli_score_commands},
    {"events", "the change log", cli_events_commands},
    {"keygen", "make a key pair", cli_keygen_commands},
    {"node", "node identities: certify a node key, revoke one",
     cli_node_commands},
    {"principal", "who may use the cluster, and in which role",
     cli_principal_commands},
    {"token", "bearer tokens for the HTTP API: create, verify",
     cli_token_commands},
    {"model",
     "failure models: train, predict, eval offline; publish, list, "
     "activate in the store",
     cli_model_commands},
    {"predict", "the leader's live failure risk of a resource",
     cli_predict_commands},
    {"telemetry", "the leader's latest samples and lease of a resource",
     cli_telemetry_commands},
    {"cohort", "workloads that must stay available together: resilience",
     cli_cohort_commands},
    {"policy", "the orchestrator's thresholds, limits and budgets",
     cli_policy_commands},
    {0},
};

/* libaugur logs only bugs at "error"; AUGUR_LOG_LEVEL=debug shows its
 * connections and retries. */
static enum log_level log_level_from_env(void)
{
    const char *env = getenv("AUGUR_LOG_LEVEL");
    int level = env != NULL ? log_level_parse(env) : -1;

    return level >= 0 ? (enum log_level)level : LOG_LEVEL_ERROR;
}

/* Where the command words are on the line, and whether help or the
 * version was asked for. */
struct line_scan
{
    int words[2];
    unsigned n_words;
    bool help;
    bool version;
};

/* Find the command words: the first tokens that are neither global flags
 * nor their values.  They end at "--" or at the first other flag, which
 * belongs to the command. */
static void line_scan(int argc, char **argv, struct line_scan *s)
{
    bool words_done = false;
    bool needs_value;

    memset(s, 0, sizeof *s);
    for (int i = 1; i < argc; i++) {
        const char *tok = argv[i];
        if (strcmp(tok, "--") == 0) {
            break;
        }
        s->help |= strcmp(tok, "-h") == 0 || strcmp(tok, "--help") == 0;
        s->version |= strcmp(tok, "--version") == 0;
        if (tok[0] == '-' && tok[1] != '\0') {
            if (cli_flag_matches(cli_global_flags, tok, &needs_value)) {
                i += needs_value;
            } else {
                words_done = true;
            }
        } else if (!words_done && s->n_words < 2) {
            s->words[s->n_words++] = i;
        }
    }
}

static const struct cli_group *group_find(const char *name)
{
    for (const struct cli_group *g = cli_groups; g->name != NULL; g++) {
        if (strcmp(g->name, name) == 0) {
            return g;
        }
    }
    return NULL;
}

/* A group of one command named like the group (status, events). */
static bool group_is_command(const struct cli_group *g)
{
    return strcmp(g->commands[0].words, g->name) == 0;
}

static const struct cli_command *command_find(const struct cli_group *g,
                                              const char *sub)
{
    size_t skip = strlen(g->name) + 1;

    for (const struct cli_command *c = g->commands; c->words != NULL; c++) {
        if (strcmp(c->words + skip, sub) == 0) {
            return c;
        }
    }
    return NULL;
}

/* The subcommands of @g, for a message: "list, add, remove". */
static void group_subcommands(const struct cli_group *g, char *out, size_t size)
{
    size_t skip = strlen(g->name) + 1;
    size_t len = 0;

    out[0] = '\0';
    for (const struct cli_command *c = g->commands; c->words != NULL; c++) {
        int n = snprintf(out + len, size - len, "%s%s", len > 0 ? ", " : "",
                         c->words + skip);
        if (n < 0 || (size_t)n >= size - len) {
            return;
        }
        len += (size_t)n;
    }
}

/* Find the command the words name, or print help or a usage error.
 * Returns -1 with *@cmd set to go on, or the exit status. */
static int resolve(struct cli *cli,
                   char **argv,
                   struct line_scan *s,
                   const struct cli_command **cmd)
{
    const struct cli_group *g;
    char subs[256];

    if (s->n_words == 0) {
        if (s->help) {
            cli_help_top();
            return CLI_EXIT_OK;
        }
        return cli_usage(cli, "missing command");
    }
    g = group_find(argv[s->words[0]]);
    if (g == NULL) {
        return cli_usage(cli, "unknown command '%s'", argv[s->words[0]]);
    }
    cli->words = g->name;
    if (group_is_command(g)) {
        *cmd = &g->commands[0];
        s->n_words = 1;
    } else if (s->n_words < 2) {
        if (s->help) {
            cli_help_group(g);
            return CLI_EXIT_OK;
        }
        group_subcommands(g, subs, sizeof subs);
        return cli_usage(cli, "missing subcommand (%s)", subs);
    } else if ((*cmd = command_find(g, argv[s->words[1]])) == NULL) {
        return cli_usage(cli, "unknown subcommand '%s'", argv[s->words[1]]);
    }
    cli->words = (*cmd)->words;
    if (s->help) {
        cli_help_command(*cmd);
        return CLI_EXIT_OK;
    }
    return -1;
}

/* A global flag's value even where the command has a flag of that name. */
static const char *global_get(const struct cli_args *a, const char *name)
{
    for (int i = 0; a->spec[0][i].name != NULL; i++) {
        if (strcmp(a->spec[0][i].name, name) == 0) {
            const struct cli_flag_values *fv = &a->values[0][i];
            return fv->n > 0 ? fv->v[fv->n - 1] : NULL;
        }
    }
    return NULL;
}

/* Take the global flags into @cli. */
static int apply_globals(struct cli *cli, const struct cli_args *a)
{
    const char *endpoints = cli_args_get(a, "endpoints");
    const char *env = getenv("AUGUR_ENDPOINTS");
    const char *output = cli_args_get(a, "output");
    const char *timeout = cli_args_get(a, "timeout");
    uint64_t t = DEFAULT_TIMEOUT_S;
    int rv;

    if (endpoints != NULL) {
        cli->endpoints = endpoints;
        cli->endpoints_from = "--endpoints";
    } else if (env != NULL && env[0] != '\0') {
        cli->endpoints = env;
        cli->endpoints_from = "AUGUR_ENDPOINTS";
    }
    if (output != NULL) {
        /* "augur model predict" also writes CSV. */
        rv = cli_value_choice(cli, "--output", output,
                              strncmp(cli->words, "model ", 6) == 0
                                  ? "table|json|csv"
                                  : "table|json");
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        cli->json = strcmp(output, "json") == 0;
    }
    if (timeout != NULL) {
        rv = cli_value_u64(cli, "--timeout", timeout, 1, &t);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (t > TIMEOUT_MAX_S) {
            return cli_usage(cli, "invalid --timeout '%s': at most %d seconds",
                             timeout, TIMEOUT_MAX_S);
        }
    }
    cli->timeout_s = (unsigned)t;
    cli->read_flags = cli_args_get(a, "stale") != NULL ? AUGUR_STALE : 0;
    cli->key_file = global_get(a, "key");
    cli->cluster_key_file = global_get(a, "cluster-key");
    return CLI_EXIT_OK;
}

/* Parse the line for @cmd, connect and run it. */
static int run(struct cli *cli,
               const struct cli_command *cmd,
               int argc,
               char **argv,
               const struct line_scan *s)
{
    char err[CLI_ERR_SIZE];
    struct cli_args args;
    int rv;

    if (cli_args_parse(&args, cli_global_flags, cmd, argc, argv, s->words,
                       s->n_words, err) != 0) {
        return cli_usage(cli, "%s", err);
    }
    rv = apply_globals(cli, &args);
    /* keygen and node certify need no cluster, nor the keys they may be
     * making. */
    if (rv == CLI_EXIT_OK && strcmp(cmd->words, "keygen") != 0 &&
        strcmp(cmd->words, "node certify") != 0) {
        rv = cli_open(cli);
    }
    if (rv == CLI_EXIT_OK) {
        rv = cmd->run(cli, &args);
    }
    cli_close(cli);
    return rv;
}

int main(int argc, char **argv)
{
    struct cli cli = {
        .endpoints = DEFAULT_ENDPOINTS,
        .endpoints_from = "the default",
        .timeout_s = DEFAULT_TIMEOUT_S,
    };
    const struct cli_command *cmd = NULL;
    struct line_scan s;
    int rv;

    log_setup(log_level_from_env(), "augur");
    line_scan(argc, argv, &s);
    if (s.version) {
        printf("augur %s\n", AUGUR_VERSION);
        rv = CLI_EXIT_OK;
    } else {
        rv = resolve(&cli, argv, &s, &cmd);
        if (rv < 0) {
            rv = run(&cli, cmd, argc, argv, &s);
        }
    }
    if ((fflush(stdout) != 0 || ferror(stdout)) && rv == CLI_EXIT_OK) {
        rv = cli_fail(&cli, AUGUR_EIO, "cannot write to standard output");
    }
    return rv;
}
