/* wire_conn: the client connection of the test tools (see wire_conn.h). */
#include "tests/lib/wire_conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"

static const struct wire_conn_words default_words = {
    .closed = "server closed the connection",
    .bad_frame = "server sent an invalid frame",
    .unopened = "server sent a frame that does not open",
    .no_memory = "out of memory",
};

void wire_conn_init(struct wire_conn *c, const struct wire_conn_words *words)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->words = words != NULL ? words : &default_words;
}

void wire_conn_set_timeout(int fd, int optname, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, optname, &tv, sizeof tv);
}

int wire_conn_connect(struct wire_conn *c,
                      const char *endpoint,
                      const char *source,
                      int connect_ms)
{
    char host[256];
    const char *colon = strrchr(endpoint, ':');
    struct addrinfo hints;
    struct addrinfo *res;
    struct addrinfo *ai;
    size_t host_len;
    int connect_errno = 0;
    int rv;

    c->errmsg[0] = '\0';
    if (colon == NULL || colon == endpoint || colon[1] == '\0') {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "endpoint '%s': expected HOST:PORT", endpoint);
        return AUGUR_EINVAL;
    }
    host_len = (size_t)(colon - endpoint);
    if (host_len >= sizeof host) {
        snprintf(c->errmsg, sizeof c->errmsg, "endpoint '%s': host too long",
                 endpoint);
        return AUGUR_EINVAL;
    }
    memcpy(host, endpoint, host_len);
    host[host_len] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rv = getaddrinfo(host, colon + 1, &hints, &res);
    if (rv != 0) {
        snprintf(c->errmsg, sizeof c->errmsg, "getaddrinfo %s: %s", endpoint,
                 gai_strerror(rv));
        return AUGUR_ECONNECT;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                       ai->ai_protocol);
        if (c->fd < 0) {
            connect_errno = errno;
            continue;
        }
        if (source != NULL) {
            struct sockaddr_in from;
            memset(&from, 0, sizeof from);
            from.sin_family = AF_INET;
            if (inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
                bind(c->fd, (struct sockaddr *)&from, sizeof from) != 0) {
                connect_errno = errno;
                snprintf(c->errmsg, sizeof c->errmsg, "bind %s: %s", source,
                         strerror(connect_errno));
                close(c->fd);
                c->fd = -1;
                continue;
            }
        }
        if (connect_ms > 0) {
            wire_conn_set_timeout(c->fd, SO_SNDTIMEO, connect_ms);
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        connect_errno = errno;
        snprintf(c->errmsg, sizeof c->errmsg, "connect %s: %s", endpoint,
                 strerror(connect_errno));
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        if (c->errmsg[0] == '\0') {
            snprintf(c->errmsg, sizeof c->errmsg, "connect %s: no address",
                     endpoint);
        }
        errno = connect_errno;
        return AUGUR_ECONNECT;
    }
    wire_conn_set_timeout(c->fd, SO_RCVTIMEO, WIRE_CONN_IO_TIMEOUT_MS);
    wire_conn_set_timeout(c->fd, SO_SNDTIMEO, WIRE_CONN_IO_TIMEOUT_MS);
    return 0;
}

void wire_conn_close(struct wire_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = c->consumed = 0;
    secure_channel_close(&c->ch);
}

