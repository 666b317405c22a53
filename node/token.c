/* Bearer tokens on the node: the check the HTTP server will make against
 * the applied principals, and the ops that expose it (whoami,
 * token.verify).  The format is wire/token.c's (docs/TOKENS.md). */
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "node/node.h"
#include "wire/token.h"

#include <sodium.h>

/* token_lookup_fn over the applied store: a key's principal and role now.
 * A key that is not (or no longer) a principal is AUGUR_ENOTFOUND, so a
 * principal.remove revokes every token of that key as soon as it applies
 * here. */
static int lookup_store(void *arg,
                        const uint8_t key[SECURE_PK_SIZE],
                        char *name,
                        size_t name_size,
                        enum augur_role_rank *role)
{
    struct node *n = arg;
    char hex[SECURE_HEX_SIZE];
    char found[STORE_ID_SIZE];
    int store_role;
    int rv;

    secure_key_hex(key, hex);
    rv = store_principal_find(n->store, hex, found, &store_role);
    if (rv != 0) {
        return rv;
    }
    snprintf(name, name_size, "%s", found);
    *role = store_role_rank(store_role);
    return 0;
}

/* The enum store_role of a token's role rank (AGENT..ADMIN). */
static int store_role_of_rank(enum augur_role_rank rank)
{
    for (int r = 0; r < STORE_ROLE_COUNT; r++) {
        if (store_role_rank(r) == rank) {
            return r;
        }
    }
    return STORE_ROLE_READER; /* unreachable: token_verify checked it */
}

int node__token_check(struct node *n,
                      const char *token,
                      size_t len,
                      struct node_token *out,
                      char *errmsg)
{
    uint64_t now = (uint64_t)time(NULL);
    int rv;

    /* The same gate as the binary protocol's: a node that has not applied
     * what the cluster committed may not have applied a removal yet. */
    memset(out, 0, sizeof *out);
    out->store_role = STORE_ROLE_COUNT; /* no role unless it verifies */
    if (!node__serving(n)) {
        out->fault = TOKEN_LOOKUP_FAILED;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "this node has not caught up with the cluster yet: try "
                 "again, or another node");
        return AUGUR_ENOLEADER;
    }
    rv = token_verify(token, len, lookup_store, n, now, &out->claims,
                      out->principal, sizeof out->principal, &out->fault,
                      errmsg);
    if (rv == 0) {
        out->store_role = store_role_of_rank(out->claims.role);
    }
    return rv;
}

static void pack_bool(msgpack_packer *pk, bool b)
{
    if (b) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
}

void node__whoami(struct node *n, struct api_call *call)
{
    char hex[SECURE_HEX_SIZE];
    const char *role = call->role >= 0 && call->role < STORE_ROLE_COUNT
                           ? store_role_name(call->role)
                           : "node";
    msgpack_packer pk;

    secure_key_hex(call->key, hex);
    node__result_begin(n, &pk, 3);
    node__pack_str(&pk, "principal");
    node__pack_str(&pk, call->principal);
    node__pack_str(&pk, "role");
    node__pack_str(&pk, role);
    node__pack_str(&pk, "key");
    node__pack_str(&pk, hex);
    api_call_reply(call, n->scratch.data, n->scratch.size);
}

void node__token_verify(struct node *n, struct api_call *call)
{
    char token[TOKEN_INPUT_MAX + 1];
    char errmsg[TOKEN_ERRMSG_SIZE];
    char hex[SECURE_HEX_SIZE];
    struct node_token t;
    msgpack_packer pk;
    int rv;

    rv = node__arg_str(call->req.args, "token", token, sizeof token);
    if (rv != 0) {
        api_call_reply_error(call, rv == AUGUR_ENOTFOUND ? AUGUR_EINVAL : rv,
                             NULL,
                             "token.verify: 'token' (a string of at most %d "
                             "bytes) is required",
                             TOKEN_INPUT_MAX);
        return;
    }
    rv = node__token_check(n, token, strlen(token), &t, errmsg);
    sodium_memzero(token, sizeof token);
    if (rv != 0) {
        /* The reason never quotes the token: it is a bearer secret. */
        api_call_reply_error(call, rv, NULL, "%s (%s)", errmsg,
                             token_fault_name(t.fault));
        return;
    }
    secure_key_hex(t.claims.key, hex);
    node__result_begin(n, &pk, 7);
    node__pack_str(&pk, "valid");
    pack_bool(&pk, true);
    node__pack_str(&pk, "principal");
    node__pack_str(&pk, t.principal);
    node__pack_str(&pk, "role");
    node__pack_str(&pk, token_role_name(t.claims.role));
    node__pack_str(&pk, "key");
    node__pack_str(&pk, hex);
    node__pack_str(&pk, "issued_at");
    msgpack_pack_uint64(&pk, t.claims.issued_at);
    node__pack_str(&pk, "expires_at");
    msgpack_pack_uint64(&pk, t.claims.expires_at);
    node__pack_str(&pk, "node");
    msgpack_pack_uint64(&pk, n->config.id);
    api_call_reply(call, n->scratch.data, n->scratch.size);
}
