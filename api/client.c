/* libaugur's client object: options, keys, the endpoint list, open and
 * close.  The connection is client_conn.c's, the calls client_queue.c's. */
#include "api/client_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "wire/proto.h"
#include "wire/secure.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_CONNECT_TIMEOUT_MS 1000

int64_t client__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A session id must not collide with another client's, so it comes from
 * the kernel's generator.  Should that be unavailable, mix what differs
 * between two clients started at the same moment. */
static uint64_t random_u64(const void *salt)
{
    uint64_t x = 0;
    struct timespec ts;

    if (getrandom(&x, sizeof x, 0) == (ssize_t)sizeof x && x != 0) {
        return x;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    x ^= ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)salt;
    /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x != 0 ? x : 1;
}

/* Format into a message buffer, cutting what does not fit: messages are
 * one line for a human, and a cut one is better than none. */
static void msg_set(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msg_set(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

void client__seterr(struct augur_client *c, int status, const char *msg)
{
    msg_set(c->errmsg, sizeof c->errmsg, "%s: %s", augur_errname(status),
            msg[0] != '\0' ? msg : augur_strerror(status));
}

/* Parse "host:port" (@len bytes of @s) into @ep. */
int client__endpoint_parse(const char *s,
                           size_t len,
                           struct endpoint *ep,
                           char *errmsg)
{
    const char *colon = NULL;
    size_t host_len;
    size_t port_len;
    unsigned long port = 0;

    memset(ep, 0, sizeof *ep);
    if (len == 0) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "empty endpoint");
        return AUGUR_EINVAL;
    }
    if (len >= sizeof ep->addr) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s...\" is longer "
                 "than %zu bytes",
                 16, s, sizeof ep->addr - 1);
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':') {
            colon = s + i;
        }
    }
    if (colon == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s\" has no port (want host:port)", (int)len, s);
        return AUGUR_EINVAL;
    }
    host_len = (size_t)(colon - s);
    port_len = len - host_len - 1;
    if (host_len == 0 || memchr(s, ':', host_len) != NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s\": want host:port with an IPv4 address or "
                 "a host name",
                 (int)len, s);
        return AUGUR_EINVAL;
    }
    for (size_t i = 0; i < port_len; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9' || i >= 5) {
            port = 0;
            break;
        }
        port = port * 10 + (unsigned long)(colon[1 + i] - '0');
    }
    if (port == 0 || port > 65535) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "endpoint \"%.*s\": port must be 1 to 65535", (int)len, s);
        return AUGUR_EINVAL;
    }
    memcpy(ep->addr, s, len);
    memcpy(ep->host, s, host_len);
    snprintf(ep->port, sizeof ep->port, "%lu", port);
    return 0;
}

void augur_options_init(struct augur_options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    o->client_id = 0;
    o->max_frame = PROTO_FRAME_MAX;
}

/* Load the keys named by the options or the environment. */
static int client_keys_load(struct augur_client *c, char *errmsg)
{
    const char *key = c->opt.key_file;
    const char *cluster = c->opt.cluster_key_file;
    char why[SECURE_ERRMSG_SIZE];
    int err;

    if (key == NULL || key[0] == '\0') {
        key = getenv("AUGUR_KEY");
    }
    if (cluster == NULL || cluster[0] == '\0') {
        cluster = getenv("AUGUR_CLUSTER_KEY");
    }
    if (key != NULL && key[0] == '\0') {
        key = NULL;
    }
    if (cluster != NULL && cluster[0] == '\0') {
        cluster = NULL;
    }
    if (key == NULL && cluster == NULL) {
        return 0;
    }
    if (key == NULL || cluster == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE,
                 "%s: a client needs both its key (--key FILE or AUGUR_KEY) "
                 "and the cluster's public key (--cluster-key FILE or "
                 "AUGUR_CLUSTER_KEY)",
                 key == NULL ? "no key given" : "no cluster key given");
        return AUGUR_EINVAL;
    }
    if (secure_init() != 0) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "libsodium failed to start");
        return AUGUR_EINTERNAL;
    }
    err = secure_key_load_secret(key, &c->key, why);
    if (err == 0) {
        err = secure_key_load_public(cluster, c->cluster_pk, why);
    }
    if (err != 0) {
        secure_key_wipe(&c->key);
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "%s", why);
        return err;
    }
    c->keyed = 1;
    return 0;
}

