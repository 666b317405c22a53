/* Unit tests of api/secure.c: key files, the handshake and sealed frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire/secure.h"

/* Both ends of one handshake, run to the end. */
struct pair
{
    struct secure_key cluster;
    struct secure_key client;
    struct secure_handshake chs;
    struct secure_handshake shs;
    struct secure_channel cch;
    struct secure_channel sch;
    uint8_t proven[SECURE_PK_SIZE];
    msgpack_sbuffer wire;
    char errmsg[SECURE_ERRMSG_SIZE];
};

/* The payload of the only frame in @sb. */
static struct proto_frame only_frame(const msgpack_sbuffer *sb)
{
    struct proto_frame f;
    size_t used = 0;
    assert_int_equal(
        proto_frame_parse((const uint8_t *)sb->data, sb->size,
                          PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD, &f, &used),
        0);
    assert_int_equal(used, sb->size);
    return f;
}

/* Run the handshake with the client pinning @pinned; returns the result of
 * the client's check of the CHALLENGE. */
static int pair_handshake(struct pair *p, const uint8_t *pinned)
{
    struct proto_frame f;
    int rv;

    msgpack_sbuffer_init(&p->wire);
    assert_int_equal(secure_client_hello(&p->chs, 77, p->cluster.pk, &p->wire),
                     0);
    f = only_frame(&p->wire);
    assert_int_equal(f.type, PROTO_HELLO);
    msgpack_sbuffer wire2;
    msgpack_sbuffer_init(&wire2);
    assert_int_equal(secure_server_hello(&p->shs, f.payload, f.len, &p->cluster,
                                         3, &wire2, p->errmsg),
                     0);
    assert_int_equal(p->shs.client, 77);
    f = only_frame(&wire2);
    assert_int_equal(f.type, PROTO_CHALLENGE);
    p->wire.size = 0;
    rv = secure_client_challenge(&p->chs, f.payload, f.len, pinned, &p->client,
                                 &p->wire, &p->cch, p->errmsg);
    msgpack_sbuffer_destroy(&wire2);
    if (rv != 0) {
        return rv;
    }
    assert_int_equal(p->chs.node, 3);
    return 0;
}

static int pair_auth(struct pair *p)
{
    struct proto_frame f = only_frame(&p->wire);
    assert_int_equal(f.type, PROTO_AUTH);
    return secure_server_auth(&p->shs, f.payload, f.len, p->proven, &p->sch,
                              p->errmsg);
}

static void pair_init(struct pair *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(secure_key_generate(&p->cluster), 0);
    assert_int_equal(secure_key_generate(&p->client), 0);
}

static void pair_close(struct pair *p)
{
    msgpack_sbuffer_destroy(&p->wire);
    secure_channel_close(&p->cch);
    secure_channel_close(&p->sch);
}

/* Seal one CLOSE frame with @ch into @out. */
static void seal_one(struct secure_channel *ch,
                     const char *text,
                     msgpack_sbuffer *out)
{
    msgpack_sbuffer plain;
    msgpack_sbuffer_init(&plain);
    assert_int_equal(proto_close_append(&plain, 0, text), 0);
    assert_int_equal(
        secure_seal(ch, (const uint8_t *)plain.data, plain.size, out), 0);
    msgpack_sbuffer_destroy(&plain);
}

/* The handshake's messages fit the pre-authentication frame limit, and
 * every HELLO has the same size whatever its client id. */
static void handshake_messages_fit_the_preauth_limit(void **state)
{
    struct pair p;
    struct secure_handshake hs;
    msgpack_sbuffer a, b;

    (void)state;
    pair_init(&p);
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    assert_int_equal(secure_client_hello(&hs, 1, p.cluster.pk, &a), 0);
    assert_int_equal(secure_client_hello(&hs, UINT64_MAX, p.cluster.pk, &b), 0);
    assert_int_equal(a.size, b.size);
    assert_true(a.size - 4 <= PROTO_PREAUTH_FRAME_MAX);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    /* AUTH (a CHALLENGE is of the same size: a key, an id, a signature). */
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    assert_true(p.wire.size - 4 <= PROTO_PREAUTH_FRAME_MAX);
    secure_handshake_wipe(&hs);
    pair_close(&p);
}

/* Run secure_server_hello on @payload: it must refuse with EAUTH, having
 * written nothing (so signed nothing). */
static void assert_hello_refused(const uint8_t *payload,
                                 size_t len,
                                 const struct secure_key *cluster)
{
    struct secure_handshake hs;
    msgpack_sbuffer out;
    char errmsg[SECURE_ERRMSG_SIZE] = "";

    msgpack_sbuffer_init(&out);
    assert_int_equal(
        secure_server_hello(&hs, payload, len, cluster, 3, &out, errmsg),
        AUGUR_EAUTH);
    assert_int_equal(out.size, 0);
    assert_non_null(strstr(errmsg, "mac"));
    msgpack_sbuffer_destroy(&out);
}

