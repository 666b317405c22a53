/* secure-bench: what the authenticated channel costs on one core: a whole
 * handshake (both sides, in process), and sealing + opening frames of the
 * sizes augur sends, against copying the same frames in clear.
 *
 *   secure-bench [--seconds S]     (default 1 second per measurement) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/secure.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "secure-bench: %s failed\n", what);
    exit(1);
}

/* One handshake, both sides; leaves the channels set up. */
static void handshake(const struct secure_key *cluster,
                      const struct secure_key *client,
                      struct secure_channel *cch,
                      struct secure_channel *sch)
{
    struct secure_handshake chs, shs;
    msgpack_sbuffer a, b;
    struct proto_frame f;
    uint8_t pk[SECURE_PK_SIZE];
    char err[SECURE_ERRMSG_SIZE];
    struct secure_identity node;
    size_t used;

    /* The cluster key serves as the node key here: the cost is the same. */
    node.key = *cluster;
    if (secure_cert_sign(&node.cert, cluster, 1, cluster->pk, 0) != 0) {
        die("cert");
    }
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    if (secure_client_hello(&chs, 1, cluster->pk, &a) != 0 ||
        proto_frame_parse((uint8_t *)a.data, a.size, PROTO_FRAME_MAX, &f,
                          &used) != 0 ||
        secure_server_hello(&shs, f.payload, f.len, &node, cluster->pk, 1, &b,
                            err) != 0 ||
        proto_frame_parse((uint8_t *)b.data, b.size, PROTO_FRAME_MAX, &f,
                          &used) != 0) {
        die("hello");
    }
    a.size = 0;
    if (secure_client_challenge(&chs, f.payload, f.len, cluster->pk, client, &a,
                                cch, err) != 0 ||
        proto_frame_parse((uint8_t *)a.data, a.size, PROTO_FRAME_MAX, &f,
                          &used) != 0 ||
        secure_server_auth(&shs, f.payload, f.len, pk, sch, err) != 0) {
        die("auth");
    }
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

/* Frames of @payload bytes through seal + open (or, @plain, through the
 * copy a clear frame costs): frames per second. */
static double frames_per_s(size_t payload, int plain, double seconds)
{
    struct secure_key cluster, client;
    struct secure_channel cch, sch;
    msgpack_sbuffer frame, sealed;
    uint8_t *body = calloc(1, payload);
    uint8_t *copy = malloc(payload + 64);
    unsigned long n = 0;
    double t0, t;

    if (body == NULL || copy == NULL || secure_key_generate(&cluster) != 0 ||
        secure_key_generate(&client) != 0) {
        die("setup");
    }
    memset(&cch, 0, sizeof cch);
    memset(&sch, 0, sizeof sch);
    handshake(&cluster, &client, &cch, &sch);
    msgpack_sbuffer_init(&frame);
    msgpack_sbuffer_init(&sealed);
    if (proto_frame_append(&frame, PROTO_REQUEST, body, payload) != 0) {
        die("frame");
    }
    t0 = now_s();
    do {
        for (int i = 0; i < 64; i++) {
            if (plain) {
                memcpy(copy, frame.data, frame.size);
                struct proto_frame f;
                size_t used;
                if (proto_frame_parse(copy, frame.size, PROTO_FRAME_MAX, &f,
                                      &used) != 0) {
                    die("parse");
                }
            } else {
                struct proto_frame f, inner;
                size_t used;
                sealed.size = 0;
                if (secure_seal(&cch, (uint8_t *)frame.data, frame.size,
                                &sealed) != 0 ||
                    proto_frame_parse((uint8_t *)sealed.data, sealed.size,
                                      PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD, &f,
                                      &used) != 0 ||
                    secure_open(&sch, &f, &inner) != 0) {
                    die("seal/open");
                }
            }
            n++;
        }
        t = now_s() - t0;
    } while (t < seconds);
    msgpack_sbuffer_destroy(&frame);
    msgpack_sbuffer_destroy(&sealed);
    secure_channel_close(&cch);
    secure_channel_close(&sch);
    free(body);
    free(copy);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {64, 256, 4096, 65536};
    struct secure_key cluster, client;
    double seconds = 1.0;
    unsigned long n = 0;
    double t0, t;

    if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
        seconds = atof(argv[2]);
    }
    if (secure_init() != 0 || secure_key_generate(&cluster) != 0 ||
        secure_key_generate(&client) != 0) {
        die("libsodium");
    }
    t0 = now_s();
    do {
        struct secure_channel cch, sch;
        handshake(&cluster, &client, &cch, &sch);
        secure_channel_close(&cch);
        secure_channel_close(&sch);
        n++;
        t = now_s() - t0;
    } while (t < seconds);
    printf("handshake (both sides, one core): %.0f/s, %.1f us each\n",
           (double)n / t, 1e6 * t / (double)n);
    printf("%-8s %14s %14s %12s %12s\n", "payload", "clear frames/s",
           "sealed frames/s", "sealed MB/s", "us/frame");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double clear = frames_per_s(sizes[i], 1, seconds);
        double sealed = frames_per_s(sizes[i], 0, seconds);
        printf("%-8zu %14.0f %15.0f %12.1f %12.2f\n", sizes[i], clear, sealed,
               sealed * (double)sizes[i] / 1e6, 1e6 / sealed);
    }
    return 0;
}