/* augur_client_open with an @errmsg that is never NULL. */
static int client_open(const char *endpoints,
                       const struct augur_options *opt,
                       struct augur_client **out,
                       char *errmsg)
{
    struct augur_client *c;
    const char *p;
    unsigned n = 1;
    int err;

    *out = NULL;
    if (endpoints == NULL || endpoints[0] == '\0') {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "no endpoints given");
        return AUGUR_EINVAL;
    }
    for (p = endpoints; *p != '\0'; p++) {
        n += *p == ',';
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    c->endpoints = calloc(n, sizeof *c->endpoints);
    if (c->endpoints == NULL) {
        snprintf(errmsg, AUGUR_ERRMSG_SIZE, "out of memory");
        err = AUGUR_ENOMEM;
        goto err_after_client_alloc;
    }
    for (p = endpoints; c->n_endpoints < n; c->n_endpoints++) {
        const char *end = strchr(p, ',');
        const char *stop = end != NULL ? end : p + strlen(p);

        while (p < stop && (*p == ' ' || *p == '\t')) {
            p++;
        }
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t')) {
            stop--;
        }
        err = client__endpoint_parse(p, (size_t)(stop - p),
                                     &c->endpoints[c->n_endpoints], errmsg);
        if (err != 0) {
            goto err_after_endpoints_alloc;
        }
        p = end != NULL ? end + 1 : stop;
    }

    if (opt != NULL) {
        c->opt = *opt;
    } else {
        augur_options_init(&c->opt);
    }
    if (c->opt.timeout_ms <= 0) {
        c->opt.timeout_ms = DEFAULT_TIMEOUT_MS;
    }
    if (c->opt.connect_timeout_ms <= 0) {
        c->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    }
    if (c->opt.max_frame == 0 || c->opt.max_frame > PROTO_FRAME_MAX) {
        c->opt.max_frame = PROTO_FRAME_MAX;
    }
    if (c->opt.client_id == 0) {
        c->opt.client_id = random_u64(c);
    }
    err = client_keys_load(c, errmsg);
    if (err != 0) {
        goto err_after_endpoints_alloc;
    }
    c->opt.key_file = NULL; /* the caller's strings need not outlive open */
    c->opt.cluster_key_file = NULL;
    c->rng = c->opt.client_id ^ (uint64_t)client__now_ms() << 20;
    if (c->rng == 0) {
        c->rng = 1;
    }
    c->state = CONN_IDLE;
    c->fd = -1;
    c->backoff_ms = CLIENT_BACKOFF_MIN_MS;
    c->next_deadline = INT64_MAX;
    msgpack_sbuffer_init(&c->out);
    msgpack_sbuffer_init(&c->plain);
    *out = c;
    return 0;

err_after_endpoints_alloc:
    free(c->endpoints);
err_after_client_alloc:
    free(c);
    return err;
}

int augur_client_open(const char *endpoints,
                      const struct augur_options *opt,
                      struct augur_client **out,
                      char *errmsg_out)
{
    char errmsg[AUGUR_ERRMSG_SIZE] = "";
    struct augur_client *c;
    int err = client_open(endpoints, opt, &c, errmsg);

    *out = err == 0 ? c : NULL;
    if (errmsg_out != NULL) {
        memcpy(errmsg_out, errmsg, sizeof errmsg);
    }
    return err;
}

const char *augur_client_errmsg(const struct augur_client *c)
{
    return c->errmsg;
}

const char *augur_client_endpoint(const struct augur_client *c)
{
    if (c->state == CONN_HELLO || c->state == CONN_READY) {
        return c->peer.addr;
    }
    return "";
}

void augur_client_close(struct augur_client *c)
{
    struct call *call;

    if (c == NULL) {
        return;
    }
    assert(c->in_callback == 0);
    if (c->fd >= 0) {
        close(c->fd);
    }
    call = c->head;
    while (call != NULL) {
        struct call *following = call->next;

        free(call);
        call = following;
    }
    msgpack_sbuffer_destroy(&c->out);
    msgpack_sbuffer_destroy(&c->plain);
    secure_handshake_wipe(&c->hs);
    secure_channel_close(&c->ch);
    secure_key_wipe(&c->key);
    free(c->in);
    free(c->endpoints);
    free(c);
}