static void hello_without_a_valid_mac_is_refused_before_signing(void **state)
{
    struct pair p;
    struct secure_key other;
    struct secure_handshake hs;
    struct proto_frame f;
    msgpack_sbuffer sb;
    uint8_t copy[PROTO_PREAUTH_FRAME_MAX];
    msgpack_packer pk;

    (void)state;
    pair_init(&p);
    assert_int_equal(secure_key_generate(&other), 0);

    /* Keyed by another cluster's public key. */
    msgpack_sbuffer_init(&sb);
    assert_int_equal(secure_client_hello(&hs, 5, other.pk, &sb), 0);
    f = only_frame(&sb);
    assert_hello_refused(f.payload, f.len, &p.cluster);
    assert_int_equal(secure_hello_mac_check(f.payload, f.len, other.pk), 0);

    /* The right key, one bit flipped anywhere. */
    sb.size = 0;
    assert_int_equal(secure_client_hello(&hs, 5, p.cluster.pk, &sb), 0);
    f = only_frame(&sb);
    assert_true(f.len <= sizeof copy);
    for (size_t i = 0; i < f.len; i++) {
        memcpy(copy, f.payload, f.len);
        copy[i] ^= 0x01;
        assert_int_equal(secure_hello_mac_check(copy, f.len, p.cluster.pk),
                         AUGUR_EAUTH);
    }
    assert_hello_refused(copy, f.len, &p.cluster);
    /* Unchanged, it passes. */
    assert_int_equal(secure_hello_mac_check(f.payload, f.len, p.cluster.pk), 0);

    /* No mac at all: the HELLO of the protocol before the mac. */
    sb.size = 0;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_map(&pk, 4), 0);
    assert_int_equal(msgpack_pack_str_with_body(&pk, "v", 1), 0);
    assert_int_equal(msgpack_pack_uint32(&pk, 1), 0);
    assert_int_equal(msgpack_pack_str_with_body(&pk, "client", 6), 0);
    assert_int_equal(msgpack_pack_uint64(&pk, 5), 0);
    assert_int_equal(msgpack_pack_str_with_body(&pk, "auth", 4), 0);
    assert_int_equal(msgpack_pack_str_with_body(&pk, "sodium1", 7), 0);
    assert_int_equal(msgpack_pack_str_with_body(&pk, "eph", 3), 0);
    assert_int_equal(msgpack_pack_bin_with_body(&pk, other.pk, 32), 0);
    assert_hello_refused((const uint8_t *)sb.data, sb.size, &p.cluster);
    /* Nothing at all. */
    assert_hello_refused((const uint8_t *)"", 0, &p.cluster);

    secure_handshake_wipe(&hs);
    msgpack_sbuffer_destroy(&sb);
    secure_key_wipe(&other);
    pair_close(&p);
}

static void handshake_proves_both_keys_and_frames_flow(void **state)
{
    struct pair p;
    msgpack_sbuffer sealed;
    struct proto_frame f, inner;

    (void)state;
    pair_init(&p);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    assert_int_equal(pair_auth(&p), 0);
    assert_memory_equal(p.proven, p.client.pk, SECURE_PK_SIZE);
    assert_memory_equal(p.cch.tx, p.sch.rx, SECURE_KEY_SIZE);
    assert_memory_equal(p.cch.rx, p.sch.tx, SECURE_KEY_SIZE);
    assert_memory_not_equal(p.cch.tx, p.cch.rx, SECURE_KEY_SIZE);

    msgpack_sbuffer_init(&sealed);
    seal_one(&p.cch, "hello server", &sealed);
    f = only_frame(&sealed);
    assert_int_equal(f.type, PROTO_SEALED);
    assert_int_equal(secure_open(&p.sch, &f, &inner), 0);
    assert_int_equal(inner.type, PROTO_CLOSE);
    sealed.size = 0;
    seal_one(&p.sch, "hello client", &sealed);
    f = only_frame(&sealed);
    assert_int_equal(secure_open(&p.cch, &f, &inner), 0);
    msgpack_sbuffer_destroy(&sealed);
    pair_close(&p);
}

static void server_without_the_cluster_key_is_refused(void **state)
{
    struct pair p;
    struct secure_key other;

    (void)state;
    pair_init(&p);
    assert_int_equal(secure_key_generate(&other), 0);
    assert_int_equal(pair_handshake(&p, other.pk), AUGUR_EAUTH);
    assert_non_null(strstr(p.errmsg, "cluster key"));
    pair_close(&p);
}

