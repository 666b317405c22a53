/* Bearer tokens: token create (signed here with this client's key) and
 * token verify (checked by the node reached).  docs/TOKENS.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "wire/token.h"
#include "cli/cli.h"

#define ROLES "admin|operator|agent|reader"

/* Ask the node who this client's key is: {"principal", "role", "key"}. */
static int whoami(struct cli *cli,
                  const uint8_t pk[SECURE_PK_SIZE],
                  char *name,
                  size_t name_size,
                  enum augur_role_rank *role)
{
    char hex[SECURE_HEX_SIZE];
    const char *got_key;
    const char *got_role;
    const char *got_name;
    json_t *who;
    int rv;

    rv = cli_call(cli, CLI_OP(WHOAMI), NULL, true, &who);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    secure_key_hex(pk, hex);
    got_key = json_string_value(json_object_get(who, "key"));
    got_role = json_string_value(json_object_get(who, "role"));
    got_name = json_string_value(json_object_get(who, "principal"));
    if (got_key == NULL || got_role == NULL || got_name == NULL ||
        strcmp(got_key, hex) != 0) {
        json_decref(who);
        return cli_fail(cli, AUGUR_EPROTO,
                        "the node's whoami answer does not name this key");
    }
    *role = token_role_parse(got_role, strlen(got_role));
    snprintf(name, name_size, "%s", got_name);
    json_decref(who);
    if (*role == AUGUR_ROLE_ANY) {
        return cli_fail(cli, AUGUR_EPERM,
                        "this key's role cannot hold a token");
    }
    return CLI_EXIT_OK;
}

static int run_token_create(struct cli *cli, const struct cli_args *a)
{
    const char *ttl_s = cli_args_get(a, "ttl");
    const char *role_s = cli_args_get(a, "role");
    const char *key_file = cli->key_file;
    char errmsg[SECURE_ERRMSG_SIZE];
    char name[128];
    char token[TOKEN_SIZE];
    enum augur_role_rank own;
    enum augur_role_rank want;
    uint64_t ttl = TOKEN_TTL_DEFAULT;
    uint64_t now;
    struct secure_key k;
    int rv;

    if (ttl_s != NULL) {
        rv = cli_value_u64(cli, "--ttl", ttl_s, 1, &ttl);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (ttl > TOKEN_TTL_MAX) {
            return cli_usage(cli, "--ttl %s: at most %u seconds (30 days)",
                             ttl_s, TOKEN_TTL_MAX);
        }
    }
    if (role_s != NULL) {
        rv = cli_value_choice(cli, "--role", role_s, ROLES);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
    }
    if (key_file == NULL) {
        key_file = getenv("AUGUR_KEY");
    }
    if (key_file == NULL || key_file[0] == '\0') {
        return cli_usage(cli, "%s",
                         "a token is signed with this client's private key: "
                         "give --key FILE or set AUGUR_KEY");
    }
    rv = secure_key_load_secret(key_file, &k, errmsg);
    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    rv = whoami(cli, k.pk, name, sizeof name, &own);
    if (rv != CLI_EXIT_OK) {
        secure_key_wipe(&k);
        return rv;
    }
    want = role_s != NULL ? token_role_parse(role_s, strlen(role_s)) : own;
    if (want > own) {
        secure_key_wipe(&k);
        snprintf(errmsg, sizeof errmsg,
                 "--role %s is wider than principal %s's role %s: a token may "
                 "narrow its principal's role, never widen it",
                 role_s, name, token_role_name(own));
        return cli_fail(cli, AUGUR_EPERM, errmsg);
    }
    now = (uint64_t)time(NULL);
    rv = token_create(&k, want, ttl, now, token, errmsg);
    secure_key_wipe(&k);
    if (rv != 0) {
        return cli_fail(cli, rv, errmsg);
    }
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "token", token,
                              "principal", name, "role", token_role_name(want),
                              "expires_at", (json_int_t)(now + ttl));
        rv = o != NULL ? cli_json_print(o) : AUGUR_ENOMEM;
        json_decref(o);
    } else {
        rv = printf("%s\n", token) < 0 ? AUGUR_EIO : 0;
    }
    sodium_memzero(token, sizeof token);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the token");
}

