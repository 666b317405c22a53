/* Cluster commands: status, member list|add|remove, leader transfer. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* ROLE is libraft's configuration ("absent" for a recorded member it
 * lacks); RECORDED is the membership operators asked for. */
static const struct cli_column member_columns[] = {
    {"ID", "{id}"},
    {"ADDRESS", "{address}"},
    {"CLIENT-ADDRESS", "{client_address}"},
    {"ROLE", "{role}"},
    {"RECORDED", "{recorded}"},
    {"REVOKED-KEYS", "{revoked_keys}"},
    {0},
};

/* A line under the table when the configuration and the record differ. */
static void membership_warn(const json_t *membership)
{
    const json_t *diff = json_object_get(membership, "difference");
    if (json_is_false(json_object_get(membership, "in_sync")) &&
        json_is_string(diff)) {
        printf(
            "\nwarning: the Raft configuration differs from the recorded "
            "membership: %s (%s)\n",
            json_string_value(diff),
            json_is_true(json_object_get(membership, "reconcile"))
                ? "the leader repairs it"
                : "reconcile is off: repair it with augur member add/remove");
    }
}

static const struct cli_column status_fields[] = {
    {"node", "{node}"},
    {"state", "{state}"},
    {"leader", "{leader}"},
    {"term", "{term}"},
    {"commit index", "{commit_index}"},
    {"applied", "{last_applied}"},
    {"rev", "{rev}"},
    {0},
};

static const struct cli_column telemetry_fields[] = {
    {"telemetry",
     "{telemetry.resources} resources, {telemetry.accepted} "
     "reports ({telemetry.refused} refused, {telemetry.dropped} "
     "dropped)"},
    {"leases",
     "{telemetry.leases_live} live, {telemetry.leases_expired} "
     "expired, {telemetry.unreachable_declared} declared "
     "unreachable"},
    {0},
};

static int status_print(const json_t *st)
{
    const json_t *members = json_object_get(st, "members");
    const json_t *digest = json_object_get(st, "digest");
    const json_t *telemetry = json_object_get(st, "telemetry");
    const char *state = json_string_value(json_object_get(st, "state"));
    int rv;

    rv = cli_fields_print(status_fields, st);
    if (rv == 0 && json_is_object(telemetry) && state != NULL &&
        strcmp(state, "leader") == 0) {
        /* Only the leader holds telemetry: a follower's would be zeros. */
        rv = cli_fields_print(telemetry_fields, st);
    }
    if (rv == 0 && json_is_string(digest)) {
        printf("digest: %s\n", json_string_value(digest));
    }
    if (rv == 0 && json_is_array(members)) {
        printf("\n");
        rv = cli_table_print(member_columns, members);
    }
    if (rv == 0) {
        membership_warn(json_object_get(st, "membership"));
    }
    return rv;
}

static int run_status(struct cli *cli, const struct cli_args *a)
{
    bool digest = cli_args_get(a, "digest") != NULL;
    struct cli_pack args;
    json_t *st;
    int rv;

    cli_pack_init(&args);
    if (digest) {
        cli_pack_map(&args, 1);
        cli_pack_str(&args, "digest", 6);
        args.failed |= msgpack_pack_true(&args.pk) != 0;
    }
    rv = cli_call(cli, "status", digest ? &args : NULL, true, &st);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli->json ? cli_json_print(st) : status_print(st);
    json_decref(st);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the status");
}

static int run_member_list(struct cli *cli, const struct cli_args *a)
{
    json_t *result;
    const json_t *items;
    int rv;

    (void)a;
    rv = cli_call(cli, CLI_OP(MEMBER_LIST), NULL, true, &result);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    items = json_object_get(result, "items");
    if (!json_is_array(items)) {
        json_decref(result);
        return cli_fail(cli, AUGUR_EMALFORMED, "member.list: no items");
    }
    /* -o json stays the array of members; each says what is recorded. */
    if (cli->json) {
        rv = cli_json_print(items);
    } else {
        rv = cli_table_print(member_columns, items);
        if (rv == 0) {
            membership_warn(json_object_get(result, "membership"));
        }
    }
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK
                   : cli_fail(cli, rv, "cannot print the members");
}

