/* The authenticated channel: key files, the mutual handshake and sealed
 * frames (see api/secure.h and docs/PROTOCOL.md). */
#include "wire/secure.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"

/* Domain separation: every hash and signature names what it is for, so
 * that a signature made for one purpose is worthless in another. */
static const char label_hello[] = "augur sodium1 hello";
static const char label_server[] = "augur sodium1 server signs";
static const char label_client[] = "augur sodium1 client signs";
static const char label_keys[] = "augur sodium1 session keys";
static const char label_cert[] = "augur node cert v1";
static const char cert_file_prefix[] = "augur-node-cert-v1 ";
static const char label_mac1[] = "augur mac1";
/* How a HELLO ends: the key "mac" and the header of a 16-byte bin, then
 * the mac itself. */
static const uint8_t mac_suffix[] = {0xa3, 'm',  'a',
                                     'c',  0xc4, SECURE_MAC_SIZE};

static int fail(char *errmsg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errmsg, int code, const char *fmt, ...)
{
    va_list ap;

    if (errmsg != NULL) {
        va_start(ap, fmt);
        vsnprintf(errmsg, SECURE_ERRMSG_SIZE, fmt, ap);
        va_end(ap);
    }
    return code;
}

int secure_init(void)
{
    return sodium_init() < 0 ? AUGUR_EINTERNAL : 0;
}

/* ---- keys ------------------------------------------------------------- */

/* Keep a secret half out of swap and core dumps where the system allows;
 * a system that does not (RLIMIT_MEMLOCK) only gets a warning. */
static void key_lock(struct secure_key *k)
{
    if (sodium_mlock(k->sk, sizeof k->sk) != 0) {
        LOG(LOG_LEVEL_WARN,
            "cannot lock a secret key in memory (%s): it may be swapped out",
            strerror(errno));
    }
}

int secure_key_generate(struct secure_key *k)
{
    if (secure_init() != 0) {
        return AUGUR_EINTERNAL;
    }
    if (crypto_sign_keypair(k->pk, k->sk) != 0) {
        sodium_memzero(k->sk, sizeof k->sk);
        return AUGUR_EINTERNAL;
    }
    key_lock(k);
    k->has_secret = true;
    return 0;
}

void secure_key_wipe(struct secure_key *k)
{
    /* Zeroes, then unlocks what key_lock locked (harmless if it did not). */
    (void)sodium_munlock(k->sk, sizeof k->sk);
    k->has_secret = false;
}

void secure_key_hex(const uint8_t pk[SECURE_PK_SIZE], char out[SECURE_HEX_SIZE])
{
    sodium_bin2hex(out, SECURE_HEX_SIZE, pk, SECURE_PK_SIZE);
}

static int hex_decode(const char *hex, size_t len, uint8_t *out, size_t size)
{
    size_t n = 0;

    if (len != 2 * size ||
        sodium_hex2bin(out, size, hex, len, NULL, &n, NULL) != 0 || n != size) {
        return AUGUR_EINVAL;
    }
    return 0;
}

int secure_key_from_hex(const char *hex, size_t len, uint8_t pk[SECURE_PK_SIZE])
{
    return hex_decode(hex, len, pk, SECURE_PK_SIZE);
}

static int write_file(const char *path,
                      const char *text,
                      mode_t mode,
                      char *errmsg)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    if (fd < 0) {
        return fail(errmsg, errno == EEXIST ? AUGUR_EEXIST : AUGUR_EIO,
                    "%s: %s", path, strerror(errno));
    }
    /* The umask may have cleared bits; the mode must be exactly @mode. */
    if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len ||
        fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return fail(errmsg, AUGUR_EIO, "%s: %s", path, strerror(e));
    }
    if (close(fd) != 0) {
        unlink(path);
        return fail(errmsg, AUGUR_EIO, "%s: %s", path, strerror(errno));
    }
    return 0;
}

int secure_key_save(const struct secure_key *k, const char *path, char *errmsg)
{
    char secret[2 * SECURE_SK_SIZE + 2];
    char pub[SECURE_HEX_SIZE + 1];
    char pub_path[4096];
    int rv;

    if (!k->has_secret) {
        return fail(errmsg, AUGUR_EINVAL, "no secret key to save");
    }
    if ((size_t)snprintf(pub_path, sizeof pub_path, "%s.pub", path) >=
        sizeof pub_path) {
        return fail(errmsg, AUGUR_EINVAL, "%s: path too long", path);
    }
    if (access(pub_path, F_OK) == 0) {
        return fail(errmsg, AUGUR_EEXIST, "%s: already exists", pub_path);
    }
    sodium_bin2hex(secret, sizeof secret - 1, k->sk, SECURE_SK_SIZE);
    secret[2 * SECURE_SK_SIZE] = '\n';
    secret[2 * SECURE_SK_SIZE + 1] = '\0';
    rv = write_file(path, secret, 0600, errmsg);
    sodium_memzero(secret, sizeof secret);
    if (rv != 0) {
        return rv;
    }
    secure_key_hex(k->pk, pub);
    memcpy(pub + SECURE_HEX_SIZE - 1, "\n", 2);
    rv = write_file(pub_path, pub, 0644, errmsg);
    if (rv != 0) {
        unlink(path);
    }
    return rv;
}

