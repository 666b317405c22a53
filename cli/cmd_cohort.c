/* Cohort commands: cohort create|get|list|delete|add|remove. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_column cohort_columns[] = {
    {"NAME", "{name}"},
    {"WORKLOADS", "{workloads}"},
    {"SPREAD", "{spread}"},
    {"SPREAD_OK", "{spread_ok}"},
    {"RUNNING", "{running}/{min_available}"},
    {"RESILIENCE", "{resilience}"},
    {"MIN", "{min_resilience}"},
    {0},
};

static const struct cli_column cohort_fields[] = {
    {"name", "{name}"},
    {"workloads", "{workloads}"},
    {"spread", "{spread} (kept: {spread_ok})"},
    {"running", "{running} (at least {min_available} needed)"},
    {"resilience", "{resilience} (wanted: at least {min_resilience})"},
    {0},
};

#define SPREADS "none|host|rack|zone|psu|switch"

static const struct cli_column record_fields[] = {
    {"name", "{name}"},
    {"workloads", "{workloads}"},
    {"spread", "{spread}"},
    {"min_available", "{min_available}"},
    {"min_resilience", "{min_resilience}"},
    {0},
};

/* The readable form of a cohort: its fields, then what lowers its
 * resilience most (a write's answer is the record only). */
static int cohort_print(const json_t *c)
{
    const json_t *weak = json_object_get(c, "weakest");
    int rv = cli_fields_print(json_object_get(c, "resilience") != NULL
                                  ? cohort_fields
                                  : record_fields,
                              c);

    if (rv != 0 || !json_is_array(weak)) {
        return rv;
    }
    if (json_array_size(weak) == 0) {
        printf("weakest: -\n");
        return 0;
    }
    printf(
        "weakest (what lowers it most: its p, and the resilience it "
        "would gain at p=0):\n");
    for (size_t i = 0; i < json_array_size(weak); i++) {
        const json_t *w = json_array_get(weak, i);

        /* Four digits: -o json has every one. */
        printf("  %s  p=%.4g  +%.4g\n",
               json_string_value(json_object_get(w, "resource")),
               json_number_value(json_object_get(w, "p")),
               json_number_value(json_object_get(w, "gain")));
    }
    return 0;
}

/* Call @op with @args (NULL: none) and print the cohort it answers. */
static int cohort_call(struct cli *cli,
                       const char *op,
                       const struct cli_pack *args,
                       bool read)
{
    json_t *result;
    int rv = cli_call(cli, op, args, read, &result);

    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli->json ? cli_json_print(result) : cohort_print(result);
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the result");
}

/* "W1,W2,...": its items, each non-empty; at most 64. */
static int workloads_split(struct cli *cli,
                           const char *list,
                           char *buf,
                           size_t size,
                           const char **items,
                           size_t *n)
{
    char *p;

    if (strlen(list) >= size) {
        return cli_usage(cli, "--workloads is too long");
    }
    snprintf(buf, size, "%s", list);
    *n = 0;
    p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (*p == '\0') {
            return cli_usage(cli, "--workloads: an empty workload id in '%s'",
                             list);
        }
        if (*n == 64) {
            return cli_usage(cli, "--workloads: at most 64 workloads");
        }
        items[(*n)++] = p;
        if (comma == NULL) {
            return CLI_EXIT_OK;
        }
        p = comma + 1;
    }
}

static int run_cohort_create(struct cli *cli, const struct cli_args *a)
{
    const char *spread = cli_args_get(a, "spread");
    const char *min_av = cli_args_get(a, "min-available");
    const char *min_res = cli_args_get(a, "min-resilience");
    const char *items[64];
    char buf[64 * 128];
    struct cli_pack args;
    uint64_t n_min = 0;
    double r_min = 0.0;
    size_t n = 0;
    int rv;

    rv = workloads_split(cli, cli_args_get(a, "workloads"), buf, sizeof buf,
                         items, &n);
    if (rv == CLI_EXIT_OK && spread != NULL) {
        rv = cli_value_choice(cli, "--spread", spread, SPREADS);
    }
    if (rv == CLI_EXIT_OK && min_av != NULL) {
        rv = cli_value_u64(cli, "--min-available", min_av, 1, &n_min);
    }
    if (rv == CLI_EXIT_OK && min_res != NULL) {
        rv = cli_value_prob(cli, "--min-resilience", min_res, &r_min);
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args,
                 2 + (spread != NULL) + (min_av != NULL) + (min_res != NULL));
    cli_pack_kv_str(&args, "name", a->pos[0]);
    cli_pack_str(&args, "workloads", strlen("workloads"));
    if (msgpack_pack_array(&args.pk, n) != 0) {
        args.failed = true;
    }
    for (size_t i = 0; i < n; i++) {
        cli_pack_str(&args, items[i], strlen(items[i]));
    }
    if (spread != NULL) {
        cli_pack_kv_str(&args, "spread", spread);
    }
    if (min_av != NULL) {
        cli_pack_kv_u64(&args, "min_available", n_min);
    }
    if (min_res != NULL) {
        cli_pack_kv_double(&args, "min_resilience", r_min);
    }
    rv = cohort_call(cli, CLI_OP(COHORT_CREATE), &args, false);
    cli_pack_close(&args);
    return rv;
}

