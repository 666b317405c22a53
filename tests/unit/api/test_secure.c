/* Unit tests of api/secure.c: key files, the handshake and sealed frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire/secure.h"

/* Both ends of one handshake, run to the end. */
struct pair
{
    struct secure_key cluster;
    struct secure_identity node; /* node 3, certified by @cluster */
    struct secure_key client;
    /* Called on the CHALLENGE frame before the client checks it. */
    void (*tamper)(struct pair *p, msgpack_sbuffer *challenge);
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
    assert_int_equal(secure_server_hello(&p->shs, f.payload, f.len, &p->node,
                                         p->cluster.pk, 3, &wire2, p->errmsg),
                     0);
    assert_int_equal(p->shs.client, 77);
    if (p->tamper != NULL) {
        p->tamper(p, &wire2);
    }
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
    assert_int_equal(secure_key_generate(&p->node.key), 0);
    assert_int_equal(
        secure_cert_sign(&p->node.cert, &p->cluster, 3, p->node.key.pk, 0), 0);
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
    struct secure_identity node;

    /* The mac is checked before the node's identity is used at all. */
    memset(&node, 0, sizeof node);
    msgpack_sbuffer_init(&out);
    assert_int_equal(secure_server_hello(&hs, payload, len, &node, cluster->pk,
                                         3, &out, errmsg),
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

static void challenge_with_a_cert_by_another_cluster_key_is_refused(
    void **state)
{
    struct pair p;
    struct secure_key other;

    (void)state;
    pair_init(&p);
    assert_int_equal(secure_key_generate(&other), 0);
    assert_int_equal(
        secure_cert_sign(&p.node.cert, &other, 3, p.node.key.pk, 0), 0);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), AUGUR_EAUTH);
    assert_non_null(strstr(p.errmsg, "not signed by the cluster key"));
    pair_close(&p);
}

static void challenge_with_a_cert_for_another_node_is_refused(void **state)
{
    struct pair p;

    (void)state;
    pair_init(&p);
    /* Node 4's certificate, shown by a server that says it is node 3. */
    assert_int_equal(
        secure_cert_sign(&p.node.cert, &p.cluster, 4, p.node.key.pk, 0), 0);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), AUGUR_EAUTH);
    assert_non_null(strstr(p.errmsg, "certificate is for node 4"));
    pair_close(&p);
}

static void challenge_with_a_cert_for_another_key_is_refused(void **state)
{
    struct pair p;
    struct secure_key stolen;

    (void)state;
    pair_init(&p);
    /* A valid certificate of node 3 (copied off node 3), but the server
     * signs with a key of its own: the signature must be by the certified
     * key. */
    assert_int_equal(secure_key_generate(&stolen), 0);
    p.node.key = stolen;
    assert_int_equal(pair_handshake(&p, p.cluster.pk), AUGUR_EAUTH);
    assert_non_null(strstr(p.errmsg, "did not prove the key"));
    pair_close(&p);
}

/* Flip one bit of the certificate inside the CHALLENGE. */
static void flip_cert_bit(struct pair *p, msgpack_sbuffer *challenge)
{
    uint8_t *pk = memmem(challenge->data, challenge->size, p->node.key.pk,
                         SECURE_PK_SIZE);
    assert_non_null(pk);
    pk[SECURE_PK_SIZE + 8 + 5] ^= 0x01; /* inside the cluster's signature */
}

/* Replace the certified node id (a byte before the key) inside the
 * CHALLENGE. */
static void change_cert_node(struct pair *p, msgpack_sbuffer *challenge)
{
    uint8_t *pk = memmem(challenge->data, challenge->size, p->node.key.pk,
                         SECURE_PK_SIZE);
    assert_non_null(pk);
    pk[-1] ^= 0x07; /* node 3 becomes node 4 */
}

static void challenge_with_a_tampered_cert_is_refused(void **state)
{
    struct pair p;

    (void)state;
    pair_init(&p);
    p.tamper = flip_cert_bit;
    assert_int_equal(pair_handshake(&p, p.cluster.pk), AUGUR_EAUTH);
    pair_close(&p);
    pair_init(&p);
    p.tamper = change_cert_node;
    assert_int_equal(pair_handshake(&p, p.cluster.pk), AUGUR_EAUTH);
    pair_close(&p);
}

