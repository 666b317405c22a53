/* Identity commands: keygen (local) and principal add|remove|list. */
#include <stdio.h>
#include <string.h>

#include "wire/secure.h"
#include "cli/cli.h"

#define ROLES "admin|operator|agent|reader"

static const struct cli_column principal_columns[] = {
    {"NAME", "{name}"},
    {"ROLE", "{role}"},
    {"RESOURCES", "{resources}"},
    {"KEY", "{key}"},
    {0},
};

/* --resource ID[,ID...]: the number of ids in @list, 0 when one is
 * empty. */
static size_t resources_count(const char *list)
{
    size_t n = 1;

    if (list[0] == '\0' || list[strlen(list) - 1] == ',' ||
        strstr(list, ",,") != NULL || list[0] == ',') {
        return 0;
    }
    for (const char *p = list; *p != '\0'; p++) {
        n += *p == ',';
    }
    return n;
}

/* Pack "resources": [ID, ...] from the comma-separated @list, the array
 * principal.add takes. */
static void resources_pack(struct cli_pack *args, const char *list, size_t n)
{
    const char *p = list;

    cli_pack_str(args, "resources", 9);
    args->failed |= msgpack_pack_array(&args->pk, n) != 0;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        cli_pack_str(args, p, len);
        p += len + 1;
    }
}

static int run_keygen(struct cli *cli, const struct cli_args *a)
{
    const char *out = cli_args_get(a, "out");
    char errmsg[SECURE_ERRMSG_SIZE];
    char hex[SECURE_HEX_SIZE];
    struct secure_key k;
    int rv;

    rv = secure_key_generate(&k);
    if (rv != 0) {
        return cli_fail(cli, rv, "cannot generate a key: libsodium failed");
    }
    rv = secure_key_save(&k, out, errmsg);
    secure_key_hex(k.pk, hex);
    secure_key_wipe(&k);
    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    if (cli->json) {
        printf("{\"private\":\"%s\",\"public\":\"%s.pub\",\"key\":\"%s\"}\n",
               out, out, hex);
    } else {
        printf(
            "private key: %s (mode 0600)\npublic key:  %s.pub\nkey:         "
            "%s\n",
            out, out, hex);
    }
    return CLI_EXIT_OK;
}

static int run_principal_add(struct cli *cli, const struct cli_args *a)
{
    const char *file = cli_args_get(a, "key");
    const char *role = cli_args_get(a, "role");
    const char *resource = cli_args_get(a, "resource");
    char errmsg[SECURE_ERRMSG_SIZE];
    char hex[SECURE_HEX_SIZE];
    uint8_t pk[SECURE_PK_SIZE];
    size_t n_resources = 0;
    struct cli_pack args;
    int rv;

    rv = cli_value_choice(cli, "--role", role, ROLES);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (resource != NULL && strcmp(role, "agent") != 0) {
        return cli_usage(cli, "%s",
                         "--resource is for --role agent (the other roles "
                         "may report for every resource)");
    }
    rv = secure_key_load_public(file, pk, errmsg);
    if (rv != 0) {
        return cli_usage(cli, "--key: %s", errmsg);
    }
    secure_key_hex(pk, hex);
    if (resource != NULL) {
        n_resources = resources_count(resource);
        if (n_resources == 0) {
            return cli_usage(cli, "--resource: an empty id in '%s'", resource);
        }
    }
    cli_pack_init(&args);
    cli_pack_map(&args, n_resources > 0 ? 4 : 3);
    cli_pack_kv_str(&args, "name", a->pos[0]);
    cli_pack_kv_str(&args, "key", hex);
    cli_pack_kv_str(&args, "role", role);
    if (n_resources > 0) {
        resources_pack(&args, resource, n_resources);
    }
    rv = cli_run_write(cli, CLI_OP(PRINCIPAL_ADD), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_principal_remove(struct cli *cli, const struct cli_args *a)
{
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1);
    cli_pack_kv_str(&args, "name", a->pos[0]);
    rv = cli_run_write(cli, CLI_OP(PRINCIPAL_REMOVE), &args);
    cli_pack_close(&args);
    return rv;
}

static int run_principal_list(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(PRINCIPAL_LIST), NULL, NULL,
                        principal_columns);
}

static const struct cli_flag keygen_flags[] = {
    {"out", 0, "FILE",
     "write the private key to FILE (mode 0600) and the public key to "
     "FILE.pub",
     CLI_FLAG_REQUIRED},
    {0},
};

static const struct cli_arg name_arg[] = {
    {"NAME", "the principal's name", false},
    {0},
};

static const struct cli_flag principal_add_flags[] = {
    {"key", 0, "PUBFILE", "its public key file (FILE.pub of augur keygen)",
     CLI_FLAG_REQUIRED},
    {"role", 0, ROLES,
     "admin: everything; operator: resources, workloads, claims, scores; "
     "agent: telemetry of its --resource list only; reader: reads and "
     "events",
     CLI_FLAG_REQUIRED},
    {"resource", 0, "ID[,ID...]",
     "with --role agent: the resources it may report telemetry for (at "
     "most 16); a report for another is refused with EPERM",
     0},
    {0},
};

const struct cli_command cli_keygen_commands[] = {
    {"keygen", "make an Ed25519 key pair (for a client, or the cluster)",
     "Writes the private key (mode 0600; refused if FILE exists) and "
     "FILE.pub.  Clients use it with --key FILE (or AUGUR_KEY) once an admin "
     "has added FILE.pub as a principal; augurd uses the cluster's with "
     "--cluster-key.  No cluster is contacted.",
     NULL, keygen_flags, "augur keygen --out ~/.augur/alice.key", run_keygen},
    {0},
};

const struct cli_command cli_principal_commands[] = {
    {"principal add", "allow a public key in, with a name and a role",
     "Needs the admin role.", name_arg, principal_add_flags,
     "augur principal add alice --key alice.key.pub --role operator\n"
     "  augur principal add agent-h1 --key h1.key.pub --role agent "
     "--resource h1",
     run_principal_add},
    {"principal remove", "revoke a principal; its connections are closed",
     "Takes effect on every node as soon as it is applied: the key's open "
     "connections are closed and new ones refused.  Needs the admin role.",
     name_arg, NULL, "augur principal remove alice", run_principal_remove},
    {"principal list", "list principals", "Needs the admin role.", NULL, NULL,
     "augur principal list", run_principal_list},
    {0},
};
