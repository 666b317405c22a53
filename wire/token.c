/* Bearer tokens: made and checked here, with libsodium, and nothing else
 * (docs/TOKENS.md). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "wire/token.h"

/* Signed before the payload, so that a signature made for a token can
 * never pass for one of the handshake's (docs/PROTOCOL.md), whose messages
 * start with other strings, nor the other way round. */
static const char token_domain[] = "augur token v1";

#define PAYLOAD_B64_LEN ((TOKEN_PAYLOAD_SIZE * 4 + 2) / 3)
#define SIG_B64_LEN ((SECURE_SIG_SIZE * 4 + 2) / 3)
#define PREFIX_LEN (sizeof TOKEN_PREFIX - 1)

static const char *const role_names[] = {
    [AUGUR_ROLE_AGENT] = "agent",
    [AUGUR_ROLE_READER] = "reader",
    [AUGUR_ROLE_OPERATOR] = "operator",
    [AUGUR_ROLE_ADMIN] = "admin",
};

const char *token_role_name(enum augur_role_rank role)
{
    if (role < AUGUR_ROLE_AGENT || role > AUGUR_ROLE_ADMIN) {
        return NULL;
    }
    return role_names[role];
}

enum augur_role_rank token_role_parse(const char *name, size_t len)
{
    for (int r = AUGUR_ROLE_AGENT; r <= AUGUR_ROLE_ADMIN; r++) {
        if (strlen(role_names[r]) == len &&
            memcmp(role_names[r], name, len) == 0) {
            return (enum augur_role_rank)r;
        }
    }
    return AUGUR_ROLE_ANY;
}

const char *token_fault_name(enum token_fault fault)
{
    switch (fault) {
        case TOKEN_OK:
            return "ok";
        case TOKEN_MALFORMED:
            return "malformed";
        case TOKEN_TOO_LONG:
            return "too long";
        case TOKEN_BAD_SIGNATURE:
            return "bad signature";
        case TOKEN_EXPIRED:
            return "expired";
        case TOKEN_NOT_YET_VALID:
            return "not yet valid";
        case TOKEN_TTL_TOO_LONG:
            return "lifetime too long";
        case TOKEN_UNKNOWN_PRINCIPAL:
            return "unknown principal";
        case TOKEN_ROLE_TOO_WIDE:
            return "role too wide";
        case TOKEN_LOOKUP_FAILED:
            return "lookup failed";
    }
    return "unknown";
}

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void payload_pack(const struct token_claims *c,
                         uint8_t p[TOKEN_PAYLOAD_SIZE])
{
    p[0] = TOKEN_VERSION;
    memcpy(p + 1, c->key, SECURE_PK_SIZE);
    p[1 + SECURE_PK_SIZE] = (uint8_t)c->role;
    be64_put(p + 2 + SECURE_PK_SIZE, c->issued_at);
    be64_put(p + 10 + SECURE_PK_SIZE, c->expires_at);
    memcpy(p + 18 + SECURE_PK_SIZE, c->nonce, TOKEN_NONCE_SIZE);
}

/* The signed message: the domain string with its NUL, then the payload. */
static void message_make(const uint8_t payload[TOKEN_PAYLOAD_SIZE],
                         uint8_t m[sizeof token_domain + TOKEN_PAYLOAD_SIZE])
{
    memcpy(m, token_domain, sizeof token_domain);
    memcpy(m + sizeof token_domain, payload, TOKEN_PAYLOAD_SIZE);
}

