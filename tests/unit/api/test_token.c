/* Unit tests of wire/token.c: bearer tokens made and verified, and every
 * way one is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/error.h"
#include "wire/token.h"

#define NOW 1800000000u /* 2027-01-15 */

/* The principals a test's lookup knows: one key, its name and role. */
struct principals
{
    uint8_t key[SECURE_PK_SIZE];
    enum augur_role_rank role;
    int fail; /* non-zero: the lookup answers this */
    unsigned calls;
};

static int lookup(void *arg,
                  const uint8_t key[SECURE_PK_SIZE],
                  char *name,
                  size_t name_size,
                  enum augur_role_rank *role)
{
    struct principals *p = arg;

    p->calls++;
    if (p->fail != 0) {
        return p->fail;
    }
    if (memcmp(key, p->key, SECURE_PK_SIZE) != 0) {
        return AUGUR_ENOTFOUND;
    }
    snprintf(name, name_size, "alice");
    *role = p->role;
    return 0;
}

struct fixture
{
    struct secure_key k;
    struct principals p;
    char token[TOKEN_SIZE];
    struct token_claims c;
    char name[64];
    enum token_fault fault;
    char errmsg[TOKEN_ERRMSG_SIZE];
};

static void fixture_init(struct fixture *f, enum augur_role_rank role)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(secure_init(), 0);
    assert_int_equal(secure_key_generate(&f->k), 0);
    memcpy(f->p.key, f->k.pk, SECURE_PK_SIZE);
    f->p.role = role;
}

static int verify_at(struct fixture *f, const char *token, uint64_t now)
{
    return token_verify(token, strlen(token), lookup, &f->p, now, &f->c,
                        f->name, sizeof f->name, &f->fault, f->errmsg);
}

/* A token made as docs/TOKENS.md says, independently of token_create: the
 * payload fields, the domain string and the signature. */
static void token_by_hand(char out[TOKEN_SIZE],
                          const struct secure_key *signer,
                          const uint8_t key[SECURE_PK_SIZE],
                          uint8_t version,
                          uint8_t role,
                          uint64_t iat,
                          uint64_t exp)
{
    static const char domain[] = "augur token v1";
    uint8_t payload[TOKEN_PAYLOAD_SIZE];
    uint8_t m[sizeof domain + TOKEN_PAYLOAD_SIZE];
    uint8_t sig[SECURE_SIG_SIZE];
    size_t off;

    payload[0] = version;
    memcpy(payload + 1, key, SECURE_PK_SIZE);
    payload[33] = role;
    for (int i = 0; i < 8; i++) {
        payload[34 + i] = (uint8_t)(iat >> (56 - 8 * i));
        payload[42 + i] = (uint8_t)(exp >> (56 - 8 * i));
    }
    memset(payload + 50, 0x5a, TOKEN_NONCE_SIZE);
    memcpy(m, domain, sizeof domain);
    memcpy(m + sizeof domain, payload, sizeof payload);
    crypto_sign_detached(sig, NULL, m, sizeof m, signer->sk);
    memcpy(out, "augur1.", 7);
    sodium_bin2base64(out + 7, 89, payload, sizeof payload,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    off = strlen(out);
    out[off++] = '.';
    sodium_bin2base64(out + off, 87, sig, sizeof sig,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void token_round_trips_with_its_claims(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_ADMIN);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_ADMIN, 3600, NOW, f.token, f.errmsg), 0);
    assert_int_equal(strlen(f.token), TOKEN_LEN);
    assert_int_equal(TOKEN_LEN, 182);
    assert_memory_equal(f.token, "augur1.", 7);
    /* URL-safe: nothing a URL or a header would need to escape. */
    for (size_t i = 0; i < TOKEN_LEN; i++) {
        char ch = f.token[i];
        assert_true((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
                    ch == '.');
    }
    assert_int_equal(verify_at(&f, f.token, NOW), 0);
    assert_int_equal(f.fault, TOKEN_OK);
    assert_string_equal(f.name, "alice");
    assert_int_equal(f.c.role, AUGUR_ROLE_ADMIN);
    assert_int_equal(f.c.issued_at, NOW);
    assert_int_equal(f.c.expires_at, NOW + 3600);
    assert_memory_equal(f.c.key, f.k.pk, SECURE_PK_SIZE);
    secure_key_wipe(&f.k);
}

static void two_tokens_differ_by_their_nonce(void **state)
{
    struct fixture f;
    char other[TOKEN_SIZE];
    (void)state;

    fixture_init(&f, AUGUR_ROLE_READER);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_READER, 60, NOW, f.token, f.errmsg), 0);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_READER, 60, NOW, other, f.errmsg), 0);
    assert_string_not_equal(f.token, other);
    secure_key_wipe(&f.k);
}

