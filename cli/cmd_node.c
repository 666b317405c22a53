/* Node identity commands: node certify (offline, with the cluster's
 * private key) and node revoke. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wire/secure.h"
#include "cli/cli.h"

#define DAY_S 86400

static int run_node_certify(struct cli *cli, const struct cli_args *a)
{
    const char *key_file = cli_args_get(a, "key");
    const char *out = cli_args_get(a, "out");
    const char *days = cli_args_get(a, "days");
    char errmsg[SECURE_ERRMSG_SIZE];
    char hex[SECURE_HEX_SIZE];
    uint8_t pk[SECURE_PK_SIZE];
    uint8_t pk2[SECURE_PK_SIZE];
    struct secure_key cluster;
    struct secure_cert cert;
    uint64_t id = 0;
    uint64_t n_days = 0;
    uint64_t not_after = 0;
    char until[64] = "never (revoke it with augur node revoke)";
    int rv;

    if (cli->cluster_key_file == NULL) {
        return cli_usage(cli,
                         "--cluster-key FILE is required: the cluster's "
                         "private key, which signs the certificate");
    }
    rv = cli_value_u64(cli, "--id", cli_args_get(a, "id"), 1, &id);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (days != NULL) {
        rv = cli_value_u64(cli, "--days", days, 1, &n_days);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (n_days > 100 * 366) {
            return cli_usage(cli, "--days: at most %d", 100 * 366);
        }
        not_after = (uint64_t)time(NULL) + n_days * DAY_S;
    }
    rv = secure_key_load_public(key_file, pk, errmsg);
    if (rv != 0) {
        return cli_usage(cli, "--key: %s", errmsg);
    }
    if (secure_key_load_public(cli->cluster_key_file, pk2, errmsg) == 0) {
        return cli_usage(cli,
                         "--cluster-key %s is a public key: certifying needs "
                         "the cluster's private key",
                         cli->cluster_key_file);
    }
    rv = secure_key_load_secret(cli->cluster_key_file, &cluster, errmsg);
    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    rv = secure_cert_sign(&cert, &cluster, id, pk, not_after);
    secure_key_wipe(&cluster);
    if (rv != 0) {
        return cli_fail(cli, rv, "cannot sign the certificate");
    }
    rv = secure_cert_save(&cert, out, errmsg);
    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    secure_key_hex(pk, hex);
    if (not_after != 0) {
        time_t t = (time_t)not_after;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (cli->json) {
        printf("{\"cert\":\"%s\",\"id\":%" PRIu64
               ",\"key\":\"%s\",\"not_after\":%" PRIu64 "}\n",
               out, id, hex, not_after);
    } else {
        printf("certificate: %s\nnode:        %" PRIu64
               "\nkey:         %s\n"
               "not after:   %s\n",
               out, id, hex, until);
    }
    return CLI_EXIT_OK;
}

/* The node key of --key: a public key file, the node's certificate (which
 * must be for node @id), or 64 hex digits. */
static int revoke_key(struct cli *cli,
                      const char *value,
                      uint64_t id,
                      uint8_t pk[SECURE_PK_SIZE])
{
    char errmsg[SECURE_ERRMSG_SIZE];
    struct secure_cert cert;

    if (secure_key_from_hex(value, strlen(value), pk) == 0 ||
        secure_key_load_public(value, pk, errmsg) == 0) {
        return CLI_EXIT_OK;
    }
    if (secure_cert_load(value, &cert, errmsg) == 0) {
        if (cert.node != id) {
            return cli_usage(cli,
                             "--key %s: the certificate is for node %" PRIu64
                             ", not node %" PRIu64,
                             value, cert.node, id);
        }
        memcpy(pk, cert.pk, SECURE_PK_SIZE);
        return CLI_EXIT_OK;
    }
    return cli_usage(cli,
                     "--key %s: not a public key, a node certificate or 64 "
                     "hex digits",
                     value);
}

static int run_node_revoke(struct cli *cli, const struct cli_args *a)
{
    char hex[SECURE_HEX_SIZE];
    uint8_t pk[SECURE_PK_SIZE];
    struct cli_pack args;
    uint64_t id;
    int rv;

    rv = cli_value_u64(cli, "ID", a->pos[0], 1, &id);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = revoke_key(cli, cli_args_get(a, "key"), id, pk);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    secure_key_hex(pk, hex);
    cli_pack_init(&args);
    cli_pack_map(&args, 2);
    cli_pack_kv_u64(&args, "id", id);
    cli_pack_kv_str(&args, "key", hex);
    rv = cli_run_write(cli, CLI_OP(NODE_REVOKE), &args);
    cli_pack_close(&args);
    return rv;
}

static const struct cli_column revoked_columns[] = {
    {"NODE", "{id}"},
    {"KEY", "{key}"},
    {0},
};

static int run_node_revoked(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(NODE_REVOKED), NULL, NULL, revoked_columns);
}

static const struct cli_arg id_arg[] = {
    {"ID", "the node id", false},
    {0},
};

static const struct cli_flag revoke_flags[] = {
    {"key", 0, "FILE|HEX",
     "the node key to revoke: its public key file (NODE.key.pub), its "
     "certificate (NODE.cert), or 64 hex digits",
     CLI_FLAG_REQUIRED},
    {0},
};

static const struct cli_flag certify_flags[] = {
    {"id", 0, "N", "the node id the key is certified for", CLI_FLAG_REQUIRED},
    {"key", 0, "PUBFILE",
     "the node's public key (NODE.key.pub of augur keygen)", CLI_FLAG_REQUIRED},
    {"out", 0, "FILE", "write the certificate to FILE (refused if it exists)",
     CLI_FLAG_REQUIRED},
    {"days", 0, "N",
     "the certificate expires after N days (default: never; nodes warn a "
     "week before)",
     0},
    {0},
};

const struct cli_command cli_node_commands[] = {
    {"node certify", "certify a node's own key with the cluster key (offline)",
     "Signs (node id, the node's public key, expiry) with the cluster's "
     "private key, given with --cluster-key.  augurd proves its key with the "
     "certificate (--node-key, --node-cert), so the cluster's private key "
     "can stay off the nodes.  No cluster is contacted.",
     NULL, certify_flags,
     "augur node certify --cluster-key cluster.key --id 2 --key n2.key.pub "
     "--out n2.cert",
     run_node_certify},
    {"node revoke", "revoke a node key: every node drops its links at once",
     "A Raft command: as soon as a node applies it, it closes its peer links "
     "authenticated with that key and refuses new ones, whatever "
     "certificate they show.  Clients cannot know: a revoked node can still "
     "answer a client that connects to it until its certificate expires or "
     "the cluster key is rotated (docs/PROTOCOL.md, Keys).  Needs the admin "
     "role.",
     id_arg, revoke_flags, "augur node revoke 3 --key keys/node3.key.pub",
     run_node_revoke},
    {"node revoked", "list revoked node keys", NULL, NULL, NULL,
     "augur node revoked", run_node_revoked},
    {0},
};