int token_create(const struct secure_key *k,
                 enum augur_role_rank role,
                 uint64_t ttl,
                 uint64_t now,
                 char out[TOKEN_SIZE],
                 char *errmsg)
{
    uint8_t m[sizeof token_domain + TOKEN_PAYLOAD_SIZE];
    uint8_t payload[TOKEN_PAYLOAD_SIZE];
    uint8_t sig[SECURE_SIG_SIZE];
    struct token_claims c;
    char *p = out;

    if (!k->has_secret) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "a token is signed with the principal's private key; this "
                 "key has only its public half");
        return AUGUR_EINVAL;
    }
    if (token_role_name(role) == NULL) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "role %d is none of agent, reader, operator, admin",
                 (int)role);
        return AUGUR_EINVAL;
    }
    if (ttl == 0 || ttl > TOKEN_TTL_MAX) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "ttl %llu s: a token lives 1 to %u s (30 days)",
                 (unsigned long long)ttl, TOKEN_TTL_MAX);
        return AUGUR_EINVAL;
    }
    if (now > UINT64_MAX - ttl) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "now %llu s + ttl overflows: not a clock",
                 (unsigned long long)now);
        return AUGUR_EINVAL;
    }
    memcpy(c.key, k->pk, SECURE_PK_SIZE);
    c.role = role;
    c.issued_at = now;
    c.expires_at = now + ttl;
    randombytes_buf(c.nonce, sizeof c.nonce);
    payload_pack(&c, payload);
    message_make(payload, m);
    crypto_sign_detached(sig, NULL, m, sizeof m, k->sk);

    memcpy(p, TOKEN_PREFIX, PREFIX_LEN);
    p += PREFIX_LEN;
    sodium_bin2base64(p, PAYLOAD_B64_LEN + 1, payload, sizeof payload,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    p += PAYLOAD_B64_LEN;
    *p++ = '.';
    sodium_bin2base64(p, SIG_B64_LEN + 1, sig, sizeof sig,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

/* Decode the base64url (no padding) field of exactly @b64_len characters
 * into exactly @bin_len bytes.  libsodium refuses padding, characters
 * outside the alphabet and non-zero trailing bits, so every payload has
 * one spelling only. */
static bool b64_field(const char *b64,
                      size_t b64_len,
                      uint8_t *bin,
                      size_t bin_len)
{
    size_t got = 0;
    const char *end = NULL;

    if (sodium_base642bin(bin, bin_len, b64, b64_len, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        return false;
    }
    return got == bin_len && end == b64 + b64_len;
}

/* Everything but the signature: the form and the fields' ranges. */
static int parse(const char *token,
                 size_t len,
                 struct token_claims *out,
                 uint8_t payload[TOKEN_PAYLOAD_SIZE],
                 uint8_t sig[SECURE_SIG_SIZE],
                 enum token_fault *fault,
                 char *errmsg)
{
    const uint8_t *p = payload;

    if (len > TOKEN_INPUT_MAX) {
        *fault = TOKEN_TOO_LONG;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "token of %zu bytes: over the limit of %d", len,
                 TOKEN_INPUT_MAX);
        return AUGUR_ETOOBIG;
    }
    *fault = TOKEN_MALFORMED;
    if (len < PREFIX_LEN || memcmp(token, TOKEN_PREFIX, PREFIX_LEN) != 0) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "not an augur token: it does not start with '%s'",
                 TOKEN_PREFIX);
        return AUGUR_EMALFORMED;
    }
    if (len != TOKEN_LEN || token[PREFIX_LEN + PAYLOAD_B64_LEN] != '.') {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "malformed token: %zu bytes, a token has %zu (%s, %zu "
                 "characters of payload, '.', %zu of signature)",
                 len, (size_t)TOKEN_LEN, TOKEN_PREFIX, (size_t)PAYLOAD_B64_LEN,
                 (size_t)SIG_B64_LEN);
        return AUGUR_EMALFORMED;
    }
    if (!b64_field(token + PREFIX_LEN, PAYLOAD_B64_LEN, payload,
                   TOKEN_PAYLOAD_SIZE) ||
        !b64_field(token + PREFIX_LEN + PAYLOAD_B64_LEN + 1, SIG_B64_LEN, sig,
                   SECURE_SIG_SIZE)) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "malformed token: not base64url without padding");
        return AUGUR_EMALFORMED;
    }
    if (p[0] != TOKEN_VERSION) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "malformed token: version %u, this node reads %d", p[0],
                 TOKEN_VERSION);
        return AUGUR_EMALFORMED;
    }
    memcpy(out->key, p + 1, SECURE_PK_SIZE);
    out->role = (enum augur_role_rank)p[1 + SECURE_PK_SIZE];
    out->issued_at = be64_get(p + 2 + SECURE_PK_SIZE);
    out->expires_at = be64_get(p + 10 + SECURE_PK_SIZE);
    memcpy(out->nonce, p + 18 + SECURE_PK_SIZE, TOKEN_NONCE_SIZE);
    if (token_role_name(out->role) == NULL) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "malformed token: role %u is none of agent, reader, "
                 "operator, admin",
                 p[1 + SECURE_PK_SIZE]);
        return AUGUR_EMALFORMED;
    }
    if (out->expires_at <= out->issued_at) {
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "malformed token: it expires before it is issued");
        return AUGUR_EMALFORMED;
    }
    *fault = TOKEN_OK;
    return 0;
}

