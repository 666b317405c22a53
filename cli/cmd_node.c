/* Node identity commands: node certify (offline, with the cluster's
 * private key) and node revoke. */
#include <inttypes.h>
#include <stdio.h>
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
    struct secure_key cluster;
    struct secure_cert cert;
    uint64_t id = 0;
    uint64_t n_days = 0;
    uint64_t not_after = 0;
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
    if (cli->json) {
        printf("{\"cert\":\"%s\",\"id\":%" PRIu64
               ",\"key\":\"%s\",\"not_after\":%" PRIu64 "}\n",
               out, id, hex, not_after);
    } else {
        printf(
            "certificate: %s\nnode:        %" PRIu64
            "\nkey:         %s\n"
            "not after:   %s\n",
            out, id, hex,
            not_after == 0 ? "never (revoke it with augur node revoke)" : days);
    }
    return CLI_EXIT_OK;
}

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
    {0},
};