int wire_conn_send(struct wire_conn *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(c->errmsg, sizeof c->errmsg, "send: %s", strerror(errno));
            return errno == EAGAIN || errno == EWOULDBLOCK ? AUGUR_ETIMEOUT
                                                           : AUGUR_ECONNECT;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int wire_conn_send_frames(struct wire_conn *c, const void *buf, size_t len)
{
    msgpack_sbuffer sealed;
    int rv;

    if (!c->ch.ready) {
        return wire_conn_send(c, buf, len);
    }
    msgpack_sbuffer_init(&sealed);
    rv = secure_seal(&c->ch, buf, len, &sealed);
    if (rv == 0) {
        rv = wire_conn_send(c, sealed.data, sealed.size);
    }
    msgpack_sbuffer_destroy(&sealed);
    return rv;
}

int wire_conn_read_frame(struct wire_conn *c, struct proto_frame *frame)
{
    if (c->consumed > 0) {
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    for (;;) {
        ssize_t n;
        int rv = proto_frame_parse(c->buf, c->len,
                                   PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD, frame,
                                   &c->consumed);
        if (rv != 0) {
            snprintf(c->errmsg, sizeof c->errmsg, "%s: %s", c->words->bad_frame,
                     augur_errname(rv));
            return AUGUR_EPROTO;
        }
        if (c->consumed > 0 && c->ch.ready && frame->type == PROTO_SEALED) {
            struct proto_frame inner;
            rv = secure_open(&c->ch, frame, &inner);
            if (rv != 0) {
                snprintf(c->errmsg, sizeof c->errmsg, "%s: %s",
                         c->words->unopened, augur_errname(rv));
                return AUGUR_EPROTO;
            }
            *frame = inner;
        }
        if (c->consumed > 0) {
            return 0;
        }
        if (c->cap - c->len < 65536) {
            size_t cap = c->cap == 0 ? 131072 : c->cap * 2;
            uint8_t *buf = realloc(c->buf, cap);
            if (buf == NULL) {
                if (c->words->no_memory != NULL) {
                    snprintf(c->errmsg, sizeof c->errmsg, "%s",
                             c->words->no_memory);
                }
                return AUGUR_ENOMEM;
            }
            c->buf = buf;
            c->cap = cap;
        }
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n == 0) {
            snprintf(c->errmsg, sizeof c->errmsg, "%s", c->words->closed);
            return AUGUR_ECONNECT;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(c->errmsg, sizeof c->errmsg, "recv: %s", strerror(errno));
            return errno == EAGAIN || errno == EWOULDBLOCK ? AUGUR_ETIMEOUT
                                                           : AUGUR_ECONNECT;
        }
        c->len += (size_t)n;
    }
}

/* Read the next frame of the handshake, which must be of @type; a CLOSE is
 * left in *@closed. */
static int handshake_expect(struct wire_conn *c,
                            uint8_t type,
                            const char *name,
                            struct proto_frame *frame,
                            struct proto_frame *closed)
{
    int rv = wire_conn_read_frame(c, frame);

    if (rv != 0) {
        return rv;
    }
    if (frame->type == PROTO_CLOSE) {
        *closed = *frame;
        return AUGUR_EPROTO;
    }
    if (frame->type != type) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "expected %s, got a frame of type %d", name, (int)frame->type);
        return AUGUR_EPROTO;
    }
    return 0;
}

int wire_conn_handshake_begin(struct wire_conn *c,
                              const struct wire_conn_auth *a,
                              uint64_t client,
                              msgpack_sbuffer *auth_out,
                              struct proto_frame *closed)
{
    struct secure_handshake hs;
    struct proto_frame frame;
    msgpack_sbuffer hello;
    char why[SECURE_ERRMSG_SIZE];
    int rv;

    memset(closed, 0, sizeof *closed);
    memset(&hs, 0, sizeof hs);
    msgpack_sbuffer_init(&hello);
    rv = secure_client_hello(
        &hs, client, a->hello_pk != NULL ? a->hello_pk : a->cluster_pk, &hello);
    if (rv == 0) {
        rv = wire_conn_send(c, hello.data, hello.size);
    }
    msgpack_sbuffer_destroy(&hello);
    if (rv == 0) {
        rv = handshake_expect(c, PROTO_CHALLENGE, "CHALLENGE", &frame, closed);
    }
    if (rv == 0) {
        rv = a->node != NULL
                 ? secure_node_challenge(&hs, frame.payload, frame.len,
                                         a->cluster_pk, a->node, auth_out,
                                         &c->ch, why)
                 : secure_client_challenge(&hs, frame.payload, frame.len,
                                           a->cluster_pk, a->key, auth_out,
                                           &c->ch, why);
        if (rv != 0) {
            snprintf(c->errmsg, sizeof c->errmsg, "%s", why);
        }
    }
    secure_handshake_wipe(&hs);
    return rv;
}

