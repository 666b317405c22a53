/* Bearer tokens: a principal's own Ed25519 signature over (its key, a role
 * at most its own, issued_at, expires_at, a nonce), so that any node checks
 * one against the replicated principals without a round trip and without a
 * cluster-wide secret.  Pure: no I/O, no clock (the caller passes now), no
 * allocation.  docs/TOKENS.md describes the format and the threat model. */
#ifndef AUGUR_WIRE_TOKEN_H
#define AUGUR_WIRE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ops.h"
#include "wire/secure.h"

#define TOKEN_WARN_UNUSED __attribute__((warn_unused_result))

/* "augur1." ‖ base64url(payload) ‖ "." ‖ base64url(signature), no padding. */
#define TOKEN_PREFIX "augur1."
#define TOKEN_VERSION 1
#define TOKEN_NONCE_SIZE 16
/* version, key, role, issued_at (u64 BE), expires_at (u64 BE), nonce. */
#define TOKEN_PAYLOAD_SIZE (1 + SECURE_PK_SIZE + 1 + 8 + 8 + TOKEN_NONCE_SIZE)
/* The exact length of every token of this version (88 + 86 + 8 = 182),
 * and the buffer it needs (with the NUL). */
#define TOKEN_LEN                                                     \
    (sizeof TOKEN_PREFIX - 1 + (TOKEN_PAYLOAD_SIZE * 4 + 2) / 3 + 1 + \
     (SECURE_SIG_SIZE * 4 + 2) / 3)
#define TOKEN_SIZE (TOKEN_LEN + 1)
/* Input longer than this is refused before it is decoded. */
#define TOKEN_INPUT_MAX 512
/* The longest lifetime a token may be given, and the default. */
#define TOKEN_TTL_MAX (30u * 24 * 3600)
#define TOKEN_TTL_DEFAULT 3600u
/* How far in the future issued_at may be (clocks differ between the
 * machine that made the token and the node that checks it). */
#define TOKEN_SKEW_MAX 300u
#define TOKEN_ERRMSG_SIZE 256

/* Why a token was refused; TOKEN_OK when it was not. */
enum token_fault
{
    TOKEN_OK = 0,
    TOKEN_MALFORMED,     /* not a token: prefix, base64url, length, fields */
    TOKEN_TOO_LONG,      /* over TOKEN_INPUT_MAX bytes */
    TOKEN_BAD_SIGNATURE, /* does not verify with the key it names */
    TOKEN_EXPIRED,       /* now >= expires_at */
    TOKEN_NOT_YET_VALID, /* issued_at beyond now + TOKEN_SKEW_MAX */
    TOKEN_TTL_TOO_LONG,  /* expires_at - issued_at over TOKEN_TTL_MAX */
    TOKEN_UNKNOWN_PRINCIPAL, /* its key is no principal (removed, or never) */
    TOKEN_ROLE_TOO_WIDE,     /* wider than the principal's role now */
    TOKEN_LOOKUP_FAILED,     /* the store could not tell: refused */
};

/* What a token says, once verified (or as far as it was parsed). */
struct token_claims
{
    uint8_t key[SECURE_PK_SIZE];
    enum augur_role_rank role; /* AGENT, READER, OPERATOR or ADMIN */
    uint64_t issued_at;        /* seconds since the epoch */
    uint64_t expires_at;
    uint8_t nonce[TOKEN_NONCE_SIZE];
};

/* Who holds public key @key now: 0 with the principal's name (at most
 * @name_size bytes with the NUL) and role rank (AUGUR_ROLE_AGENT..ADMIN),
 * AUGUR_ENOTFOUND when the key is no principal, any other code when the
 * lookup failed (the token is then refused). */
typedef int (*token_lookup_fn)(void *arg,
                               const uint8_t key[SECURE_PK_SIZE],
                               char *name,
                               size_t name_size,
                               enum augur_role_rank *role);

/* The role's name ("reader") for a rank AGENT..ADMIN, else NULL; and the
 * rank of a name (@len bytes), AUGUR_ROLE_ANY when it names none. */
const char *token_role_name(enum augur_role_rank role);
enum augur_role_rank token_role_parse(const char *name, size_t len);

/* Make a token for the holder of @k (its secret half is needed) with role
 * @role, valid from @now for @ttl seconds, into @out (TOKEN_SIZE bytes,
 * NUL-terminated).  The nonce comes from randombytes.  Returns 0, or
 * AUGUR_EINVAL (no secret key, a role that is not AGENT..ADMIN, a ttl of 0
 * or over TOKEN_TTL_MAX, @now + @ttl overflowing) with the reason in @errmsg
 * (TOKEN_ERRMSG_SIZE bytes).  The caller wipes @out when done: a token is a
 * secret. */
int token_create(const struct secure_key *k,
                 enum augur_role_rank role,
                 uint64_t ttl,
                 uint64_t now,
                 char out[TOKEN_SIZE],
                 char *errmsg) TOKEN_WARN_UNUSED;

/* Parse @token (@len bytes, need not be NUL-terminated) without checking
 * its signature or anyone's role: for showing what a token claims.  0 or
 * AUGUR_EMALFORMED / AUGUR_ETOOBIG with *@fault and @errmsg set. */
int token_parse(const char *token,
                size_t len,
                struct token_claims *out,
                enum token_fault *fault,
                char *errmsg) TOKEN_WARN_UNUSED;

/* Parse and verify @token at time @now: its form, its signature by the key
 * it names, its times (issued_at at most TOKEN_SKEW_MAX ahead, not expired,
 * lifetime at most TOKEN_TTL_MAX), then, through @lookup, that the key is
 * a principal's now and the token's role is at most that principal's.
 * Returns 0 with *@out, the principal's @name (@name_size bytes) and
 * *@fault TOKEN_OK; else AUGUR_ETOOBIG or AUGUR_EMALFORMED (not a token),
 * AUGUR_EAUTH (bad signature, expired, not yet valid, lifetime too long,
 * unknown principal, lookup failed) or AUGUR_EPERM (role wider than the
 * principal's), with *@fault saying which and @errmsg
 * (TOKEN_ERRMSG_SIZE bytes) why, never quoting the token. */
int token_verify(const char *token,
                 size_t len,
                 token_lookup_fn lookup,
                 void *arg,
                 uint64_t now,
                 struct token_claims *out,
                 char *name,
                 size_t name_size,
                 enum token_fault *fault,
                 char *errmsg) TOKEN_WARN_UNUSED;

/* A short name of @fault ("expired"), for logs and JSON. */
const char *token_fault_name(enum token_fault fault);

#endif