static void a_token_made_by_hand_from_the_docs_verifies(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_OPERATOR);
    token_by_hand(f.token, &f.k, f.k.pk, 1, AUGUR_ROLE_OPERATOR, NOW, NOW + 10);
    assert_int_equal(verify_at(&f, f.token, NOW + 9), 0);
    assert_int_equal(f.c.role, AUGUR_ROLE_OPERATOR);
    assert_int_equal(
        token_parse(f.token, strlen(f.token), &f.c, &f.fault, f.errmsg), 0);
    assert_int_equal(f.c.expires_at, NOW + 10);
    secure_key_wipe(&f.k);
}

/* Every byte of a token matters: change any one to another character of
 * the alphabet (or to one outside it) and it is refused. */
static void tampering_with_any_byte_is_refused(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/";
    struct fixture f;
    char t[TOKEN_SIZE];
    (void)state;

    fixture_init(&f, AUGUR_ROLE_ADMIN);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_ADMIN, 3600, NOW, f.token, f.errmsg), 0);
    for (size_t i = 0; i < TOKEN_LEN; i++) {
        for (size_t j = 0; j < sizeof alphabet - 1; j += 7) {
            if (alphabet[j] == f.token[i]) {
                continue;
            }
            memcpy(t, f.token, sizeof t);
            t[i] = alphabet[j];
            assert_int_not_equal(verify_at(&f, t, NOW), 0);
            assert_int_not_equal(f.fault, TOKEN_OK);
        }
    }
    secure_key_wipe(&f.k);
}

static void expired_token_is_refused(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_READER);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_READER, 100, NOW, f.token, f.errmsg), 0);
    assert_int_equal(verify_at(&f, f.token, NOW + 99), 0);
    assert_int_equal(verify_at(&f, f.token, NOW + 100), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_EXPIRED);
    assert_non_null(strstr(f.errmsg, "expired"));
    assert_int_equal(verify_at(&f, f.token, NOW + 100000), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_EXPIRED);
    secure_key_wipe(&f.k);
}

static void token_from_the_future_beyond_the_skew_is_refused(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_READER);
    assert_int_equal(token_create(&f.k, AUGUR_ROLE_READER, 3600,
                                  NOW + TOKEN_SKEW_MAX, f.token, f.errmsg),
                     0);
    assert_int_equal(verify_at(&f, f.token, NOW), 0);
    assert_int_equal(token_create(&f.k, AUGUR_ROLE_READER, 3600,
                                  NOW + TOKEN_SKEW_MAX + 1, f.token, f.errmsg),
                     0);
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_NOT_YET_VALID);
    secure_key_wipe(&f.k);
}

static void token_living_over_thirty_days_is_refused(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_READER);
    assert_int_equal(token_create(&f.k, AUGUR_ROLE_READER, TOKEN_TTL_MAX + 1,
                                  NOW, f.token, f.errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_READER, 0, NOW, f.token, f.errmsg),
        AUGUR_EINVAL);
    assert_int_equal(token_create(&f.k, AUGUR_ROLE_READER, 60, UINT64_MAX - 59,
                                  f.token, f.errmsg),
                     AUGUR_EINVAL);
    /* Signed by the right key but with a longer life than create allows. */
    token_by_hand(f.token, &f.k, f.k.pk, 1, AUGUR_ROLE_READER, NOW,
                  NOW + TOKEN_TTL_MAX + 1);
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_TTL_TOO_LONG);
    token_by_hand(f.token, &f.k, f.k.pk, 1, AUGUR_ROLE_READER, NOW,
                  NOW + TOKEN_TTL_MAX);
    assert_int_equal(verify_at(&f, f.token, NOW), 0);
    secure_key_wipe(&f.k);
}