int wire_conn_handshake_end(struct wire_conn *c,
                            const msgpack_sbuffer *auth,
                            struct proto_frame *closed)
{
    struct proto_frame frame;
    int rv;

    memset(closed, 0, sizeof *closed);
    rv = wire_conn_send(c, auth->data, auth->size);
    if (rv == 0) {
        rv = handshake_expect(c, PROTO_WELCOME, "WELCOME", &frame, closed);
    }
    return rv;
}

int wire_conn_handshake(struct wire_conn *c,
                        const struct wire_conn_auth *a,
                        uint64_t client,
                        struct proto_frame *closed)
{
    msgpack_sbuffer auth;
    int rv;

    msgpack_sbuffer_init(&auth);
    rv = wire_conn_handshake_begin(c, a, client, &auth, closed);
    if (rv == 0) {
        rv = wire_conn_handshake_end(c, &auth, closed);
    }
    msgpack_sbuffer_destroy(&auth);
    return rv;
}

int wire_conn_keys_from_env(struct secure_key *key,
                            uint8_t cluster_pk[SECURE_PK_SIZE],
                            bool *keyed,
                            char *why)
{
    const char *secret = getenv("AUGUR_KEY");
    const char *cluster = getenv("AUGUR_CLUSTER_KEY");
    int rv;

    *keyed = false;
    if (secret == NULL || cluster == NULL) {
        return 0;
    }
    rv = secure_init();
    if (rv != 0) {
        snprintf(why, SECURE_ERRMSG_SIZE, "libsodium does not initialise");
        return rv;
    }
    rv = secure_key_load_secret(secret, key, why);
    if (rv == 0) {
        rv = secure_key_load_public(cluster, cluster_pk, why);
    }
    *keyed = rv == 0;
    return rv;
}

int wire_conn_pack_json(msgpack_packer *pk, const json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;

    switch (json_typeof(j)) {
        case JSON_OBJECT:
            if (msgpack_pack_map(pk, json_object_size(j)) != 0) {
                return AUGUR_ENOMEM;
            }
            json_object_foreach((json_t *)j, key, v)
            {
                if (msgpack_pack_str_with_body(pk, key, strlen(key)) != 0 ||
                    wire_conn_pack_json(pk, v) != 0) {
                    return AUGUR_ENOMEM;
                }
            }
            return 0;
        case JSON_ARRAY:
            if (msgpack_pack_array(pk, json_array_size(j)) != 0) {
                return AUGUR_ENOMEM;
            }
            json_array_foreach(j, i, v)
            {
                if (wire_conn_pack_json(pk, v) != 0) {
                    return AUGUR_ENOMEM;
                }
            }
            return 0;
        case JSON_STRING:
            return msgpack_pack_str_with_body(pk, json_string_value(j),
                                              json_string_length(j)) != 0
                       ? AUGUR_ENOMEM
                       : 0;
        case JSON_INTEGER: {
            json_int_t n = json_integer_value(j);
            int rv = n >= 0 ? msgpack_pack_uint64(pk, (uint64_t)n)
                            : msgpack_pack_int64(pk, (int64_t)n);
            return rv != 0 ? AUGUR_ENOMEM : 0;
        }
        case JSON_REAL:
            return msgpack_pack_double(pk, json_real_value(j)) != 0
                       ? AUGUR_ENOMEM
                       : 0;
        case JSON_TRUE:
            return msgpack_pack_true(pk) != 0 ? AUGUR_ENOMEM : 0;
        case JSON_FALSE:
            return msgpack_pack_false(pk) != 0 ? AUGUR_ENOMEM : 0;
        case JSON_NULL:
            return msgpack_pack_nil(pk) != 0 ? AUGUR_ENOMEM : 0;
    }
    return AUGUR_EINVAL;
}

int wire_conn_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (s[0] == '\0' || s[0] == '-') {
        return AUGUR_EINVAL;
    }
    v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0') {
        return AUGUR_EINVAL;
    }
    *out = v;
    return 0;
}

uint64_t wire_conn_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