static void auth_for_another_key_is_refused(void **state)
{
    struct pair p;
    struct secure_key other;
    uint8_t *key;

    (void)state;
    pair_init(&p);
    assert_int_equal(secure_key_generate(&other), 0);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    /* Swap the claimed key for another one: the signature no longer
     * proves it. */
    key = memmem(p.wire.data, p.wire.size, p.client.pk, SECURE_PK_SIZE);
    assert_non_null(key);
    memcpy(key, other.pk, SECURE_PK_SIZE);
    assert_int_equal(pair_auth(&p), AUGUR_EAUTH);
    pair_close(&p);
}

static void auth_replayed_into_another_session_is_refused(void **state)
{
    struct pair p, q;

    (void)state;
    pair_init(&p);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    pair_init(&q);
    q.cluster = p.cluster;
    q.client = p.client;
    assert_int_equal(pair_handshake(&q, q.cluster.pk), 0);
    /* p's AUTH, offered to q's server: it signed p's transcript. */
    msgpack_sbuffer tmp = q.wire;
    q.wire = p.wire;
    assert_int_equal(pair_auth(&q), AUGUR_EAUTH);
    q.wire = tmp;
    pair_close(&p);
    pair_close(&q);
}

static void replayed_reordered_and_tampered_frames_do_not_open(void **state)
{
    struct pair p;
    msgpack_sbuffer a, b;
    struct proto_frame fa, fb, inner;

    (void)state;
    pair_init(&p);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    assert_int_equal(pair_auth(&p), 0);
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    seal_one(&p.cch, "first", &a);
    seal_one(&p.cch, "second", &b);
    fa = only_frame(&a);
    fb = only_frame(&b);
    /* Reordered: the second before the first. */
    assert_int_equal(secure_open(&p.sch, &fb, &inner), AUGUR_EAUTH);
    assert_int_equal(secure_open(&p.sch, &fa, &inner), 0);
    /* Replayed: the first again. */
    assert_int_equal(secure_open(&p.sch, &fa, &inner), AUGUR_EAUTH);
    /* Tampered: one bit of the second. */
    ((uint8_t *)b.data)[b.size - 3] ^= 0x10;
    assert_int_equal(secure_open(&p.sch, &fb, &inner), AUGUR_EAUTH);
    /* A plain frame where a sealed one belongs. */
    fa.type = PROTO_REQUEST;
    assert_int_equal(secure_open(&p.sch, &fa, &inner), AUGUR_EPROTO);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    pair_close(&p);
}

static void key_files_round_trip_and_refuse_loose_modes(void **state)
{
    char dir[] = "/tmp/augur-secure-XXXXXX";
    char path[256], pub[300];
    struct secure_key k, back;
    uint8_t pk[SECURE_PK_SIZE];
    char errmsg[SECURE_ERRMSG_SIZE];
    struct stat st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/k", dir);
    snprintf(pub, sizeof pub, "%s/k.pub", dir);
    assert_int_equal(secure_key_generate(&k), 0);
    assert_int_equal(secure_key_save(&k, path, errmsg), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(secure_key_save(&k, path, errmsg), AUGUR_EEXIST);
    assert_int_equal(secure_key_load_secret(path, &back, errmsg), 0);
    assert_memory_equal(back.sk, k.sk, SECURE_SK_SIZE);
    assert_memory_equal(back.pk, k.pk, SECURE_PK_SIZE);
    assert_int_equal(secure_key_load_public(pub, pk, errmsg), 0);
    assert_memory_equal(pk, k.pk, SECURE_PK_SIZE);
    /* The wrong half in either place. */
    assert_int_equal(secure_key_load_public(path, pk, errmsg),
                     AUGUR_EMALFORMED);
    assert_int_equal(chmod(pub, 0600), 0);
    assert_int_equal(secure_key_load_secret(pub, &back, errmsg),
                     AUGUR_EMALFORMED);
    /* A private key others may read. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(secure_key_load_secret(path, &back, errmsg), AUGUR_EAUTH);
    assert_non_null(strstr(errmsg, "chmod 600"));
    unlink(path);
    unlink(pub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_proves_both_keys_and_frames_flow),
        cmocka_unit_test(server_without_the_cluster_key_is_refused),
        cmocka_unit_test(auth_for_another_key_is_refused),
        cmocka_unit_test(auth_replayed_into_another_session_is_refused),
        cmocka_unit_test(replayed_reordered_and_tampered_frames_do_not_open),
        cmocka_unit_test(key_files_round_trip_and_refuse_loose_modes),
        cmocka_unit_test(handshake_messages_fit_the_preauth_limit),
        cmocka_unit_test(hello_without_a_valid_mac_is_refused_before_signing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