/* Read a small key file into @buf and trim it; the length or an error. */
static int read_key_file(const char *path,
                         char *buf,
                         size_t size,
                         size_t *len,
                         char *errmsg)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL) {
        return fail(errmsg, AUGUR_EIO, "%s: %s", path, strerror(errno));
    }
    /* Unbuffered: a stdio buffer would keep a copy of a secret key in
     * memory nobody wipes. */
    setvbuf(f, NULL, _IONBF, 0);
    n = fread(buf, 1, size - 1, f);
    if (ferror(f)) {
        fclose(f);
        sodium_memzero(buf, size);
        return fail(errmsg, AUGUR_EIO, "%s: read failed", path);
    }
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        n--;
    }
    buf[n] = '\0';
    *len = n;
    return 0;
}

int secure_key_load_secret(const char *path, struct secure_key *k, char *errmsg)
{
    char buf[4 * SECURE_SK_SIZE];
    struct stat st;
    size_t len;
    int rv;

    memset(k, 0, sizeof *k);
    if (stat(path, &st) != 0) {
        return fail(errmsg, AUGUR_EIO, "%s: %s", path, strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        return fail(errmsg, AUGUR_EAUTH,
                    "%s: private key is accessible by group or others (mode "
                    "%04o); run: chmod 600 %s",
                    path, (unsigned)(st.st_mode & 07777), path);
    }
    rv = read_key_file(path, buf, sizeof buf, &len, errmsg);
    if (rv != 0) {
        return rv;
    }
    if (len == 2 * SECURE_PK_SIZE) {
        sodium_memzero(buf, sizeof buf);
        return fail(errmsg, AUGUR_EMALFORMED,
                    "%s: is a public key; a private key is needed here", path);
    }
    rv = hex_decode(buf, len, k->sk, SECURE_SK_SIZE);
    sodium_memzero(buf, sizeof buf);
    if (rv != 0) {
        sodium_memzero(k, sizeof *k);
        return fail(errmsg, AUGUR_EMALFORMED,
                    "%s: not an augur private key (128 hex digits)", path);
    }
    /* An Ed25519 secret key carries its public key in its second half. */
    if (crypto_sign_ed25519_sk_to_pk(k->pk, k->sk) != 0) {
        sodium_memzero(k, sizeof *k);
        return fail(errmsg, AUGUR_EMALFORMED, "%s: bad private key", path);
    }
    key_lock(k);
    k->has_secret = true;
    return 0;
}

int secure_key_load_public(const char *path,
                           uint8_t pk[SECURE_PK_SIZE],
                           char *errmsg)
{
    char buf[4 * SECURE_SK_SIZE];
    size_t len;
    int rv = read_key_file(path, buf, sizeof buf, &len, errmsg);

    if (rv != 0) {
        return rv;
    }
    if (len == 2 * SECURE_SK_SIZE) {
        sodium_memzero(buf, sizeof buf);
        return fail(errmsg, AUGUR_EMALFORMED,
                    "%s: is a private key; pass its public key (%s.pub)", path,
                    path);
    }
    rv = secure_key_from_hex(buf, len, pk);
    /* Whatever the file held (someone may pass a private key by mistake)
     * does not stay on the stack. */
    sodium_memzero(buf, sizeof buf);
    if (rv != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "%s: not an augur public key (64 hex digits)", path);
    }
    return 0;
}

/* ---- node certificates ------------------------------------------------ */

static void be64_put(uint8_t *p, uint64_t v);

static uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

#define CERT_MSG_SIZE (sizeof label_cert + 8 + SECURE_PK_SIZE + 8)

/* What the cluster key signs: label || node || pk || not_after. */
static void cert_msg(const struct secure_cert *c, uint8_t msg[CERT_MSG_SIZE])
{
    size_t n = 0;
    memcpy(msg + n, label_cert, sizeof label_cert);
    n += sizeof label_cert;
    be64_put(msg + n, c->node);
    n += 8;
    memcpy(msg + n, c->pk, SECURE_PK_SIZE);
    n += SECURE_PK_SIZE;
    be64_put(msg + n, c->not_after);
}

int secure_cert_sign(struct secure_cert *c,
                     const struct secure_key *cluster,
                     uint64_t node,
                     const uint8_t pk[SECURE_PK_SIZE],
                     uint64_t not_after)
{
    uint8_t msg[CERT_MSG_SIZE];

    if (!cluster->has_secret || node == 0 || secure_init() != 0) {
        return AUGUR_EINVAL;
    }
    memset(c, 0, sizeof *c);
    c->node = node;
    memcpy(c->pk, pk, SECURE_PK_SIZE);
    c->not_after = not_after;
    cert_msg(c, msg);
    crypto_sign_detached(c->sig, NULL, msg, sizeof msg, cluster->sk);
    return 0;
}