/* A token naming one key but signed by another: the signature is checked
 * against the key the token names, never one the bearer chooses. */
static void token_signed_by_another_key_is_refused(void **state)
{
    struct fixture f;
    struct secure_key mallory;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_ADMIN);
    assert_int_equal(secure_key_generate(&mallory), 0);
    token_by_hand(f.token, &mallory, f.k.pk, 1, AUGUR_ROLE_ADMIN, NOW,
                  NOW + 60);
    f.p.calls = 0;
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_BAD_SIGNATURE);
    assert_int_equal(f.p.calls, 0); /* refused before any lookup */
    /* Mallory's own, well signed, is no principal's. */
    assert_int_equal(
        token_create(&mallory, AUGUR_ROLE_ADMIN, 60, NOW, f.token, f.errmsg),
        0);
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_UNKNOWN_PRINCIPAL);
    secure_key_wipe(&mallory);
    secure_key_wipe(&f.k);
}

static void removed_principal_and_failed_lookup_refuse(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_OPERATOR);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_OPERATOR, 60, NOW, f.token, f.errmsg), 0);
    f.p.fail = AUGUR_ENOTFOUND;
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_UNKNOWN_PRINCIPAL);
    f.p.fail = AUGUR_EIO;
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EAUTH);
    assert_int_equal(f.fault, TOKEN_LOOKUP_FAILED);
    secure_key_wipe(&f.k);
}

static void narrower_role_passes_and_wider_is_refused(void **state)
{
    struct fixture f;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_OPERATOR);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_READER, 60, NOW, f.token, f.errmsg), 0);
    assert_int_equal(verify_at(&f, f.token, NOW), 0);
    assert_int_equal(f.c.role, AUGUR_ROLE_READER);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_ADMIN, 60, NOW, f.token, f.errmsg), 0);
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EPERM);
    assert_int_equal(f.fault, TOKEN_ROLE_TOO_WIDE);
    /* A principal demoted after its token was made: the token shrinks
     * with it (refused), it never keeps the old role. */
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_OPERATOR, 60, NOW, f.token, f.errmsg), 0);
    f.p.role = AUGUR_ROLE_AGENT;
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EPERM);
    /* Roles outside AGENT..ADMIN are no token's. */
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_INTERNAL, 60, NOW, f.token, f.errmsg),
        AUGUR_EINVAL);
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_ANY, 60, NOW, f.token, f.errmsg),
        AUGUR_EINVAL);
    token_by_hand(f.token, &f.k, f.k.pk, 1, AUGUR_ROLE_NODE, NOW, NOW + 60);
    assert_int_equal(verify_at(&f, f.token, NOW), AUGUR_EMALFORMED);
    secure_key_wipe(&f.k);
}

static void oversized_input_is_refused_before_decoding(void **state)
{
    struct fixture f;
    char big[TOKEN_INPUT_MAX + 2];
    (void)state;

    fixture_init(&f, AUGUR_ROLE_ADMIN);
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "augur1.", 7);
    assert_int_equal(verify_at(&f, big, NOW), AUGUR_ETOOBIG);
    assert_int_equal(f.fault, TOKEN_TOO_LONG);
    assert_int_equal(f.p.calls, 0);
    /* Within the limit but longer than a token. */
    big[TOKEN_LEN + 1] = '\0';
    assert_int_equal(verify_at(&f, big, NOW), AUGUR_EMALFORMED);
    secure_key_wipe(&f.k);
}