int token_parse(const char *token,
                size_t len,
                struct token_claims *out,
                enum token_fault *fault,
                char *errmsg)
{
    uint8_t payload[TOKEN_PAYLOAD_SIZE];
    uint8_t sig[SECURE_SIG_SIZE];

    return parse(token, len, out, payload, sig, fault, errmsg);
}

static int refuse(enum token_fault *fault,
                  enum token_fault why,
                  int code,
                  char *errmsg,
                  const char *what)
{
    *fault = why;
    snprintf(errmsg, TOKEN_ERRMSG_SIZE, "%s", what);
    return code;
}

int token_verify(const char *token,
                 size_t len,
                 token_lookup_fn lookup,
                 void *arg,
                 uint64_t now,
                 struct token_claims *out,
                 char *name,
                 size_t name_size,
                 enum token_fault *fault,
                 char *errmsg)
{
    uint8_t m[sizeof token_domain + TOKEN_PAYLOAD_SIZE];
    uint8_t payload[TOKEN_PAYLOAD_SIZE];
    uint8_t sig[SECURE_SIG_SIZE];
    enum augur_role_rank have = AUGUR_ROLE_ANY;
    char hex[SECURE_HEX_SIZE];
    int rv;

    if (name_size > 0) {
        name[0] = '\0';
    }
    rv = parse(token, len, out, payload, sig, fault, errmsg);
    if (rv != 0) {
        return rv;
    }
    /* The signature first: nothing a token claims counts before it. */
    message_make(payload, m);
    if (crypto_sign_verify_detached(sig, m, sizeof m, out->key) != 0) {
        return refuse(fault, TOKEN_BAD_SIGNATURE, AUGUR_EAUTH, errmsg,
                      "token refused: its signature does not verify");
    }
    if (out->expires_at - out->issued_at > TOKEN_TTL_MAX) {
        return refuse(fault, TOKEN_TTL_TOO_LONG, AUGUR_EAUTH, errmsg,
                      "token refused: it lives longer than 30 days");
    }
    if (out->issued_at > now && out->issued_at - now > TOKEN_SKEW_MAX) {
        *fault = TOKEN_NOT_YET_VALID;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "token refused: issued %llu s in the future (more than "
                 "%u s of clock skew)",
                 (unsigned long long)(out->issued_at - now), TOKEN_SKEW_MAX);
        return AUGUR_EAUTH;
    }
    if (now >= out->expires_at) {
        *fault = TOKEN_EXPIRED;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "token refused: it expired %llu s ago",
                 (unsigned long long)(now - out->expires_at));
        return AUGUR_EAUTH;
    }
    secure_key_hex(out->key, hex);
    rv = lookup(arg, out->key, name, name_size, &have);
    if (rv == AUGUR_ENOTFOUND) {
        *fault = TOKEN_UNKNOWN_PRINCIPAL;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "token refused: key %.16s... is no principal of this "
                 "cluster (removed?)",
                 hex);
        return AUGUR_EAUTH;
    }
    if (rv != 0) {
        *fault = TOKEN_LOOKUP_FAILED;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "token refused: cannot look up its principal: %s",
                 augur_strerror(rv));
        return AUGUR_EAUTH;
    }
    if (out->role > have) {
        *fault = TOKEN_ROLE_TOO_WIDE;
        snprintf(errmsg, TOKEN_ERRMSG_SIZE,
                 "token refused: role %s is wider than principal %s's role %s",
                 token_role_name(out->role), name,
                 token_role_name(have) != NULL ? token_role_name(have) : "?");
        return AUGUR_EPERM;
    }
    *fault = TOKEN_OK;
    return 0;
}