/* The token from the argument, or, for "-", the first line of stdin (so
 * that it need not show in the process list). */
static int token_arg(struct cli *cli, const char *arg, char *out, size_t size)
{
    size_t len;

    if (strcmp(arg, "-") != 0) {
        if (strlen(arg) >= size) {
            return cli_usage(cli,
                             "TOKEN: over %d bytes, no token is that "
                             "long",
                             TOKEN_INPUT_MAX);
        }
        snprintf(out, size, "%s", arg);
        return CLI_EXIT_OK;
    }
    if (fgets(out, (int)size, stdin) == NULL) {
        return cli_usage(cli, "%s", "TOKEN '-': nothing on stdin");
    }
    len = strcspn(out, "\r\n");
    if (out[len] == '\0' && !feof(stdin)) {
        return cli_usage(cli, "TOKEN '-': a line of over %d bytes on stdin",
                         TOKEN_INPUT_MAX);
    }
    out[len] = '\0';
    return CLI_EXIT_OK;
}

static int run_token_verify(struct cli *cli, const struct cli_args *a)
{
    static const struct cli_column fields[] = {
        {"principal", "{principal}"},
        {"role", "{role}"},
        {"key", "{key}"},
        {"issued_at", "{issued_at}"},
        {"expires_at", "{expires_at}"},
        {"checked by node", "{node}"},
        {0},
    };
    char token[TOKEN_INPUT_MAX + 2];
    struct cli_pack args;
    json_t *result;
    int rv;

    rv = token_arg(cli, a->pos[0], token, sizeof token);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 1);
    cli_pack_kv_str(&args, "token", token);
    sodium_memzero(token, sizeof token);
    rv = cli_call(cli, CLI_OP(TOKEN_VERIFY), &args, true, &result);
    sodium_memzero(args.buf.data, args.buf.size);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli->json ? cli_json_print(result) : cli_fields_print(fields, result);
    json_decref(result);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the answer");
}

static const struct cli_flag token_create_flags[] = {
    {"ttl", 0, "SECONDS",
     "how long the token is valid (default 3600, at most 2592000: 30 days)", 0},
    {"role", 0, ROLES,
     "the token's role: at most the principal's own (the default)", 0},
    {0},
};

static const struct cli_arg token_arg_spec[] = {
    {"TOKEN", "the token, or - to read it from the first line of stdin", false},
    {0},
};

const struct cli_command cli_token_commands[] = {
    {"token create", "make a bearer token for this client's principal",
     "Signs a token with this client's private key (--key or AUGUR_KEY) "
     "after asking the node which principal the key is and its role "
     "(whoami).  Prints only the token, on one line; -o json prints "
     "{\"token\", \"principal\", \"role\", \"expires_at\"}.  Any node "
     "verifies it against its replicated principals, without a round trip; "
     "it is valid until it expires or the principal is removed (which "
     "revokes all its tokens on every node at once).  A token is a bearer "
     "secret: whoever holds it acts as the principal, in its role, until "
     "then.  Keep --ttl short.",
     NULL, token_create_flags, "augur token create --ttl 600 --role reader",
     run_token_create},
    {"token verify", "check a token against the node's principals",
     "Asks the node reached (every node can answer; --endpoints picks one) "
     "to verify TOKEN as the HTTP API will: its signature, its expiry, that "
     "its key is still a principal's and that its role is at most that "
     "principal's.  Prints who it stands for, or the precise refusal "
     "(EMALFORMED, ETOOBIG, EAUTH: bad signature, expired, unknown "
     "principal; EPERM: role too wide).  The refusal never quotes the "
     "token.",
     token_arg_spec, NULL, "augur token verify \"$(augur token create)\"",
     run_token_verify},
    {0},
};