static void garbage_is_malformed(void **state)
{
    static const char *const garbage[] = {
        "",
        "augur1.",
        "augur1..",
        "Bearer augur1.",
        "augur2.AAAA.BBBB",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
    };
    struct fixture f;
    char t[TOKEN_SIZE];
    (void)state;

    fixture_init(&f, AUGUR_ROLE_ADMIN);
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        assert_int_equal(verify_at(&f, garbage[i], NOW), AUGUR_EMALFORMED);
        assert_int_equal(f.fault, TOKEN_MALFORMED);
    }
    assert_int_equal(
        token_create(&f.k, AUGUR_ROLE_ADMIN, 60, NOW, f.token, f.errmsg), 0);
    /* The separator moved, the last character dropped, a NUL inside. */
    memcpy(t, f.token, sizeof t);
    t[7 + 88] = 'A';
    t[7 + 87] = '.';
    assert_int_equal(verify_at(&f, t, NOW), AUGUR_EMALFORMED);
    assert_int_equal(
        token_verify(f.token, TOKEN_LEN - 1, lookup, &f.p, NOW, &f.c, f.name,
                     sizeof f.name, &f.fault, f.errmsg),
        AUGUR_EMALFORMED);
    memcpy(t, f.token, sizeof t);
    t[20] = '\0';
    assert_int_equal(token_verify(t, TOKEN_LEN, lookup, &f.p, NOW, &f.c, f.name,
                                  sizeof f.name, &f.fault, f.errmsg),
                     AUGUR_EMALFORMED);
    /* Another version, even well signed. */
    token_by_hand(t, &f.k, f.k.pk, 2, AUGUR_ROLE_ADMIN, NOW, NOW + 60);
    assert_int_equal(verify_at(&f, t, NOW), AUGUR_EMALFORMED);
    /* Expires before it is issued. */
    token_by_hand(t, &f.k, f.k.pk, 1, AUGUR_ROLE_ADMIN, NOW, NOW);
    assert_int_equal(verify_at(&f, t, NOW), AUGUR_EMALFORMED);
    /* No refusal quotes the token. */
    assert_null(strstr(f.errmsg, t + 7 + 10));
    secure_key_wipe(&f.k);
}

static void a_public_key_alone_cannot_make_a_token(void **state)
{
    struct fixture f;
    struct secure_key pub;
    (void)state;

    fixture_init(&f, AUGUR_ROLE_ADMIN);
    memset(&pub, 0, sizeof pub);
    memcpy(pub.pk, f.k.pk, SECURE_PK_SIZE);
    assert_int_equal(
        token_create(&pub, AUGUR_ROLE_ADMIN, 60, NOW, f.token, f.errmsg),
        AUGUR_EINVAL);
    secure_key_wipe(&f.k);
}

static void role_names_round_trip(void **state)
{
    (void)state;
    for (int r = AUGUR_ROLE_AGENT; r <= AUGUR_ROLE_ADMIN; r++) {
        const char *name = token_role_name((enum augur_role_rank)r);
        assert_non_null(name);
        assert_int_equal(token_role_parse(name, strlen(name)), r);
    }
    assert_null(token_role_name(AUGUR_ROLE_ANY));
    assert_null(token_role_name(AUGUR_ROLE_NODE));
    assert_int_equal(token_role_parse("admins", 6), AUGUR_ROLE_ANY);
    assert_int_equal(token_role_parse("admin", 4), AUGUR_ROLE_ANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_round_trips_with_its_claims),
        cmocka_unit_test(two_tokens_differ_by_their_nonce),
        cmocka_unit_test(a_token_made_by_hand_from_the_docs_verifies),
        cmocka_unit_test(tampering_with_any_byte_is_refused),
        cmocka_unit_test(expired_token_is_refused),
        cmocka_unit_test(token_from_the_future_beyond_the_skew_is_refused),
        cmocka_unit_test(token_living_over_thirty_days_is_refused),
        cmocka_unit_test(token_signed_by_another_key_is_refused),
        cmocka_unit_test(removed_principal_and_failed_lookup_refuse),
        cmocka_unit_test(narrower_role_passes_and_wider_is_refused),
        cmocka_unit_test(oversized_input_is_refused_before_decoding),
        cmocka_unit_test(garbage_is_malformed),
        cmocka_unit_test(a_public_key_alone_cannot_make_a_token),
        cmocka_unit_test(role_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