int secure_cert_verify(const struct secure_cert *c,
                       const uint8_t cluster_pk[SECURE_PK_SIZE],
                       uint64_t now,
                       char *errmsg)
{
    uint8_t msg[CERT_MSG_SIZE];

    cert_msg(c, msg);
    if (c->node == 0 ||
        crypto_sign_verify_detached(c->sig, msg, sizeof msg, cluster_pk) != 0) {
        return fail(errmsg, AUGUR_EAUTH,
                    "the certificate of node %llu is not signed by the "
                    "cluster key",
                    (unsigned long long)c->node);
    }
    if (c->not_after != 0 && now > c->not_after) {
        return fail(errmsg, AUGUR_EAUTH,
                    "the certificate of node %llu expired (not after %llu, "
                    "now %llu)",
                    (unsigned long long)c->node,
                    (unsigned long long)c->not_after, (unsigned long long)now);
    }
    return 0;
}

void secure_cert_encode(const struct secure_cert *c,
                        uint8_t out[SECURE_CERT_SIZE])
{
    be64_put(out, c->node);
    memcpy(out + 8, c->pk, SECURE_PK_SIZE);
    be64_put(out + 8 + SECURE_PK_SIZE, c->not_after);
    memcpy(out + 16 + SECURE_PK_SIZE, c->sig, SECURE_SIG_SIZE);
}

int secure_cert_decode(const uint8_t *in, size_t len, struct secure_cert *c)
{
    if (len != SECURE_CERT_SIZE) {
        return AUGUR_EMALFORMED;
    }
    c->node = be64_get(in);
    memcpy(c->pk, in + 8, SECURE_PK_SIZE);
    c->not_after = be64_get(in + 8 + SECURE_PK_SIZE);
    memcpy(c->sig, in + 16 + SECURE_PK_SIZE, SECURE_SIG_SIZE);
    return c->node == 0 ? AUGUR_EMALFORMED : 0;
}

int secure_cert_save(const struct secure_cert *c,
                     const char *path,
                     char *errmsg)
{
    uint8_t raw[SECURE_CERT_SIZE];
    char text[sizeof cert_file_prefix + 2 * SECURE_CERT_SIZE + 2];
    size_t n = sizeof cert_file_prefix - 1;

    secure_cert_encode(c, raw);
    memcpy(text, cert_file_prefix, n);
    sodium_bin2hex(text + n, 2 * SECURE_CERT_SIZE + 1, raw, sizeof raw);
    n += 2 * SECURE_CERT_SIZE;
    memcpy(text + n, "\n", 2);
    return write_file(path, text, 0644, errmsg);
}

int secure_cert_load(const char *path, struct secure_cert *c, char *errmsg)
{
    char buf[sizeof cert_file_prefix + 2 * SECURE_CERT_SIZE + 64];
    uint8_t raw[SECURE_CERT_SIZE];
    size_t len;
    size_t n = sizeof cert_file_prefix - 1;
    int rv = read_key_file(path, buf, sizeof buf, &len, errmsg);

    if (rv != 0) {
        return rv;
    }
    if (len != n + 2 * SECURE_CERT_SIZE ||
        memcmp(buf, cert_file_prefix, n) != 0 ||
        hex_decode(buf + n, len - n, raw, sizeof raw) != 0 ||
        secure_cert_decode(raw, sizeof raw, c) != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "%s: not an augur node certificate (augur node certify)",
                    path);
    }
    return 0;
}

int secure_identity_check(const struct secure_identity *id,
                          const uint8_t cluster_pk[SECURE_PK_SIZE],
                          uint64_t node,
                          uint64_t now,
                          char *errmsg)
{
    int rv = secure_cert_verify(&id->cert, cluster_pk, now, errmsg);

    if (rv != 0) {
        return rv;
    }
    if (id->cert.node != node) {
        return fail(errmsg, AUGUR_EAUTH,
                    "the certificate is for node %llu, not node %llu",
                    (unsigned long long)id->cert.node,
                    (unsigned long long)node);
    }
    if (sodium_memcmp(id->cert.pk, id->key.pk, SECURE_PK_SIZE) != 0) {
        return fail(errmsg, AUGUR_EAUTH,
                    "the certificate certifies another key than the node "
                    "key");
    }
    return 0;
}

void secure_identity_wipe(struct secure_identity *id)
{
    secure_key_wipe(&id->key);
}

/* ---- handshake -------------------------------------------------------- */

void secure_handshake_wipe(struct secure_handshake *hs)
{
    sodium_memzero(hs, sizeof *hs);
}

void secure_channel_close(struct secure_channel *ch)
{
    free(ch->scratch);
    sodium_memzero(ch, sizeof *ch);
}

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* The value of @name in @map, or NULL. */
static const msgpack_object *map_get(const msgpack_object *map,
                                     const char *name)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (key_is(&map->via.map.ptr[i].key, name)) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

/* Copy a binary field of exactly @size bytes. */
static int map_bin(const msgpack_object *map,
                   const char *name,
                   uint8_t *out,
                   size_t size)
{
    const msgpack_object *v = map_get(map, name);

    if (v == NULL || v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != size) {
        return AUGUR_EMALFORMED;
    }
    memcpy(out, v->via.bin.ptr, size);
    return 0;
}

static int map_u64(const msgpack_object *map, const char *name, uint64_t *out)
{
    const msgpack_object *v = map_get(map, name);

    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return AUGUR_EMALFORMED;
    }
    *out = v->via.u64;
    return 0;
}