static int run_member_add(struct cli *cli, const struct cli_args *a)
{
    const char *role = cli_args_get(a, "role");
    struct cli_pack args;
    uint64_t id;
    int rv;

    rv = cli_value_u64(cli, "ID", a->pos[0], 1, &id);
    if (rv == CLI_EXIT_OK && role != NULL) {
        rv = cli_value_choice(cli, "--role", role, "voter|standby|spare");
    }
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 3 + (role != NULL));
    cli_pack_kv_u64(&args, "id", id);
    cli_pack_kv_str(&args, "address", cli_args_get(a, "address"));
    cli_pack_kv_str(&args, "client_address", cli_args_get(a, "client-address"));
    if (role != NULL) {
        cli_pack_kv_str(&args, "role", role);
    }
    rv = cli_run_write(cli, CLI_OP(MEMBER_ADD), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_member_remove(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    uint64_t id;
    int rv;

    rv = cli_value_u64(cli, "ID", a->pos[0], 1, &id);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 1);
    cli_pack_kv_u64(&args, "id", id);
    rv = cli_run_write(cli, CLI_OP(MEMBER_REMOVE), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_leader_transfer(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    uint64_t id = 0;
    int rv;

    if (a->n_pos > 0) {
        rv = cli_value_u64(cli, "ID", a->pos[0], 1, &id);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
    }
    cli_pack_init(&args);
    cli_pack_map(&args, id != 0);
    if (id != 0) {
        cli_pack_kv_u64(&args, "id", id);
    }
    rv = cli_run_write(cli, CLI_OP(LEADER_TRANSFER), &args);
    cli_pack_close(&args);
    return rv;
}

static const struct cli_arg node_id_arg[] = {
    {"ID", "node id (a positive integer)", false},
    {0},
};

static const struct cli_arg leader_id_arg[] = {
    {"ID", "the voter to hand leadership to (default: any voter)", true},
    {0},
};

static const struct cli_flag member_add_flags[] = {
    {"address", 0, "HOST:PORT", "the node's Raft address", CLI_FLAG_REQUIRED},
    {"client-address", 0, "HOST:PORT", "the node's client address",
     CLI_FLAG_REQUIRED},
    {"role", 0, "voter|standby|spare",
     "its role once caught up (default voter)", 0},
    {0},
};

static const struct cli_flag status_flags[] = {
    {"digest", 0, NULL,
     "also the digest of the whole store at the applied index (the same on "
     "every node that applied it; reads the whole state)",
     0},
    {0},
};

const struct cli_command cli_status_commands[] = {
    {"status", "this node's view: leader, term, commit index, members",
     "Answered by the node reached, not forwarded to the leader: to see what\n"
     "one node thinks, give --endpoints that node alone.  A warning line\n"
     "says when its Raft configuration differs from the recorded\n"
     "membership.",
     NULL, status_flags, "augur status --endpoints 127.0.0.1:7002 -o json",
     run_status},
    {0},
};

const struct cli_command cli_member_commands[] = {
    {"member list", "list the cluster's members and their roles", NULL, NULL,
     NULL, "augur member list", run_member_list},
    {"member add", "add a node to the cluster",
     "The node's addresses are recorded, then it joins as a spare, catches\n"
     "up, and is promoted to its role.  Start the node with an empty data\n"
     "directory and no --bootstrap first.",
     node_id_arg, member_add_flags,
     "augur member add 4 --address 10.0.0.4:7104 --client-address "
     "10.0.0.4:7004",
     run_member_add},
    {"member remove", "remove a node from the cluster",
     "The leader cannot remove itself: transfer leadership first.", node_id_arg,
     NULL, "augur member remove 4", run_member_remove},
    {0},
};

const struct cli_command cli_leader_commands[] = {
    {"leader transfer", "hand leadership to another voter", NULL, leader_id_arg,
     NULL, "augur leader transfer 2", run_leader_transfer},
    {0},
};
