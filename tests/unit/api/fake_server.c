/* A scripted augur server on 127.0.0.1 for libaugur's tests. */
#include "fake_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api/augur.h"

/* A safety net only: no test waits this long unless it is broken. */
#define FAKE_IO_TIMEOUT_S 10

static void surprise(struct fake_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void surprise(struct fake_server *s, const char *fmt, ...)
{
    va_list ap;

    if (s->surprises++ == 0) {
        va_start(ap, fmt);
        vsnprintf(s->surprise, sizeof s->surprise, fmt, ap);
        va_end(ap);
    }
}

static int read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fake_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_sbuffer(int fd, msgpack_sbuffer *sb)
{
    int rv = fake_send(fd, sb->data, sb->size);

    msgpack_sbuffer_destroy(sb);
    return rv;
}

/* Read one frame into *@buf (malloc'd, the caller frees it). */
static int read_frame(struct fake_server *s,
                      int fd,
                      uint8_t **buf,
                      struct proto_frame *frame)
{
    uint8_t hdr[PROTO_HEADER_SIZE];
    size_t used = 0;
    size_t n;
    int err;

    *buf = NULL;
    if (read_full(fd, hdr, sizeof hdr) != 0) {
        return -1;
    }
    n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 |
        hdr[3];
    if (n == 0 || n > PROTO_FRAME_MAX) {
        surprise(s, "frame length %zu", n);
        return -1;
    }
    *buf = malloc(n + 4);
    if (*buf == NULL) {
        surprise(s, "out of memory");
        return -1;
    }
    memcpy(*buf, hdr, sizeof hdr);
    if (read_full(fd, *buf + sizeof hdr, n - 1) != 0) {
        return -1;
    }
    err = proto_frame_parse(*buf, n + 4, PROTO_FRAME_MAX, frame, &used);
    if (err != 0 || used != n + 4) {
        surprise(s, "frame refused: %s", augur_strerror(err));
        return -1;
    }
    return 0;
}

int fake_read_hello(struct fake_server *s, int fd)
{
    struct proto_frame frame;
    struct proto_hello hello;
    msgpack_unpacked u;
    char errmsg[256];
    uint8_t *buf;
    int rv = -1;

    if (read_frame(s, fd, &buf, &frame) != 0) {
        free(buf);
        return -1;
    }
    msgpack_unpacked_init(&u);
    if (frame.type != PROTO_HELLO) {
        surprise(s, "frame type %d instead of HELLO", (int)frame.type);
    } else if (proto_payload_unpack(frame.payload, frame.len, &u) != 0) {
        surprise(s, "undecodable HELLO");
    } else if (proto_hello_decode(&u.data, &hello, errmsg) != 0) {
        surprise(s, "%s", errmsg);
    } else {
        if (s->hellos < FAKE_HELLOS_MAX) {
            s->hello_clients[s->hellos] = hello.client;
        }
        s->hellos++;
        s->hello_client = hello.client;
        s->hello_version = hello.version;
        memcpy(s->hello_auth, hello.auth, sizeof s->hello_auth);
        rv = 0;
    }
    msgpack_unpacked_destroy(&u);
    free(buf);
    return rv;
}

int fake_handshake(struct fake_server *s, int fd)
{
    msgpack_sbuffer payload;
    msgpack_sbuffer frame;
    msgpack_packer pk;
    int err;

    if (fake_read_hello(s, fd) != 0) {
        return -1;
    }
    msgpack_sbuffer_init(&payload);
    msgpack_sbuffer_init(&frame);
    msgpack_packer_init(&pk, &payload, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, PROTO_VERSION);
    msgpack_pack_str_with_body(&pk, "node", 4);
    msgpack_pack_uint64(&pk, 1);
    err = proto_frame_append(&frame, PROTO_WELCOME, payload.data, payload.size);
    msgpack_sbuffer_destroy(&payload);
    if (err != 0) {
        msgpack_sbuffer_destroy(&frame);
        surprise(s, "welcome: %s", augur_strerror(err));
        return -1;
    }
    return send_sbuffer(fd, &frame);
}

static int read_request(struct fake_server *s,
                        int fd,
                        unsigned conn,
                        struct fake_request **out)
{
    struct proto_frame frame;
    struct proto_request req;
    struct fake_request *r;
    msgpack_unpacked u;
    char errmsg[256];
    uint8_t *buf;
    int rv = -1;

    if (out != NULL) {
        *out = NULL;
    }
    if (read_frame(s, fd, &buf, &frame) != 0) {
        free(buf);
        return -1;
    }
    msgpack_unpacked_init(&u);
    if (frame.type != PROTO_REQUEST) {
        surprise(s, "frame type %d instead of REQUEST", (int)frame.type);
    } else if (proto_payload_unpack(frame.payload, frame.len, &u) != 0) {
        surprise(s, "undecodable REQUEST");
    } else if (proto_request_decode(&u.data, &req, errmsg) != 0) {
        surprise(s, "%s", errmsg);
    } else if (s->n_requests == FAKE_REQUESTS_MAX) {
        surprise(s, "too many requests");
    } else {
        r = &s->requests[s->n_requests++];
        memset(r, 0, sizeof *r);
        r->conn = conn;
        r->id = req.id;
        r->seq = req.seq;
        r->ack = req.ack;
        memcpy(r->op, req.op, req.op_len);
        r->stale = req.stale;
        r->wait_ms = req.wait_ms;
        r->has_args = req.args != NULL;
        (void)augur_map_str(req.args, "workload", r->workload,
                            sizeof r->workload);
        (void)augur_map_u64(req.args, "from", &r->from);
        (void)augur_map_u64(req.args, "limit", &r->limit);
        if (out != NULL) {
            *out = r;
        }
        rv = 0;
    }
    msgpack_unpacked_destroy(&u);
    free(buf);
    return rv;
}

/* A cluster answers the session.open that libaugur sends before its first
 * write (and after ESESSION): so does every script, without counting it
 * among the requests it saw (s->session_opens counts them). */
int fake_read_request(struct fake_server *s,
                      int fd,
                      unsigned conn,
                      struct fake_request **out)
{
    static const uint8_t ttl[] = {0x81, 0xa6, 't',  't',  'l',  '_', 'm',
                                  's',  0xce, 0x00, 0x09, 0x27, 0xc0};
    struct fake_request *r;

    for (;;) {
        if (read_request(s, fd, conn, &r) != 0) {
            return -1;
        }
        if (strcmp(r->op, "session.open") != 0 || s->keep_session_opens) {
            break;
        }
        s->n_requests--;
        s->session_opens++;
        if (fake_answer(fd, r->id, 0, NULL, 0, NULL, ttl, sizeof ttl) != 0) {
            return -1;
        }
    }
    if (out != NULL) {
        *out = r;
    }
    return 0;
}

int fake_answer(int fd,
                uint64_t id,
                int status,
                const char *error,
                uint64_t rev,
                const char *leader,
                const void *result,
                size_t result_len)
{
    msgpack_sbuffer answer;
    msgpack_sbuffer frame;
    msgpack_packer pk;
    size_t n =
        1 + (error != NULL) + (rev != 0) + (leader != NULL) + (result != NULL);
    int err;

    msgpack_sbuffer_init(&answer);
    msgpack_sbuffer_init(&frame);
    msgpack_packer_init(&pk, &answer, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    msgpack_pack_str_with_body(&pk, "status", 6);
    msgpack_pack_int(&pk, status);
    if (error != NULL) {
        msgpack_pack_str_with_body(&pk, "error", 5);
        msgpack_pack_str_with_body(&pk, error, strlen(error));
    }
    if (rev != 0) {
        msgpack_pack_str_with_body(&pk, "rev", 3);
        msgpack_pack_uint64(&pk, rev);
    }
    if (leader != NULL) {
        msgpack_pack_str_with_body(&pk, "leader", 6);
        msgpack_pack_str_with_body(&pk, leader, strlen(leader));
    }
    if (result != NULL) {
        msgpack_pack_str_with_body(&pk, "result", 6);
        msgpack_sbuffer_write(&answer, result, result_len);
    }
    err = proto_response_append(&frame, id, answer.data, answer.size);
    msgpack_sbuffer_destroy(&answer);
    if (err != 0) {
        msgpack_sbuffer_destroy(&frame);
        return -1;
    }
    return send_sbuffer(fd, &frame);
}

int fake_answer_workload(int fd, uint64_t id, const char *workload)
{
    msgpack_sbuffer result;
    msgpack_packer pk;
    int rv;

    msgpack_sbuffer_init(&result);
    msgpack_packer_init(&pk, &result, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "workload", 8);
    msgpack_pack_str_with_body(&pk, workload, strlen(workload));
    rv = fake_answer(fd, id, 0, NULL, 1, NULL, result.data, result.size);
    msgpack_sbuffer_destroy(&result);
    return rv;
}

int fake_send_close(int fd, int status, const char *reason)
{
    msgpack_sbuffer frame;

    msgpack_sbuffer_init(&frame);
    if (proto_close_append(&frame, status, reason) != 0) {
        msgpack_sbuffer_destroy(&frame);
        return -1;
    }
    return send_sbuffer(fd, &frame);
}

void fake_drain(int fd)
{
    uint8_t buf[4096];

    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
}

static void *fake_main(void *arg)
{
    struct fake_server *s = arg;
    struct timeval tv = {.tv_sec = FAKE_IO_TIMEOUT_S};

    for (;;) {
        struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
                              {.fd = s->stop[0], .events = POLLIN}};
        int fd;

        if (poll(p, 2, -1) < 0) {
            continue;
        }
        if (p[1].revents != 0) {
            break;
        }
        fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        s->script(s, fd, s->conns++);
        close(fd);
    }
    return NULL;
}

static int bind_loopback(uint16_t *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

int fake_server_start(struct fake_server *s, fake_script script, void *data)
{
    memset(s, 0, sizeof *s);
    s->script = script;
    s->data = data;
    s->lfd = bind_loopback(&s->port);
    if (s->lfd < 0) {
        return -1;
    }
    if (listen(s->lfd, 16) != 0 || pipe(s->stop) != 0) {
        close(s->lfd);
        return -1;
    }
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%u", (unsigned)s->port);
    if (pthread_create(&s->thread, NULL, fake_main, s) != 0) {
        close(s->lfd);
        close(s->stop[0]);
        close(s->stop[1]);
        return -1;
    }
    return 0;
}

void fake_server_stop(struct fake_server *s)
{
    ssize_t n;

    do {
        n = write(s->stop[1], "x", 1);
    } while (n < 0 && errno == EINTR);
    pthread_join(s->thread, NULL);
    close(s->stop[0]);
    close(s->stop[1]);
    close(s->lfd);
}

int fake_refusing_port(uint16_t *port)
{
    return bind_loopback(port);
}