static void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* th = H(@prev || @payload) (or H(@label || @payload) to start). */
static void transcript_add(uint8_t th[SECURE_HASH_SIZE],
                           const void *prev,
                           size_t prev_len,
                           const uint8_t *payload,
                           size_t len)
{
    crypto_generichash_state st;
    uint8_t n[8];

    crypto_generichash_init(&st, NULL, 0, SECURE_HASH_SIZE);
    crypto_generichash_update(&st, prev, prev_len);
    be64_put(n, len);
    crypto_generichash_update(&st, n, sizeof n);
    crypto_generichash_update(&st, payload, len);
    crypto_generichash_final(&st, th, SECURE_HASH_SIZE);
}

/* What the server signs: label || th(hello) || server eph || node id. */
static void server_msg(const struct secure_handshake *hs,
                       const uint8_t server_eph[SECURE_PK_SIZE],
                       uint8_t *msg,
                       size_t *len)
{
    size_t n = 0;
    memcpy(msg + n, label_server, sizeof label_server);
    n += sizeof label_server;
    memcpy(msg + n, hs->th, SECURE_HASH_SIZE);
    n += SECURE_HASH_SIZE;
    memcpy(msg + n, server_eph, SECURE_PK_SIZE);
    n += SECURE_PK_SIZE;
    be64_put(msg + n, hs->node);
    n += 8;
    *len = n;
}

/* What the client signs: label || th(hello, challenge) || client key. */
static void client_msg(const struct secure_handshake *hs,
                       const uint8_t client_pk[SECURE_PK_SIZE],
                       uint8_t *msg,
                       size_t *len)
{
    size_t n = 0;
    memcpy(msg + n, label_client, sizeof label_client);
    n += sizeof label_client;
    memcpy(msg + n, hs->th, SECURE_HASH_SIZE);
    n += SECURE_HASH_SIZE;
    memcpy(msg + n, client_pk, SECURE_PK_SIZE);
    n += SECURE_PK_SIZE;
    *len = n;
}

#define SIGNED_MAX 160

/* Session keys: crypto_kx over the ephemeral keys, each then hashed with
 * the final transcript, so that the keys are bound to everything both
 * sides signed. */
static int channel_derive(struct secure_handshake *hs,
                          bool client,
                          struct secure_channel *ch)
{
    uint8_t rx[crypto_kx_SESSIONKEYBYTES];
    uint8_t tx[crypto_kx_SESSIONKEYBYTES];
    uint8_t in[sizeof label_keys + SECURE_HASH_SIZE];
    int rv;

    if (client) {
        rv = crypto_kx_client_session_keys(rx, tx, hs->eph_pk, hs->eph_sk,
                                           hs->peer_eph);
    } else {
        rv = crypto_kx_server_session_keys(rx, tx, hs->eph_pk, hs->eph_sk,
                                           hs->peer_eph);
    }
    if (rv != 0) {
        return AUGUR_EAUTH; /* a degenerate peer public key */
    }
    memcpy(in, label_keys, sizeof label_keys);
    memcpy(in + sizeof label_keys, hs->th, SECURE_HASH_SIZE);
    memset(ch, 0, sizeof *ch);
    crypto_generichash(ch->rx, SECURE_KEY_SIZE, in, sizeof in, rx, sizeof rx);
    crypto_generichash(ch->tx, SECURE_KEY_SIZE, in, sizeof in, tx, sizeof tx);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    ch->ready = true;
    return 0;
}

/* Pack a map payload into a frame of @type appended to @out. */
static int frame_of(msgpack_sbuffer *body,
                    enum proto_frame_type type,
                    msgpack_sbuffer *out)
{
    int rv = proto_frame_append(out, type, body->data, body->size);
    msgpack_sbuffer_destroy(body);
    return rv;
}

/* mac = BLAKE2b-128(key = BLAKE2b-256(label_mac1 || cluster_pk), @msg). */
void secure_hello_mac(const uint8_t cluster_pk[SECURE_PK_SIZE],
                      const uint8_t *msg,
                      size_t len,
                      uint8_t mac[SECURE_MAC_SIZE])
{
    crypto_generichash_state st;
    uint8_t key[SECURE_HASH_SIZE];

    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, (const uint8_t *)label_mac1,
                              sizeof label_mac1);
    crypto_generichash_update(&st, cluster_pk, SECURE_PK_SIZE);
    crypto_generichash_final(&st, key, sizeof key);
    crypto_generichash(mac, SECURE_MAC_SIZE, msg, len, key, sizeof key);
    sodium_memzero(key, sizeof key);
}

int secure_hello_mac_check(const uint8_t *payload,
                           size_t len,
                           const uint8_t cluster_pk[SECURE_PK_SIZE])
{
    uint8_t mac[SECURE_MAC_SIZE];
    size_t body;

    if (len < sizeof mac_suffix + SECURE_MAC_SIZE) {
        return AUGUR_EAUTH;
    }
    body = len - SECURE_MAC_SIZE;
    if (memcmp(payload + body - sizeof mac_suffix, mac_suffix,
               sizeof mac_suffix) != 0) {
        return AUGUR_EAUTH;
    }
    secure_hello_mac(cluster_pk, payload, body, mac);
    if (sodium_memcmp(mac, payload + body, SECURE_MAC_SIZE) != 0) {
        return AUGUR_EAUTH;
    }
    return 0;
}

