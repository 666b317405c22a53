/* telemetry: what the leader holds for a resource (latest samples, lease),
 * answered by the leader (a follower redirects). */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"

static const struct cli_column telemetry_fields[] = {
    {"resource", "{resource}"},
    {"leader", "node {leader}"},
    {"last report", "{last_report_ms} (ms since the epoch)"},
    {"last heard", "{last_seen_age_ms} ms ago"},
    {"lease",
     "{lease.state}, {lease.remaining_ms} of {lease.lease_ms} ms "
     "left"},
    {"reports", "{reports} (heartbeats {heartbeats})"},
    {"dropped by agent", "{agent_dropped} samples"},
    {0},
};

/* The batches, newest first: one "NAME VALUE" line per sample. */
static void batches_print(const json_t *batches)
{
    size_t i;
    const json_t *b;

    json_array_foreach(batches, i, b)
    {
        const json_t *samples = json_object_get(b, "samples");
        const char *name;
        const json_t *v;

        printf("\nbatch at %" PRId64 " (dropped before it: %" PRId64 ")\n",
               (int64_t)json_integer_value(json_object_get(b, "t_ms")),
               (int64_t)json_integer_value(json_object_get(b, "dropped")));
        json_object_foreach((json_t *)samples, name, v)
        {
            printf("  %-40s %.6g\n", name, json_number_value(v));
        }
    }
}

static int run_telemetry(struct cli *cli, const struct cli_args *a)
{
    const char *last_s = cli_args_get(a, "last");
    struct cli_pack args;
    uint64_t last = 1;
    json_t *result;
    int rv;

    if (last_s != NULL) {
        rv = cli_value_u64(cli, "--last", last_s, 1, &last);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_str(&args, "resource", a->pos[0]);
    cli_pack_kv_u64(&args, "last", last);
    rv = cli_call(cli, CLI_OP(TELEMETRY_GET), &args, true, &result);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = cli_json_print(result);
    } else {
        rv = cli_fields_print(telemetry_fields, result);
        if (rv == 0) {
            batches_print(json_object_get(result, "batches"));
        }
    }
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print it");
}

static const struct cli_arg resource_arg[] = {
    {"RESOURCE", "the resource id its agent reports as", false},
    {0},
};

static const struct cli_flag telemetry_flags[] = {
    {"last", 0, "N",
     "the N latest batches (default 1; the leader keeps "
     "--telemetry-ring of them)",
     0},
    {0},
};

const struct cli_command cli_telemetry_commands[] = {
    {"telemetry", "the latest samples the leader holds for a resource",
     "Telemetry is not replicated: the leader keeps each resource's last\n"
     "batches in memory, with its host lease (docs/AGENT.md).  A new leader\n"
     "starts empty and answers ENOTFOUND until the agent's next report.\n"
     "Needs the reader role.",
     resource_arg, telemetry_flags, "augur telemetry h1 --last 3 -o json",
     run_telemetry},
    {0},
};
