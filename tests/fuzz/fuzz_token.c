/* Fuzz target: bearer token parsing and verification (wire/token.c), as the
 * HTTP server will meet an Authorization header.  The principal is a fixed
 * key (seed 0x01...), so that the corpus's well-signed token reaches the
 * lookup and the role check; whatever passes must satisfy the checks it
 * claims to have made. */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "wire/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The clock the corpus was made at: issued then, for an hour. */
#define NOW 1800000000u

static uint8_t principal_pk[SECURE_PK_SIZE];

static int lookup(void *arg,
                  const uint8_t key[SECURE_PK_SIZE],
                  char *name,
                  size_t name_size,
                  enum augur_role_rank *role)
{
    (void)arg;
    if (memcmp(key, principal_pk, SECURE_PK_SIZE) != 0) {
        return AUGUR_ENOTFOUND;
    }
    snprintf(name, name_size, "fuzz");
    *role = AUGUR_ROLE_OPERATOR;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    char errmsg[TOKEN_ERRMSG_SIZE];
    struct token_claims c;
    enum token_fault fault;
    char name[32];
    int rv;

    if (!ready) {
        uint8_t seed[crypto_sign_SEEDBYTES];
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        if (sodium_init() < 0) {
            __builtin_trap();
        }
        memset(seed, 1, sizeof seed);
        crypto_sign_seed_keypair(principal_pk, sk, seed);
        sodium_memzero(sk, sizeof sk);
        ready = true;
    }
    rv = token_verify((const char *)data, size, lookup, NULL, NOW, &c, name,
                      sizeof name, &fault, errmsg);
    if ((rv == 0) != (fault == TOKEN_OK)) {
        __builtin_trap();
    }
    if (rv == 0 && (size != TOKEN_LEN || c.role < AUGUR_ROLE_AGENT ||
                    c.role > AUGUR_ROLE_OPERATOR || c.expires_at <= NOW ||
                    c.expires_at - c.issued_at > TOKEN_TTL_MAX ||
                    memcmp(c.key, principal_pk, SECURE_PK_SIZE) != 0 ||
                    strcmp(name, "fuzz") != 0)) {
        __builtin_trap();
    }
    if (token_parse((const char *)data, size, &c, &fault, errmsg) == 0 &&
        (size != TOKEN_LEN || c.expires_at <= c.issued_at)) {
        __builtin_trap();
    }
    return 0;
}