int secure_client_hello(struct secure_handshake *hs,
                        uint64_t client,
                        const uint8_t cluster_pk[SECURE_PK_SIZE],
                        msgpack_sbuffer *out)
{
    uint8_t mac[SECURE_MAC_SIZE];
    msgpack_sbuffer body;
    msgpack_packer pk;
    int rv;

    if (secure_init() != 0) {
        return AUGUR_EINTERNAL;
    }
    memset(hs, 0, sizeof *hs);
    crypto_kx_keypair(hs->eph_pk, hs->eph_sk);
    hs->client = client;
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    /* Fixed widths throughout, so every HELLO has the same size; "mac"
     * comes last and covers every byte before its body. */
    if (msgpack_pack_map(&pk, 5) != 0 ||
        msgpack_pack_str_with_body(&pk, "v", 1) != 0 ||
        msgpack_pack_uint32(&pk, PROTO_VERSION) != 0 ||
        msgpack_pack_str_with_body(&pk, "client", 6) != 0 ||
        msgpack_pack_fix_uint64(&pk, client) != 0 ||
        msgpack_pack_str_with_body(&pk, "auth", 4) != 0 ||
        msgpack_pack_str_with_body(&pk, SECURE_SCHEME, strlen(SECURE_SCHEME)) !=
            0 ||
        msgpack_pack_str_with_body(&pk, "eph", 3) != 0 ||
        msgpack_pack_bin_with_body(&pk, hs->eph_pk, SECURE_PK_SIZE) != 0 ||
        msgpack_pack_str_with_body(&pk, "mac", 3) != 0 ||
        msgpack_pack_bin(&pk, SECURE_MAC_SIZE) != 0) {
        msgpack_sbuffer_destroy(&body);
        return AUGUR_ENOMEM;
    }
    secure_hello_mac(cluster_pk, (const uint8_t *)body.data, body.size, mac);
    if (msgpack_pack_bin_body(&pk, mac, sizeof mac) != 0) {
        msgpack_sbuffer_destroy(&body);
        return AUGUR_ENOMEM;
    }
    transcript_add(hs->th, label_hello, sizeof label_hello,
                   (const uint8_t *)body.data, body.size);
    rv = frame_of(&body, PROTO_HELLO, out);
    return rv;
}

int secure_server_hello(struct secure_handshake *hs,
                        const uint8_t *payload,
                        size_t len,
                        const struct secure_identity *me,
                        const uint8_t cluster_pk[SECURE_PK_SIZE],
                        uint64_t node,
                        msgpack_sbuffer *out,
                        char *errmsg)
{
    msgpack_unpacked u;
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint8_t msg[SIGNED_MAX];
    uint8_t sig[SECURE_SIG_SIZE];
    uint8_t cert[SECURE_CERT_SIZE];
    size_t msg_len;
    int rv;

    if (secure_init() != 0) {
        return fail(errmsg, AUGUR_EINTERNAL, "libsodium failed to start");
    }
    memset(hs, 0, sizeof *hs);
    /* Before decoding, signing or keeping anything: a HELLO from someone
     * who does not know the cluster's public key ends here. */
    if (secure_hello_mac_check(payload, len, cluster_pk) != 0) {
        return fail(errmsg, AUGUR_EAUTH,
                    "hello: no valid \"mac\" (the client does not pin this "
                    "cluster's public key)");
    }
    msgpack_unpacked_init(&u);
    rv = proto_payload_unpack(payload, len, &u);
    if (rv == 0 &&
        (map_u64(&u.data, "client", &hs->client) != 0 || hs->client == 0 ||
         map_bin(&u.data, "eph", hs->peer_eph, SECURE_PK_SIZE))) {
        rv = AUGUR_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    if (rv != 0) {
        return fail(errmsg, rv,
                    "hello: \"client\" and a 32-byte \"eph\" are required");
    }
    transcript_add(hs->th, label_hello, sizeof label_hello, payload, len);
    crypto_kx_keypair(hs->eph_pk, hs->eph_sk);
    hs->node = node;
    server_msg(hs, hs->eph_pk, msg, &msg_len);
    crypto_sign_detached(sig, NULL, msg, msg_len, me->key.sk);
    secure_cert_encode(&me->cert, cert);

    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 4) != 0 ||
        msgpack_pack_str_with_body(&pk, "eph", 3) != 0 ||
        msgpack_pack_bin_with_body(&pk, hs->eph_pk, SECURE_PK_SIZE) != 0 ||
        msgpack_pack_str_with_body(&pk, "node", 4) != 0 ||
        msgpack_pack_uint64(&pk, node) != 0 ||
        msgpack_pack_str_with_body(&pk, "cert", 4) != 0 ||
        msgpack_pack_bin_with_body(&pk, cert, sizeof cert) != 0 ||
        msgpack_pack_str_with_body(&pk, "sig", 3) != 0 ||
        msgpack_pack_bin_with_body(&pk, sig, sizeof sig) != 0) {
        msgpack_sbuffer_destroy(&body);
        return fail(errmsg, AUGUR_ENOMEM, "out of memory");
    }
    transcript_add(hs->th, hs->th, SECURE_HASH_SIZE, (uint8_t *)body.data,
                   body.size);
    rv = frame_of(&body, PROTO_CHALLENGE, out);
    return rv != 0 ? fail(errmsg, rv, "out of memory") : 0;
}

