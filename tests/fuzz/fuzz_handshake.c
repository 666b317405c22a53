/* Fuzz target: the handshake, both sides.  The input is [u16 BE n][n bytes:
 * a HELLO payload for the server][the rest: an AUTH payload for the server
 * (as a principal's and as a node's), and also a CHALLENGE payload for a
 * client].  The HELLO is tried as it is (the mac check) and again with a
 * valid "mac" entry appended (so that the decoding behind the mac check
 * is reached too). */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "wire/secure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct secure_key fixed_key(uint8_t seed_byte)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    struct secure_key k;

    memset(seed, seed_byte, sizeof seed);
    crypto_sign_seed_keypair(k.pk, k.sk, seed);
    k.has_secret = true;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct secure_key cluster, client;
    static struct secure_identity node;
    static int ready;
    struct secure_cert peer;
    struct secure_handshake hs;
    struct secure_channel ch;
    msgpack_sbuffer out;
    uint8_t pk[SECURE_PK_SIZE];
    char errmsg[SECURE_ERRMSG_SIZE];
    size_t n;

    if (!ready) {
        if (secure_init() != 0) {
            return 0;
        }
        cluster = fixed_key(1);
        client = fixed_key(2);
        node.key = fixed_key(3);
        if (secure_cert_sign(&node.cert, &cluster, 1, node.key.pk, 0) != 0) {
            return 0;
        }
        ready = 1;
    }
    if (size < 2) {
        return 0;
    }
    n = (size_t)data[0] << 8 | data[1];
    if (n > size - 2) {
        n = size - 2;
    }
    msgpack_sbuffer_init(&out);
    memset(&ch, 0, sizeof ch);

    /* Server: HELLO as it is; then with a mac, and AUTH. */
    if (secure_server_hello(&hs, data + 2, n, &node, cluster.pk, 1, &out,
                            errmsg) == 0) {
        /* Only a HELLO with the right mac gets here. */
        out.size = 0;
    }
    secure_handshake_wipe(&hs);
    out.size = 0;
    if (n <= PROTO_PREAUTH_FRAME_MAX) {
        static const uint8_t suffix[] = {0xa3, 'm',  'a',
                                         'c',  0xc4, SECURE_MAC_SIZE};
        uint8_t
            hello[PROTO_PREAUTH_FRAME_MAX + sizeof suffix + SECURE_MAC_SIZE];
        size_t len = n + sizeof suffix;

        memcpy(hello, data + 2, n);
        memcpy(hello + n, suffix, sizeof suffix);
        secure_hello_mac(cluster.pk, hello, len, hello + len);
        if (secure_server_hello(&hs, hello, len + SECURE_MAC_SIZE, &node,
                                cluster.pk, 1, &out, errmsg) == 0) {
            struct secure_handshake hs2 = hs;
            if (secure_server_auth(&hs, data + 2 + n, size - 2 - n, pk, &ch,
                                   errmsg) == 0) {
                /* Only a real signature by some key gets here. */
                secure_channel_close(&ch);
            }
            if (secure_node_auth(&hs2, data + 2 + n, size - 2 - n, cluster.pk,
                                 &peer, &ch, errmsg) == 0) {
                /* A forged certificate must never verify. */
                __builtin_trap();
            }
            secure_handshake_wipe(&hs2);
        }
        secure_handshake_wipe(&hs);
    }

    /* Client: its HELLO, then the input's CHALLENGE. */
    out.size = 0;
    if (secure_client_hello(&hs, 7, cluster.pk, &out) == 0) {
        out.size = 0;
        if (secure_client_challenge(&hs, data + 2 + n, size - 2 - n, cluster.pk,
                                    &client, &out, &ch, errmsg) == 0) {
            /* A forged CHALLENGE must never verify. */
            __builtin_trap();
        }
    }
    secure_handshake_wipe(&hs);
    secure_channel_close(&ch);
    msgpack_sbuffer_destroy(&out);
    return 0;
}