static int run_cohort_get(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1);
    cli_pack_kv_str(&args, "name", a->pos[0]);
    rv = cohort_call(cli, CLI_OP(COHORT_GET), &args, true);
    cli_pack_close(&args);
    return rv;
}

static int run_cohort_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(COHORT_LIST), NULL, NULL, cohort_columns);
}

static int run_cohort_delete(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    json_t *result;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1);
    cli_pack_kv_str(&args, "name", a->pos[0]);
    rv = cli_call(cli, CLI_OP(COHORT_DELETE), &args, false, &result);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = cli_json_print(result);
    } else {
        printf("cohort %s deleted\n", a->pos[0]);
    }
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the result");
}

static int member_change(struct cli *cli, const struct cli_args *a, bool add)
{
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_str(&args, "name", a->pos[0]);
    cli_pack_kv_str(&args, "workload", a->pos[1]);
    rv = cohort_call(cli, add ? CLI_OP(COHORT_ADD) : CLI_OP(COHORT_REMOVE),
                     &args, false);
    cli_pack_close(&args);
    return rv;
}

static int run_cohort_add(struct cli *cli, const struct cli_args *a)
{
    return member_change(cli, a, true);
}

static int run_cohort_remove(struct cli *cli, const struct cli_args *a)
{
    return member_change(cli, a, false);
}

static const struct cli_arg name_arg[] = {
    {"NAME", "the cohort's name", false},
    {0},
};

static const struct cli_arg member_args[] = {
    {"NAME", "the cohort's name", false},
    {"W", "a workload id", false},
    {0},
};

static const struct cli_flag create_flags[] = {
    {"workloads", 0, "W1,W2,...", "its workloads (1 to 64, comma-separated)",
     CLI_FLAG_REQUIRED},
    {"spread", 0, "DOMAIN",
     "keep running members in distinct failure domains: none, host "
     "(default), rack, zone (the resource's label), psu, switch (the "
     "dependency edges)",
     0},
    {"min-available", 0, "N",
     "members that must keep running (1 to the number of workloads; "
     "default: all of them)",
     0},
    {"min-resilience", 0, "R",
     "the resilience below which the orchestrator acts (default 0.9)", 0},
    {0},
};

const struct cli_command cli_cohort_commands[] = {
    {"cohort create", "group workloads that must stay available together",
     "A workload belongs to one cohort at most (ECONFLICT names the cohort\n"
     "that holds it); unknown workloads are refused with ENOTFOUND.  'augur\n"
     "cohort get' shows the cohort's resilience: the probability that at\n"
     "least N members keep running through the scoring window, from the\n"
     "committed scores of their hosts and of what those share (PSUs,\n"
     "switches).",
     name_arg, create_flags,
     "augur cohort create web --workloads web-1,web-2,web-3 --spread psu "
     "--min-available 2",
     run_cohort_create},
    {"cohort get", "show a cohort, its resilience and what lowers it most",
     "Resilience is computed when read, from the committed scores.\n"
     "'weakest' lists up to 3 resources whose risk lowers it most, each with\n"
     "the resilience the cohort would gain were that resource safe.",
     name_arg, NULL, "augur cohort get web -o json", run_cohort_get},
    {"cohort list", "list cohorts with their resilience", NULL, NULL, NULL,
     "augur cohort list", run_cohort_list},
    {"cohort delete", "delete a cohort (its workloads are free again)", NULL,
     name_arg, NULL, "augur cohort delete web", run_cohort_delete},
    {"cohort add", "add a workload to a cohort",
     "Refused with ECONFLICT when the workload belongs to another cohort.",
     member_args, NULL, "augur cohort add web web-4", run_cohort_add},
    {"cohort remove", "remove a workload from a cohort",
     "A cohort keeps one workload at least (delete it instead), and its\n"
     "min-available follows the number of workloads down.",
     member_args, NULL, "augur cohort remove web web-4", run_cohort_remove},
    {0},
};