/* Client step 2, for a principal (@cert NULL) or a node (@cert its
 * certificate, sent in the AUTH). */
static int client_challenge(struct secure_handshake *hs,
                            const uint8_t *payload,
                            size_t len,
                            const uint8_t cluster_pk[SECURE_PK_SIZE],
                            const struct secure_key *me,
                            const struct secure_cert *cert,
                            msgpack_sbuffer *out,
                            struct secure_channel *ch,
                            char *errmsg)
{
    msgpack_unpacked u;
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint8_t msg[SIGNED_MAX];
    uint8_t sig[SECURE_SIG_SIZE];
    uint8_t raw[SECURE_CERT_SIZE];
    size_t msg_len;
    int rv;

    msgpack_unpacked_init(&u);
    rv = proto_payload_unpack(payload, len, &u);
    if (rv == 0 &&
        (map_bin(&u.data, "eph", hs->peer_eph, SECURE_PK_SIZE) != 0 ||
         map_u64(&u.data, "node", &hs->node) != 0 ||
         map_bin(&u.data, "cert", raw, sizeof raw) != 0 ||
         map_bin(&u.data, "sig", sig, sizeof sig) != 0)) {
        rv = AUGUR_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    if (rv == 0 && secure_cert_decode(raw, sizeof raw, &hs->peer_cert) != 0) {
        rv = AUGUR_EMALFORMED;
    }
    if (rv != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "challenge: \"eph\", \"node\", \"cert\" and \"sig\" are "
                    "required");
    }
    /* The cluster key vouches for the node key, the node key for this
     * session: the certificate first, then the signature by its key. */
    if (secure_cert_verify(&hs->peer_cert, cluster_pk, (uint64_t)time(NULL),
                           errmsg) != 0) {
        char why[SECURE_ERRMSG_SIZE];
        memcpy(why, errmsg, sizeof why);
        return fail(errmsg, AUGUR_EAUTH,
                    "the server did not prove the cluster key, by a node "
                    "key it certified (is --cluster-key/AUGUR_CLUSTER_KEY "
                    "this cluster's?): %.160s",
                    why);
    }
    if (hs->peer_cert.node != hs->node) {
        return fail(errmsg, AUGUR_EAUTH,
                    "the server says it is node %llu but its certificate is "
                    "for node %llu",
                    (unsigned long long)hs->node,
                    (unsigned long long)hs->peer_cert.node);
    }
    server_msg(hs, hs->peer_eph, msg, &msg_len);
    if (crypto_sign_verify_detached(sig, msg, msg_len, hs->peer_cert.pk) != 0) {
        return fail(errmsg, AUGUR_EAUTH,
                    "the server did not prove the key its certificate "
                    "certifies (node %llu)",
                    (unsigned long long)hs->node);
    }
    transcript_add(hs->th, hs->th, SECURE_HASH_SIZE, payload, len);

    client_msg(hs, me->pk, msg, &msg_len);
    crypto_sign_detached(sig, NULL, msg, msg_len, me->sk);
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    if (cert != NULL) {
        secure_cert_encode(cert, raw);
    }
    if (msgpack_pack_map(&pk, cert != NULL ? 3 : 2) != 0 ||
        msgpack_pack_str_with_body(&pk, "key", 3) != 0 ||
        msgpack_pack_bin_with_body(&pk, me->pk, SECURE_PK_SIZE) != 0 ||
        msgpack_pack_str_with_body(&pk, "sig", 3) != 0 ||
        msgpack_pack_bin_with_body(&pk, sig, sizeof sig) != 0 ||
        (cert != NULL &&
         (msgpack_pack_str_with_body(&pk, "cert", 4) != 0 ||
          msgpack_pack_bin_with_body(&pk, raw, sizeof raw) != 0))) {
        msgpack_sbuffer_destroy(&body);
        return fail(errmsg, AUGUR_ENOMEM, "out of memory");
    }
    transcript_add(hs->th, hs->th, SECURE_HASH_SIZE, (uint8_t *)body.data,
                   body.size);
    rv = frame_of(&body, PROTO_AUTH, out);
    if (rv != 0) {
        return fail(errmsg, rv, "out of memory");
    }
    rv = channel_derive(hs, true, ch);
    if (rv != 0) {
        return fail(errmsg, rv, "the server's ephemeral key is unusable");
    }
    return 0;
}

int secure_client_challenge(struct secure_handshake *hs,
                            const uint8_t *payload,
                            size_t len,
                            const uint8_t cluster_pk[SECURE_PK_SIZE],
                            const struct secure_key *me,
                            msgpack_sbuffer *out,
                            struct secure_channel *ch,
                            char *errmsg)
{
    return client_challenge(hs, payload, len, cluster_pk, me, NULL, out, ch,
                            errmsg);
}