static void challenge_with_an_expired_cert_is_refused(void **state)
{
    struct pair p;

    (void)state;
    pair_init(&p);
    assert_int_equal(secure_cert_sign(&p.node.cert, &p.cluster, 3,
                                      p.node.key.pk, (uint64_t)time(NULL) - 60),
                     0);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), AUGUR_EAUTH);
    assert_non_null(strstr(p.errmsg, "expired"));
    pair_close(&p);
    pair_init(&p);
    assert_int_equal(
        secure_cert_sign(&p.node.cert, &p.cluster, 3, p.node.key.pk,
                         (uint64_t)time(NULL) + 3600),
        0);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    assert_int_equal(p.chs.peer_cert.node, 3);
    assert_memory_equal(p.chs.peer_cert.pk, p.node.key.pk, SECURE_PK_SIZE);
    pair_close(&p);
}

/* Node to node: the connector (node 5, @conn) answers p's CHALLENGE with
 * secure_node_challenge; p's server checks it with secure_node_auth. */
static int node_auth(struct pair *p,
                     const struct secure_identity *conn,
                     struct secure_cert *peer)
{
    struct proto_frame f;
    msgpack_sbuffer wire2;

    msgpack_sbuffer_init(&p->wire);
    msgpack_sbuffer_init(&wire2);
    assert_int_equal(secure_client_hello(&p->chs, 5, p->cluster.pk, &p->wire),
                     0);
    f = only_frame(&p->wire);
    assert_int_equal(secure_server_hello(&p->shs, f.payload, f.len, &p->node,
                                         p->cluster.pk, 3, &wire2, p->errmsg),
                     0);
    f = only_frame(&wire2);
    p->wire.size = 0;
    assert_int_equal(
        secure_node_challenge(&p->chs, f.payload, f.len, p->cluster.pk, conn,
                              &p->wire, &p->cch, p->errmsg),
        0);
    msgpack_sbuffer_destroy(&wire2);
    f = only_frame(&p->wire);
    return secure_node_auth(&p->shs, f.payload, f.len, p->cluster.pk, peer,
                            &p->sch, p->errmsg);
}

static void node_auth_needs_a_cert_for_the_proven_key(void **state)
{
    struct pair p;
    struct secure_identity conn;
    struct secure_key other;
    struct secure_cert peer;

    (void)state;
    assert_int_equal(secure_key_generate(&other), 0);
    pair_init(&p);
    assert_int_equal(secure_key_generate(&conn.key), 0);
    assert_int_equal(
        secure_cert_sign(&conn.cert, &p.cluster, 5, conn.key.pk, 0), 0);
    assert_int_equal(node_auth(&p, &conn, &peer), 0);
    assert_int_equal(peer.node, 5);
    assert_memory_equal(peer.pk, conn.key.pk, SECURE_PK_SIZE);
    pair_close(&p);

    /* A certificate for another key (node 5's, copied) with a key of its
     * own. */
    pair_init(&p);
    assert_int_equal(secure_cert_sign(&conn.cert, &p.cluster, 5, other.pk, 0),
                     0);
    assert_int_equal(node_auth(&p, &conn, &peer), AUGUR_EAUTH);
    assert_non_null(strstr(p.errmsg, "another key"));
    pair_close(&p);

    /* A certificate by another cluster key. */
    pair_init(&p);
    assert_int_equal(secure_cert_sign(&conn.cert, &other, 5, conn.key.pk, 0),
                     0);
    assert_int_equal(node_auth(&p, &conn, &peer), AUGUR_EAUTH);
    pair_close(&p);

    /* A principal's AUTH (no certificate) where a node's is required. */
    pair_init(&p);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    {
        struct proto_frame f = only_frame(&p.wire);
        assert_int_equal(
            secure_node_auth(&p.shs, f.payload, f.len, p.cluster.pk, &peer,
                             &p.sch, p.errmsg),
            AUGUR_EMALFORMED);
    }
    pair_close(&p);
}

/* The client port's AUTH check: a principal's AUTH (no "cert") proves its
 * key only; a node's AUTH ("cert", as a follower's uplink sends it) is
 * checked as between peers, and a certificate for another key, or by
 * another cluster key, is refused. */