int secure_node_challenge(struct secure_handshake *hs,
                          const uint8_t *payload,
                          size_t len,
                          const uint8_t cluster_pk[SECURE_PK_SIZE],
                          const struct secure_identity *me,
                          msgpack_sbuffer *out,
                          struct secure_channel *ch,
                          char *errmsg)
{
    return client_challenge(hs, payload, len, cluster_pk, &me->key, &me->cert,
                            out, ch, errmsg);
}

/* Server step 2, for a principal (@cluster_pk NULL) or a node (@cluster_pk
 * set: the AUTH must carry a certificate by it for the proven key, returned
 * in @peer).  With @has_cert set, the certificate is optional: *@has_cert
 * says whether the AUTH carried one (checked as for a node when it did). */
static int server_auth(struct secure_handshake *hs,
                       const uint8_t *payload,
                       size_t len,
                       const uint8_t *cluster_pk,
                       uint8_t peer_pk[SECURE_PK_SIZE],
                       struct secure_cert *peer,
                       bool *has_cert,
                       struct secure_channel *ch,
                       char *errmsg)
{
    msgpack_unpacked u;
    uint8_t msg[SIGNED_MAX];
    uint8_t sig[SECURE_SIG_SIZE];
    uint8_t raw[SECURE_CERT_SIZE];
    size_t msg_len;
    int rv;

    msgpack_unpacked_init(&u);
    rv = proto_payload_unpack(payload, len, &u);
    if (rv == 0 && (map_bin(&u.data, "key", peer_pk, SECURE_PK_SIZE) != 0 ||
                    map_bin(&u.data, "sig", sig, sizeof sig) != 0)) {
        rv = AUGUR_EMALFORMED;
    }
    if (rv == 0 && has_cert != NULL) {
        *has_cert = map_get(&u.data, "cert") != NULL;
        if (!*has_cert) {
            cluster_pk = NULL;
        }
    }
    if (rv == 0 && cluster_pk != NULL &&
        (map_bin(&u.data, "cert", raw, sizeof raw) != 0 ||
         secure_cert_decode(raw, sizeof raw, peer) != 0)) {
        rv = AUGUR_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    if (rv != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    cluster_pk != NULL
                        ? "auth: \"key\", \"sig\" and a node certificate "
                          "(\"cert\") are required"
                        : "auth: \"key\" and \"sig\" are required");
    }
    client_msg(hs, peer_pk, msg, &msg_len);
    if (crypto_sign_verify_detached(sig, msg, msg_len, peer_pk) != 0) {
        return fail(errmsg, AUGUR_EAUTH,
                    "auth: the signature does not prove the key");
    }
    if (cluster_pk != NULL) {
        rv = secure_cert_verify(peer, cluster_pk, (uint64_t)time(NULL), errmsg);
        if (rv != 0) {
            return rv;
        }
        if (sodium_memcmp(peer->pk, peer_pk, SECURE_PK_SIZE) != 0) {
            return fail(errmsg, AUGUR_EAUTH,
                        "auth: the certificate certifies another key");
        }
    }
    transcript_add(hs->th, hs->th, SECURE_HASH_SIZE, payload, len);
    rv = channel_derive(hs, false, ch);
    if (rv != 0) {
        return fail(errmsg, rv, "auth: the client's ephemeral key is unusable");
    }
    return 0;
}

int secure_server_auth(struct secure_handshake *hs,
                       const uint8_t *payload,
                       size_t len,
                       uint8_t peer_pk[SECURE_PK_SIZE],
                       struct secure_channel *ch,
                       char *errmsg)
{
    return server_auth(hs, payload, len, NULL, peer_pk, NULL, NULL, ch, errmsg);
}

int secure_server_auth_any(struct secure_handshake *hs,
                           const uint8_t *payload,
                           size_t len,
                           const uint8_t cluster_pk[SECURE_PK_SIZE],
                           uint8_t peer_pk[SECURE_PK_SIZE],
                           struct secure_cert *peer,
                           bool *has_cert,
                           struct secure_channel *ch,
                           char *errmsg)
{
    return server_auth(hs, payload, len, cluster_pk, peer_pk, peer, has_cert,
                       ch, errmsg);
}

int secure_node_auth(struct secure_handshake *hs,
                     const uint8_t *payload,
                     size_t len,
                     const uint8_t cluster_pk[SECURE_PK_SIZE],
                     struct secure_cert *peer,
                     struct secure_channel *ch,
                     char *errmsg)
{
    uint8_t pk[SECURE_PK_SIZE];

    return server_auth(hs, payload, len, cluster_pk, pk, peer, NULL, ch,
                       errmsg);
}

/* ---- sealed frames ---------------------------------------------------- */

static void nonce_of(
    uint64_t n,
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
    memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    for (int i = 0; i < 8; i++) {
        nonce[i] = (uint8_t)(n >> (8 * i));
    }
}

int secure_seal(struct secure_channel *ch,
                const uint8_t *plain,
                size_t len,
                msgpack_sbuffer *out)
{
    size_t start = out->size;
    size_t pos = 0;

    while (pos < len) {
        struct proto_frame f;
        size_t used = 0;
        uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
        uint8_t hdr[PROTO_HEADER_SIZE];
        unsigned long long clen = 0;
        size_t inner;
        uint8_t *dst;

        if (proto_frame_parse(plain + pos, len - pos, PROTO_FRAME_MAX, &f,
                              &used) != 0 ||
            used == 0 || ch->tx_n == UINT64_MAX) {
            out->size = start;
            return AUGUR_EMALFORMED;
        }
        inner = 1 + f.len; /* type + payload */
        proto_header_write(hdr, PROTO_SEALED, inner + SECURE_TAG_SIZE);
        if (msgpack_sbuffer_write(out, (const char *)hdr, sizeof hdr) != 0) {
            out->size = start;
            return AUGUR_ENOMEM;
        }
        /* Reserve room, then encrypt in place: type byte, then payload. */
        if (out->alloc - out->size < inner + SECURE_TAG_SIZE) {
            size_t want = out->size + inner + SECURE_TAG_SIZE;
            char *p = realloc(out->data, want);
            if (p == NULL) {
                out->size = start;
                return AUGUR_ENOMEM;
            }
            out->data = p;
            out->alloc = want;
        }
        dst = (uint8_t *)out->data + out->size;
        dst[0] = (uint8_t)f.type;
        memcpy(dst + 1, f.payload, f.len);
        nonce_of(ch->tx_n, nonce);
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            dst, &clen, dst, inner, hdr, sizeof hdr, NULL, nonce, ch->tx);
        out->size += (size_t)clen;
        ch->tx_n++;
        pos += used;
    }
    return 0;
}

int secure_seal_gather(struct secure_channel *ch,
                       enum proto_frame_type type,
                       const struct iovec *iov,
                       size_t n,
                       size_t skip,
                       size_t len,
                       msgpack_sbuffer *out)
{
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t hdr[PROTO_HEADER_SIZE];
    unsigned long long clen = 0;
    size_t inner = 1 + len; /* type + bytes */
    size_t want, got = 0;
    uint8_t *dst;

    if (len > PROTO_FRAME_MAX - 1 - SECURE_TAG_SIZE || ch->tx_n == UINT64_MAX) {
        return AUGUR_EMALFORMED;
    }
    want = out->size + sizeof hdr + inner + SECURE_TAG_SIZE;
    if (out->alloc < want) {
        size_t cap = out->alloc > 0 ? out->alloc : 256;
        char *p;
        while (cap < want) {
            cap *= 2;
        }
        p = realloc(out->data, cap);
        if (p == NULL) {
            return AUGUR_ENOMEM;
        }
        out->data = p;
        out->alloc = cap;
    }
    proto_header_write(hdr, PROTO_SEALED, inner + SECURE_TAG_SIZE);
    dst = (uint8_t *)out->data + out->size;
    memcpy(dst, hdr, sizeof hdr);
    dst += sizeof hdr;
    dst[0] = (uint8_t)type;
    for (size_t i = 0; i < n && got < len; i++) {
        size_t k = iov[i].iov_len;
        const uint8_t *from = iov[i].iov_base;
        if (skip >= k) {
            skip -= k;
            continue;
        }
        from += skip;
        k -= skip;
        skip = 0;
        if (k > len - got) {
            k = len - got;
        }
        memcpy(dst + 1 + got, from, k);
        got += k;
    }
    if (got != len) {
        return AUGUR_EMALFORMED;
    }
    nonce_of(ch->tx_n, nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(dst, &clen, dst, inner, hdr,
                                               sizeof hdr, NULL, nonce, ch->tx);
    out->size += sizeof hdr + (size_t)clen;
    ch->tx_n++;
    return 0;
}

int secure_open(struct secure_channel *ch,
                const struct proto_frame *f,
                struct proto_frame *inner)
{
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t hdr[PROTO_HEADER_SIZE];
    unsigned long long mlen = 0;

    if (f->type != PROTO_SEALED) {
        return AUGUR_EPROTO;
    }
    if (f->len < 1 + SECURE_TAG_SIZE || ch->rx_n == UINT64_MAX) {
        return AUGUR_EAUTH;
    }
    if (ch->scratch_cap < f->len) {
        uint8_t *p = realloc(ch->scratch, f->len);
        if (p == NULL) {
            return AUGUR_ENOMEM;
        }
        ch->scratch = p;
        ch->scratch_cap = f->len;
    }
    proto_header_write(hdr, PROTO_SEALED, f->len);
    nonce_of(ch->rx_n, nonce);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            ch->scratch, &mlen, NULL, f->payload, f->len, hdr, sizeof hdr,
            nonce, ch->rx) != 0) {
        return AUGUR_EAUTH;
    }
    ch->rx_n++;
    if (mlen < 1 || ch->scratch[0] < PROTO_HELLO ||
        ch->scratch[0] > PROTO_CLOSE) {
        return AUGUR_EMALFORMED;
    }
    inner->type = (enum proto_frame_type)ch->scratch[0];
    inner->payload = ch->scratch + 1;
    inner->len = (size_t)mlen - 1;
    return 0;
}