static void client_port_auth_takes_a_principal_or_a_certified_node(void **state)
{
    struct pair p;
    struct secure_identity conn;
    struct secure_key other;
    struct secure_cert peer;
    struct proto_frame f;
    uint8_t pk[SECURE_PK_SIZE];
    bool has_cert = true;
    msgpack_sbuffer wire2;

    (void)state;
    assert_int_equal(secure_key_generate(&other), 0);
    assert_int_equal(secure_key_generate(&conn.key), 0);

    /* A principal. */
    pair_init(&p);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    f = only_frame(&p.wire);
    assert_int_equal(
        secure_server_auth_any(&p.shs, f.payload, f.len, p.cluster.pk, pk,
                               &peer, &has_cert, &p.sch, p.errmsg),
        0);
    assert_false(has_cert);
    assert_memory_equal(pk, p.client.pk, SECURE_PK_SIZE);
    pair_close(&p);

    /* A node with its certificate; then with one for another key, and with
     * one by another cluster key. */
    for (int i = 0; i < 3; i++) {
        pair_init(&p);
        assert_int_equal(
            secure_cert_sign(&conn.cert, i == 2 ? &other : &p.cluster, 5,
                             i == 1 ? other.pk : conn.key.pk, 0),
            0);
        msgpack_sbuffer_init(&p.wire);
        msgpack_sbuffer_init(&wire2);
        assert_int_equal(secure_client_hello(&p.chs, 5, p.cluster.pk, &p.wire),
                         0);
        f = only_frame(&p.wire);
        assert_int_equal(secure_server_hello(&p.shs, f.payload, f.len, &p.node,
                                             p.cluster.pk, 3, &wire2, p.errmsg),
                         0);
        f = only_frame(&wire2);
        p.wire.size = 0;
        assert_int_equal(
            secure_node_challenge(&p.chs, f.payload, f.len, p.cluster.pk, &conn,
                                  &p.wire, &p.cch, p.errmsg),
            0);
        msgpack_sbuffer_destroy(&wire2);
        f = only_frame(&p.wire);
        has_cert = false;
        if (i == 0) {
            assert_int_equal(
                secure_server_auth_any(&p.shs, f.payload, f.len, p.cluster.pk,
                                       pk, &peer, &has_cert, &p.sch, p.errmsg),
                0);
            assert_true(has_cert);
            assert_int_equal(peer.node, 5);
            assert_memory_equal(pk, conn.key.pk, SECURE_PK_SIZE);
        } else {
            assert_int_equal(
                secure_server_auth_any(&p.shs, f.payload, f.len, p.cluster.pk,
                                       pk, &peer, &has_cert, &p.sch, p.errmsg),
                AUGUR_EAUTH);
        }
        pair_close(&p);
    }
}

static void cert_files_round_trip(void **state)
{
    char dir[] = "/tmp/augur-cert-XXXXXX";
    char path[256];
    struct secure_key cluster, node;
    struct secure_cert c, back;
    char errmsg[SECURE_ERRMSG_SIZE];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/n.cert", dir);
    assert_int_equal(secure_key_generate(&cluster), 0);
    assert_int_equal(secure_key_generate(&node), 0);
    assert_int_equal(secure_cert_sign(&c, &cluster, 42, node.pk, 1234567), 0);
    assert_int_equal(secure_cert_save(&c, path, errmsg), 0);
    assert_int_equal(secure_cert_save(&c, path, errmsg), AUGUR_EEXIST);
    assert_int_equal(secure_cert_load(path, &back, errmsg), 0);
    assert_memory_equal(&back, &c, sizeof c);
    assert_int_equal(secure_cert_verify(&back, cluster.pk, 1234567, errmsg), 0);
    assert_int_equal(secure_cert_verify(&back, cluster.pk, 1234568, errmsg),
                     AUGUR_EAUTH);
    assert_int_equal(secure_cert_verify(&back, node.pk, 0, errmsg),
                     AUGUR_EAUTH);
    unlink(path);
    /* A key file is not a certificate. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
          f);
    fclose(f);
    assert_int_equal(secure_cert_load(path, &back, errmsg), AUGUR_EMALFORMED);
    unlink(path);
    rmdir(dir);
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
    q.node = p.node;
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

/* A message scattered over several buffers (as libraft writes one) seals
 * into frames that open to exactly its bytes, slice by slice; a slice the
 * buffers cannot fill, or one too long for a frame, is refused and the
 * output is left alone. */
static void gathered_slices_seal_and_open_to_the_same_bytes(void **state)
{
    struct pair p;
    char b0[5] = "head:", b1[1] = {'|'}, b2[300];
    struct iovec iov[4];
    msgpack_sbuffer out;
    struct proto_frame outer, inner;
    size_t total, used = 0, off = 0;
    char whole[sizeof b0 + sizeof b1 + sizeof b2];

    (void)state;
    pair_init(&p);
    assert_int_equal(pair_handshake(&p, p.cluster.pk), 0);
    assert_int_equal(pair_auth(&p), 0);
    for (size_t i = 0; i < sizeof b2; i++) {
        b2[i] = (char)('a' + i % 26);
    }
    iov[0] = (struct iovec){b0, sizeof b0};
    iov[1] = (struct iovec){NULL, 0}; /* an empty buffer is skipped */
    iov[2] = (struct iovec){b1, sizeof b1};
    iov[3] = (struct iovec){b2, sizeof b2};
    total = sizeof b0 + sizeof b1 + sizeof b2;
    memcpy(whole, b0, sizeof b0);
    memcpy(whole + sizeof b0, b1, sizeof b1);
    memcpy(whole + sizeof b0 + sizeof b1, b2, sizeof b2);
    msgpack_sbuffer_init(&out);
    /* Three slices that cut across buffer boundaries. */
    assert_int_equal(
        secure_seal_gather(&p.cch, PROTO_REQUEST, iov, 4, 0, 3, &out), 0);
    assert_int_equal(
        secure_seal_gather(&p.cch, PROTO_REQUEST, iov, 4, 3, 100, &out), 0);
    assert_int_equal(secure_seal_gather(&p.cch, PROTO_REQUEST, iov, 4, 103,
                                        total - 103, &out),
                     0);
    while (used < out.size) {
        size_t n = 0;
        assert_int_equal(proto_frame_parse(
                             (const uint8_t *)out.data + used, out.size - used,
                             PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD, &outer, &n),
                         0);
        assert_true(n > 0);
        assert_int_equal(secure_open(&p.sch, &outer, &inner), 0);
        assert_int_equal(inner.type, PROTO_REQUEST);
        assert_true(off + inner.len <= total);
        assert_memory_equal(inner.payload, whole + off, inner.len);
        off += inner.len;
        used += n;
    }
    assert_int_equal(off, total);
    /* More than the buffers hold, and more than a frame carries. */
    used = out.size;
    assert_int_equal(
        secure_seal_gather(&p.cch, PROTO_REQUEST, iov, 4, 10, total - 9, &out),
        AUGUR_EMALFORMED);
    assert_int_equal(secure_seal_gather(&p.cch, PROTO_REQUEST, iov, 4, 0,
                                        PROTO_FRAME_MAX, &out),
                     AUGUR_EMALFORMED);
    assert_int_equal(out.size, used);
    msgpack_sbuffer_destroy(&out);
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

/* VmLck of this process, in kB (-1 when /proc says nothing). */
static long locked_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmLck:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

/* A secret half is locked in memory while held (where the system allows:
 * with RLIMIT_MEMLOCK at 0 the test has nothing to check) and zeroed and
 * unlocked by secure_key_wipe. */
static void secret_keys_are_locked_and_wiped(void **state)
{
    static const uint8_t zero[SECURE_SK_SIZE];
    struct secure_key k;
    long before = locked_kb();

    (void)state;
    memset(&k, 0, sizeof k);
    assert_int_equal(secure_key_generate(&k), 0);
    if (before >= 0 && locked_kb() == before) {
        skip();
    }
    assert_true(locked_kb() > before);
    secure_key_wipe(&k);
    assert_memory_equal(k.sk, zero, sizeof zero);
    assert_false(k.has_secret);
    assert_int_equal(locked_kb(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_proves_both_keys_and_frames_flow),
        cmocka_unit_test(server_without_the_cluster_key_is_refused),
        cmocka_unit_test(
            challenge_with_a_cert_by_another_cluster_key_is_refused),
        cmocka_unit_test(challenge_with_a_cert_for_another_node_is_refused),
        cmocka_unit_test(challenge_with_a_cert_for_another_key_is_refused),
        cmocka_unit_test(challenge_with_a_tampered_cert_is_refused),
        cmocka_unit_test(challenge_with_an_expired_cert_is_refused),
        cmocka_unit_test(node_auth_needs_a_cert_for_the_proven_key),
        cmocka_unit_test(
            client_port_auth_takes_a_principal_or_a_certified_node),
        cmocka_unit_test(cert_files_round_trip),
        cmocka_unit_test(auth_for_another_key_is_refused),
        cmocka_unit_test(auth_replayed_into_another_session_is_refused),
        cmocka_unit_test(replayed_reordered_and_tampered_frames_do_not_open),
        cmocka_unit_test(gathered_slices_seal_and_open_to_the_same_bytes),
        cmocka_unit_test(key_files_round_trip_and_refuse_loose_modes),
        cmocka_unit_test(secret_keys_are_locked_and_wiped),
        cmocka_unit_test(handshake_messages_fit_the_preauth_limit),
        cmocka_unit_test(hello_without_a_valid_mac_is_refused_before_signing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
