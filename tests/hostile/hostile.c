/* augur-hostile: the attacks of issue 12 against a live node, each bounded
 * in count and time, each printing one JSON line of what it did.
 *
 *   augur-hostile MODE --port P [--host H] [options]
 *
 *   big-hello --count C [--rounds R]
 *       C connections at once, each sending one 4 MiB HELLO made of ~2
 *       million tiny map entries (plus the real HELLO fields), R times.
 *   idle --count N --hold S
 *       N idle TCP connections held S seconds.
 *   partial --count N --hold S
 *       N connections each announcing a 4 MiB frame and sending all of it but
 *       one byte, held S seconds.
 *   polls --count N [--pad BYTES] [--stale]          (authenticated)
 *       N "events" long polls with a far-future "from" and a 49-day wait_ms,
 *       each padded with an unknown field of BYTES bytes, then hang up.
 *   pipeline --count N --window W --op OP [--args-json J] [--client ID]
 *            [--hold S] [--stale]                     (authenticated)
 *       N requests with at most W unanswered (W = 0: never read an answer;
 *       then hold S seconds).  With --client, the connection opens its
 *       session (session.open) and request i carries seq i.
 *       Stops early when the server closes the connection.
 *   biglist --count N                                 (authenticated)
 *       Opens a session, adds N resources with 16 large labels each, then
 *       asks for resource.list with limit 10000 and reports what came back.
 *   peer-join                                         (authenticated)
 *       The authenticated handshake on a Raft port with AUGUR_KEY (the
 *       cluster key): reports whether the node welcomed us as a peer.
 *
 * Keys: AUGUR_KEY and AUGUR_CLUSTER_KEY, as for augur-wire.  Exit 0 when
 * the attack ran (whatever the node did), 1 when it could not run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>

#include "common/error.h"
#include "wire/proto.h"
#include "wire/secure.h"
#include "tests/lib/wire_conn.h"

/* 49 days, in milliseconds: under UINT32_MAX. */
#define HOSTILE_WAIT_49_DAYS 4233600000u
#define HOSTILE_FAR_FROM (1ull << 40)

static const char usage[] =
    "usage: augur-hostile big-hello|idle|partial|polls|pipeline|biglist|"
    "peer-join\n"
    "         --port P [--host H] [--count N] [--rounds R] [--hold S]\n"
    "         [--pad BYTES] [--stale] [--window W] [--op OP] "
    "[--args-json J]\n"
    "         [--client ID]\n";

struct hostile_options
{
    const char *mode;
    const char *host;
    uint64_t port;
    char endpoint[300]; /* "host:port" */
    uint64_t count;
    uint64_t rounds;
    uint64_t hold_s;
    uint64_t pad;
    uint64_t window;
    uint64_t client;
    bool stale;
    const char *op;
    const char *args_json;
    bool keyed;
    struct secure_key key;
    uint8_t cluster_pk[SECURE_PK_SIZE];
};

/* What a failed read says: these texts are in the JSON lines printed. */
static const struct wire_conn_words hostile_words = {
    .closed = "the server closed",
    .bad_frame = "invalid frame",
    .unopened = "a frame does not open",
    .no_memory = NULL,
};

/* @s as a JSON string literal, in one of 4 rotating static buffers (enough
 * for one printf). */
static const char *jq(const char *s)
{
    static char bufs[4][400];
    static unsigned next;
    char *b = bufs[next++ % 4];
    size_t n = 0;

    b[n++] = '"';
    for (; *s != '\0' && n < sizeof bufs[0] - 8; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            b[n++] = '\\';
            b[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)snprintf(b + n, 7, "\\u%04x", ch);
        } else {
            b[n++] = (char)ch;
        }
    }
    b[n++] = '"';
    b[n] = '\0';
    return b;
}

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    if (wire_conn_parse_u64(s, out) != 0) {
        fprintf(stderr, "augur-hostile: %s: expected a non-negative number\n",
                flag);
        return AUGUR_EINVAL;
    }
    return 0;
}

/* What an answer or a CLOSE says: status, rev, error text, "next". */
struct answer_info
{
    uint64_t id;
    int64_t status;
    uint64_t rev;
    bool has_next;
    size_t items;
    char error[160];
};

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
    if (m == NULL || m->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0) {
            return &m->via.map.ptr[i].val;
        }
    }
    return NULL;
}

static int64_t obj_int(const msgpack_object *v)
{
    if (v == NULL) {
        return 0;
    }
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return (int64_t)v->via.u64;
    }
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        return v->via.i64;
    }
    return 0;
}

/* Describe a RESPONSE ({"id","answer":{...}}) or a CLOSE map. */
static int answer_describe(const struct proto_frame *f, struct answer_info *a)
{
    msgpack_unpacked u;
    const msgpack_object *ans;
    const msgpack_object *v;
    int rv;

    memset(a, 0, sizeof *a);
    msgpack_unpacked_init(&u);
    rv = proto_payload_unpack(f->payload, f->len, &u);
    if (rv != 0) {
        msgpack_unpacked_destroy(&u);
        return rv;
    }
    a->id = (uint64_t)obj_int(map_get(&u.data, "id"));
    ans = f->type == PROTO_RESPONSE ? map_get(&u.data, "answer") : &u.data;
    a->status = obj_int(map_get(ans, "status"));
    a->rev = (uint64_t)obj_int(map_get(ans, "rev"));
    v = map_get(ans, "error");
    if (v != NULL && v->type == MSGPACK_OBJECT_STR) {
        snprintf(a->error, sizeof a->error, "%.*s", (int)v->via.str.size,
                 v->via.str.ptr);
    }
    v = map_get(ans, "result");
    if (v != NULL) {
        const msgpack_object *next = map_get(v, "next");
        const msgpack_object *items = map_get(v, "items");
        a->has_next = next != NULL && next->type != MSGPACK_OBJECT_NIL;
        if (items != NULL && items->type == MSGPACK_OBJECT_ARRAY) {
            a->items = items->via.array.size;
        } else if (v->type == MSGPACK_OBJECT_ARRAY) {
            a->items = v->via.array.size;
        }
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}

/* Connect to the node and run the authenticated handshake as @client.  A
 * CLOSE instead is described in *@closed (status != 0). */
static int conn_open(struct wire_conn *c,
                     const struct hostile_options *o,
                     uint64_t client,
                     struct answer_info *closed)
{
    const struct wire_conn_auth a = {.cluster_pk = o->cluster_pk,
                                     .key = &o->key};
    struct proto_frame close_frame;
    int rv;

    wire_conn_init(c, &hostile_words);
    memset(closed, 0, sizeof *closed);
    if (wire_conn_connect(c, o->endpoint, NULL, 5000) != 0) {
        snprintf(c->errmsg, sizeof c->errmsg, "connect: %s", strerror(errno));
        return AUGUR_ECONNECT;
    }
    if (!o->keyed) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "AUGUR_KEY and AUGUR_CLUSTER_KEY are required");
        return AUGUR_EINVAL;
    }
    rv = wire_conn_handshake(c, &a, client, &close_frame);
    if (close_frame.type == PROTO_CLOSE) {
        (void)answer_describe(&close_frame, closed);
    }
    return rv;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Has the server closed @fd (EOF or reset), without blocking? */
static bool closed_by_server(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t sink[4096];

    for (;;) {
        ssize_t n;
        if (poll(&p, 1, 0) <= 0) {
            return false;
        }
        n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR)) {
            return true;
        }
        if (n < 0) {
            return false;
        }
    }
}

/* ---- big-hello --------------------------------------------------------- */

struct big_hello_job
{
    const struct hostile_options *o;
    const uint8_t *frame;
    size_t len;
    int answer_type; /* 0: none, -1: connection closed, else a frame type */
    uint64_t ms;
};

static void *big_hello_one(void *arg)
{
    struct big_hello_job *j = arg;
    uint64_t t0 = wire_conn_monotonic_ms();
    uint8_t hdr[PROTO_HEADER_SIZE];
    struct wire_conn c;

    j->answer_type = -1;
    wire_conn_init(&c, &hostile_words);
    if (wire_conn_connect(&c, j->o->endpoint, NULL, 5000) != 0) {
        return NULL;
    }
    wire_conn_set_timeout(c.fd, SO_RCVTIMEO, 15000);
    if (wire_conn_send(&c, j->frame, j->len) == 0) {
        ssize_t n = recv(c.fd, hdr, sizeof hdr, MSG_WAITALL);
        j->answer_type = n == (ssize_t)sizeof hdr ? hdr[4] : n < 0 ? 0 : -1;
    }
    j->ms = wire_conn_monotonic_ms() - t0;
    wire_conn_close(&c);
    return NULL;
}

static int run_big_hello(const struct hostile_options *o)
{
    /* The real HELLO fields, then tiny entries up to the frame limit. */
    size_t payload_max = PROTO_FRAME_MAX - 1;
    size_t extra = (payload_max - 128) / 2;
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint8_t eph[32];
    uint8_t *frame;
    size_t len;
    unsigned answered = 0, closed = 0, silent = 0;
    uint64_t max_ms = 0;
    struct big_hello_job *jobs;
    pthread_t *th;
    uint64_t count = o->count != 0 ? o->count : 4;
    uint64_t rounds = o->rounds != 0 ? o->rounds : 1;

    memset(eph, 0x42, sizeof eph);
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)(4 + extra));
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint32(&pk, PROTO_VERSION);
    msgpack_pack_str_with_body(&pk, "client", 6);
    msgpack_pack_uint64(&pk, 4242);
    msgpack_pack_str_with_body(&pk, "auth", 4);
    msgpack_pack_str_with_body(&pk, SECURE_SCHEME, strlen(SECURE_SCHEME));
    msgpack_pack_str_with_body(&pk, "eph", 3);
    msgpack_pack_bin_with_body(&pk, eph, sizeof eph);
    for (size_t i = 0; i < extra; i++) {
        /* Two one-byte objects per entry: nil keys, nil values. */
        msgpack_pack_nil(&pk);
        msgpack_pack_nil(&pk);
    }
    if (body.size > payload_max) {
        fprintf(stderr, "augur-hostile: HELLO of %zu bytes is too big\n",
                body.size);
        msgpack_sbuffer_destroy(&body);
        return 1;
    }
    len = PROTO_HEADER_SIZE + body.size;
    frame = malloc(len);
    jobs = calloc(count, sizeof *jobs);
    th = calloc(count, sizeof *th);
    if (frame == NULL || jobs == NULL || th == NULL) {
        fprintf(stderr, "augur-hostile: out of memory\n");
        return 1;
    }
    proto_header_write(frame, PROTO_HELLO, body.size);
    memcpy(frame + PROTO_HEADER_SIZE, body.data, body.size);
    for (uint64_t r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < count; i++) {
            jobs[i] =
                (struct big_hello_job){.o = o, .frame = frame, .len = len};
            if (pthread_create(&th[i], NULL, big_hello_one, &jobs[i]) != 0) {
                fprintf(stderr, "augur-hostile: pthread_create failed\n");
                return 1;
            }
        }
        for (uint64_t i = 0; i < count; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].answer_type == PROTO_CHALLENGE) {
                answered++;
            } else if (jobs[i].answer_type == 0) {
                silent++;
            } else {
                closed++;
            }
            if (jobs[i].ms > max_ms) {
                max_ms = jobs[i].ms;
            }
        }
    }
    printf("{\"mode\":\"big-hello\",\"port\":%" PRIu64 ",\"count\":%" PRIu64
           ",\"rounds\":%" PRIu64
           ",\"frame_bytes\":%zu,\"map_entries\":%zu,"
           "\"challenged\":%u,\"refused\":%u,\"no_answer\":%u,"
           "\"max_answer_ms\":%" PRIu64 "}\n",
           o->port, count, rounds, len, extra + 4, answered, closed, silent,
           max_ms);
    free(th);
    free(jobs);
    free(frame);
    msgpack_sbuffer_destroy(&body);
    return 0;
}

/* ---- idle and partial ---------------------------------------------------- */

static int run_hold(const struct hostile_options *o, bool partial)
{
    int *fds = calloc(o->count > 0 ? o->count : 1, sizeof *fds);
    uint8_t *filler = NULL;
    size_t filler_len = 0;
    uint64_t opened = 0, failed = 0, send_failed = 0, closed = 0;
    uint64_t t0 = wire_conn_monotonic_ms(), open_ms, deadline;
    int first_errno = 0;
    unsigned consecutive = 0;

    if (fds == NULL) {
        return 1;
    }
    raise_nofile();
    if (partial) {
        /* A 4 MiB frame (the most the node accepts), all but its last
         * byte. */
        filler_len = PROTO_HEADER_SIZE + PROTO_FRAME_MAX - 1 - 1;
        filler = calloc(1, filler_len);
        if (filler == NULL) {
            free(fds);
            return 1;
        }
        proto_header_write(filler, PROTO_HELLO, PROTO_FRAME_MAX - 1);
    }
    for (uint64_t i = 0; i < o->count; i++) {
        struct wire_conn c;
        wire_conn_init(&c, &hostile_words);
        if (wire_conn_connect(&c, o->endpoint, NULL, 2000) != 0) {
            if (first_errno == 0) {
                first_errno = errno;
            }
            failed++;
            if (++consecutive >= 50) {
                break; /* the node (or we) cannot take more */
            }
            continue;
        }
        consecutive = 0;
        if (partial) {
            wire_conn_set_timeout(c.fd, SO_SNDTIMEO, 10000);
            if (wire_conn_send(&c, filler, filler_len) != 0) {
                send_failed++;
            }
        }
        fds[opened++] = c.fd; /* the connection owns nothing else */
    }
    open_ms = wire_conn_monotonic_ms() - t0;
    deadline = wire_conn_monotonic_ms() + o->hold_s * 1000;
    while (wire_conn_monotonic_ms() < deadline) {
        usleep(100 * 1000);
    }
    for (uint64_t i = 0; i < opened; i++) {
        if (closed_by_server(fds[i])) {
            closed++;
        }
        close(fds[i]);
    }
    printf("{\"mode\":\"%s\",\"port\":%" PRIu64 ",\"count\":%" PRIu64
           ",\"opened\":%" PRIu64 ",\"connect_failed\":%" PRIu64
           ",\"first_error\":\"%s\",\"send_failed\":%" PRIu64
           ",\"open_ms\":%" PRIu64 ",\"hold_s\":%" PRIu64
           ",\"closed_by_server_during_hold\":%" PRIu64
           ",\"bytes_each\":%zu}\n",
           partial ? "partial" : "idle", o->port, o->count, opened, failed,
           first_errno != 0 ? strerror(first_errno) : "", send_failed, open_ms,
           o->hold_s, closed, filler_len);
    free(filler);
    free(fds);
    return 0;
}

/* ---- authenticated attacks ------------------------------------------------
 */

static int pack_args_json(const char *text, msgpack_sbuffer *out);

/* Append one REQUEST inner frame to @out.  @args is a packed map or NULL. */
static int request_frame(msgpack_sbuffer *out,
                         uint64_t id,
                         const char *op,
                         const msgpack_sbuffer *args,
                         uint64_t seq,
                         uint32_t wait_ms,
                         bool stale,
                         size_t pad)
{
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint32_t n = 2 + (args != NULL ? 1 : 0) + (seq != 0 ? 2 : 0) +
                 (wait_ms != 0 ? 1 : 0) + (stale ? 1 : 0) + (pad > 0 ? 1 : 0);
    int rv;

    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint64(&pk, id);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, op, strlen(op));
    if (args != NULL) {
        msgpack_pack_str_with_body(&pk, "args", 4);
        msgpack_sbuffer_write(&body, args->data, args->size);
    }
    if (seq != 0) {
        msgpack_pack_str_with_body(&pk, "seq", 3);
        msgpack_pack_uint64(&pk, seq);
        msgpack_pack_str_with_body(&pk, "ack", 3);
        msgpack_pack_uint64(&pk, 0);
    }
    if (wait_ms != 0) {
        msgpack_pack_str_with_body(&pk, "wait_ms", 7);
        msgpack_pack_uint32(&pk, wait_ms);
    }
    if (stale) {
        msgpack_pack_str_with_body(&pk, "stale", 5);
        msgpack_pack_true(&pk);
    }
    if (pad > 0) {
        /* An unknown key: the server ignores it, but keeps the request. */
        char *zeros = calloc(1, pad);
        if (zeros == NULL) {
            msgpack_sbuffer_destroy(&body);
            return AUGUR_ENOMEM;
        }
        msgpack_pack_str_with_body(&pk, "pad", 3);
        msgpack_pack_bin_with_body(&pk, zeros, pad);
        free(zeros);
    }
    rv = proto_frame_append(out, PROTO_REQUEST, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    return rv;
}

/* Writes apply only in a session the cluster knows (docs/PROTOCOL.md,
 * "Sessions"): open the connection's session as libaugur does, with a
 * request id the attacks never use, and wait for its answer. */
static int conn_session_open(struct wire_conn *c)
{
    const uint64_t id = (uint64_t)1 << 62;
    struct answer_info a;
    struct proto_frame f;
    msgpack_sbuffer out;
    int rv;

    msgpack_sbuffer_init(&out);
    rv = request_frame(&out, id, "session.open", NULL, 0, 0, false, 0);
    if (rv == 0) {
        rv = wire_conn_send_frames(c, out.data, out.size);
    }
    msgpack_sbuffer_destroy(&out);
    if (rv == 0) {
        rv = wire_conn_read_frame(c, &f);
    }
    if (rv == 0 && (answer_describe(&f, &a) != 0 || f.type != PROTO_RESPONSE ||
                    a.status != 0)) {
        snprintf(c->errmsg, sizeof c->errmsg, "session.open refused: %s",
                 f.type == PROTO_RESPONSE ? a.error : "no answer");
        rv = AUGUR_ESESSION;
    }
    return rv;
}

static int run_polls(const struct hostile_options *o)
{
    struct wire_conn c;
    struct answer_info closed;
    msgpack_sbuffer args, out;
    msgpack_packer pk;
    uint64_t sent = 0, answered = 0;
    int rv;

    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "from", 4);
    msgpack_pack_uint64(&pk, HOSTILE_FAR_FROM);
    rv = conn_open(&c, o, 0x5e11, &closed);
    for (uint64_t i = 1; rv == 0 && i <= o->count; i++) {
        out.size = 0;
        rv = request_frame(&out, i, "events", &args, 0, HOSTILE_WAIT_49_DAYS,
                           o->stale, o->pad);
        if (rv == 0) {
            rv = wire_conn_send_frames(&c, out.data, out.size);
        }
        if (rv == 0) {
            sent++;
        }
    }
    if (rv == 0) {
        /* Give the node a moment to read everything, count what it answered
         * at once (a refusal), then hang up. */
        struct proto_frame f;
        wire_conn_set_timeout(c.fd, SO_RCVTIMEO, 2000);
        while (wire_conn_read_frame(&c, &f) == 0) {
            struct answer_info a;
            answered++;
            if (answered == 1 && answer_describe(&f, &a) == 0) {
                closed = a;
            }
        }
    }
    printf("{\"mode\":\"polls\",\"port\":%" PRIu64 ",\"count\":%" PRIu64
           ",\"pad\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"answered\":%" PRIu64
           ",\"first_answer_status\":%" PRId64
           ",\"first_answer_error\":%s,\"error\":%s}\n",
           o->port, o->count, o->pad, sent, answered, closed.status,
           jq(closed.error), jq(rv == 0 ? "" : c.errmsg));
    wire_conn_close(&c);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&args);
    return rv == 0 ? 0 : 1;
}

static int run_pipeline(const struct hostile_options *o)
{
    struct wire_conn c;
    struct answer_info closed;
    msgpack_sbuffer args, out;
    uint64_t sent = 0, answered = 0, ok = 0, max_ok_rev = 0, min_ok_rev = 0;
    int64_t first_err_status = 0;
    char first_err[160] = "";
    bool server_closed = false;
    uint64_t t0 = wire_conn_monotonic_ms();
    int rv;

    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&out);
    if (o->args_json != NULL && pack_args_json(o->args_json, &args) != 0) {
        return 2;
    }
    rv = conn_open(&c, o, o->client != 0 ? o->client : 0x7ee1, &closed);
    if (rv == 0 && o->client != 0) {
        rv = conn_session_open(&c);
    }
    if (rv == 0 && o->window == 0) {
        /* A node that pushes back stops reading: give up sending after 5 s
         * of that rather than the usual 30. */
        wire_conn_set_timeout(c.fd, SO_SNDTIMEO, 5000);
    }
    while (rv == 0 && (sent < o->count || (o->window > 0 && answered < sent))) {
        struct proto_frame f;
        struct answer_info a;

        if (sent < o->count &&
            (o->window == 0 || sent - answered < o->window)) {
            out.size = 0;
            rv = request_frame(&out, sent + 1, o->op,
                               o->args_json != NULL ? &args : NULL,
                               o->client != 0 ? sent + 1 : 0, 0, o->stale, 0);
            if (rv == 0) {
                rv = wire_conn_send_frames(&c, out.data, out.size);
            }
            if (rv != 0) {
                server_closed = true;
                break;
            }
            sent++;
            continue;
        }
        if (o->window == 0) {
            break;
        }
        rv = wire_conn_read_frame(&c, &f);
        if (rv != 0) {
            server_closed = rv == AUGUR_ECONNECT;
            break;
        }
        if (answer_describe(&f, &a) != 0) {
            continue;
        }
        if (f.type == PROTO_CLOSE) {
            closed = a;
            server_closed = true;
            break;
        }
        answered++;
        if (a.status == 0) {
            ok++;
            if (a.rev > max_ok_rev) {
                max_ok_rev = a.rev;
            }
            if (min_ok_rev == 0 || a.rev < min_ok_rev) {
                min_ok_rev = a.rev;
            }
        } else if (first_err_status == 0) {
            first_err_status = a.status;
            snprintf(first_err, sizeof first_err, "%s", a.error);
        }
    }
    if (o->window == 0 && rv == 0) {
        uint64_t deadline = wire_conn_monotonic_ms() + o->hold_s * 1000;
        while (wire_conn_monotonic_ms() < deadline) {
            usleep(100 * 1000);
        }
        server_closed = closed_by_server(c.fd);
    }
    printf("{\"mode\":\"pipeline\",\"port\":%" PRIu64
           ",\"op\":\"%s\","
           "\"count\":%" PRIu64 ",\"window\":%" PRIu64 ",\"sent\":%" PRIu64
           ",\"answered\":%" PRIu64 ",\"ok\":%" PRIu64
           ",\"min_ok_rev\":%" PRIu64 ",\"max_ok_rev\":%" PRIu64
           ",\"first_error_status\":%" PRId64
           ",\"first_error\":%s"
           ",\"server_closed\":%s,\"close_status\":%" PRId64
           ",\"close_error\":%s,\"error\":%s,\"ms\":%" PRIu64 "}\n",
           o->port, o->op, o->count, o->window, sent, answered, ok, min_ok_rev,
           max_ok_rev, first_err_status, jq(first_err),
           server_closed ? "true" : "false", closed.status, jq(closed.error),
           jq(c.errmsg), wire_conn_monotonic_ms() - t0);
    wire_conn_close(&c);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&args);
    return 0;
}

/* resource.add args: a long id, 16 labels of the longest key and value. */
static void biglist_args(msgpack_sbuffer *args, uint64_t i)
{
    msgpack_packer pk;
    char id[128]; /* the longest id: 127 bytes */
    char key[64], value[128];

    args->size = 0;
    msgpack_packer_init(&pk, args, msgpack_sbuffer_write);
    snprintf(id, sizeof id, "hostile-big-%06" PRIu64 "-", i);
    memset(id + strlen(id), 'x', sizeof id - 1 - strlen(id));
    id[sizeof id - 1] = '\0';
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, id, strlen(id));
    msgpack_pack_str_with_body(&pk, "kind", 4);
    msgpack_pack_str_with_body(&pk, "host", 4);
    msgpack_pack_str_with_body(&pk, "labels", 6);
    msgpack_pack_map(&pk, 16);
    for (int l = 0; l < 16; l++) {
        snprintf(key, sizeof key, "label%02d-", l);
        memset(key + strlen(key), 'k', sizeof key - 1 - strlen(key));
        key[sizeof key - 1] = '\0';
        memset(value, 'v', sizeof value - 1);
        value[sizeof value - 1] = '\0';
        msgpack_pack_str_with_body(&pk, key, strlen(key));
        msgpack_pack_str_with_body(&pk, value, strlen(value));
    }
}

static int run_biglist(const struct hostile_options *o)
{
    struct wire_conn c;
    struct answer_info closed, a;
    struct proto_frame f;
    msgpack_sbuffer args, out;
    msgpack_packer pk;
    uint64_t sent = 0, answered = 0, ok = 0;
    const char *outcome = "?";
    size_t answer_bytes = 0;
    int rv;

    memset(&a, 0, sizeof a);
    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&out);
    rv = conn_open(&c, o, o->client != 0 ? o->client : 0xb1611, &closed);
    if (rv == 0) {
        rv = conn_session_open(&c);
    }
    while (rv == 0 && answered < o->count) {
        if (sent < o->count && sent - answered < 64) {
            biglist_args(&args, sent + 1);
            out.size = 0;
            rv = request_frame(&out, sent + 1, "resource.add", &args, sent + 1,
                               0, false, 0);
            if (rv == 0) {
                rv = wire_conn_send_frames(&c, out.data, out.size);
            }
            sent++;
            continue;
        }
        rv = wire_conn_read_frame(&c, &f);
        if (rv == 0 && answer_describe(&f, &a) == 0) {
            answered++;
            ok += a.status == 0 ? 1 : 0;
        }
    }
    if (rv == 0) {
        args.size = 0;
        msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "limit", 5);
        msgpack_pack_uint32(&pk, 10000);
        out.size = 0;
        rv = request_frame(&out, sent + 1, "resource.list", &args, 0, 0, false,
                           0);
        if (rv == 0) {
            rv = wire_conn_send_frames(&c, out.data, out.size);
        }
        if (rv == 0) {
            rv = wire_conn_read_frame(&c, &f);
            if (rv == 0) {
                answer_bytes = f.len;
                (void)answer_describe(&f, &a);
                outcome = f.type == PROTO_CLOSE       ? "close"
                          : a.status == AUGUR_ETOOBIG ? "etoobig"
                          : a.status != 0             ? "error"
                          : a.has_next                ? "page"
                                                      : "whole";
            } else {
                outcome = "dropped";
                rv = 0;
            }
        }
    }
    printf("{\"mode\":\"biglist\",\"port\":%" PRIu64 ",\"count\":%" PRIu64
           ",\"added\":%" PRIu64
           ",\"list_outcome\":\"%s\",\"list_status\":%" PRId64
           ",\"list_items\":%zu,\"list_next\":%s,\"answer_bytes\":%zu,"
           "\"error\":%s}\n",
           o->port, o->count, ok, outcome, a.status, a.items,
           a.has_next ? "true" : "false", answer_bytes,
           jq(rv == 0 ? a.error : c.errmsg));
    wire_conn_close(&c);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&args);
    return rv == 0 ? 0 : 1;
}

static int run_peer_join(const struct hostile_options *o)
{
    struct wire_conn c;
    struct answer_info closed;
    int rv = conn_open(&c, o, 99, &closed);

    printf("{\"mode\":\"peer-join\",\"port\":%" PRIu64
           ",\"welcomed\":%s,\"close_status\":%" PRId64 ",\"error\":%s}\n",
           o->port, rv == 0 ? "true" : "false", closed.status,
           jq(rv == 0               ? ""
              : c.errmsg[0] != '\0' ? c.errmsg
                                    : closed.error));
    wire_conn_close(&c);
    return 0;
}

static int pack_args_json(const char *text, msgpack_sbuffer *out)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    msgpack_packer pk;

    if (j == NULL || !json_is_object(j)) {
        fprintf(stderr, "augur-hostile: --args-json: %s\n",
                j == NULL ? jerr.text : "expected an object");
        json_decref(j);
        return 1;
    }
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (wire_conn_pack_json(&pk, j) != 0) {
        fprintf(stderr, "augur-hostile: --args-json: cannot encode\n");
        json_decref(j);
        return 1;
    }
    json_decref(j);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'},
        {"hold", required_argument, NULL, 's'},
        {"pad", required_argument, NULL, 'P'},
        {"window", required_argument, NULL, 'w'},
        {"client", required_argument, NULL, 'c'},
        {"stale", no_argument, NULL, 'S'},
        {"op", required_argument, NULL, 'o'},
        {"args-json", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct hostile_options o;
    int opt;

    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    if (argc < 2 || argv[1][0] == '-') {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    o.mode = argv[1];
    optind = 2;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rv = 0;
        switch (opt) {
            case 'H':
                o.host = optarg;
                break;
            case 'p':
                rv = parse_u64("--port", optarg, &o.port);
                break;
            case 'n':
                rv = parse_u64("--count", optarg, &o.count);
                break;
            case 'r':
                rv = parse_u64("--rounds", optarg, &o.rounds);
                break;
            case 's':
                rv = parse_u64("--hold", optarg, &o.hold_s);
                break;
            case 'P':
                rv = parse_u64("--pad", optarg, &o.pad);
                break;
            case 'w':
                rv = parse_u64("--window", optarg, &o.window);
                break;
            case 'c':
                rv = parse_u64("--client", optarg, &o.client);
                break;
            case 'S':
                o.stale = true;
                break;
            case 'o':
                o.op = optarg;
                break;
            case 'j':
                o.args_json = optarg;
                break;
            case 'h':
                fputs(usage, stdout);
                return 0;
            default:
                fputs(usage, stderr);
                return 2;
        }
        if (rv != 0) {
            return 2;
        }
    }
    if (optind != argc || o.port == 0 || o.port > 65535 || o.count > 1000000 ||
        o.hold_s > 3600 || o.pad > 3 * (1u << 20) || o.rounds > 100) {
        fputs(usage, stderr);
        return 2;
    }
    snprintf(o.endpoint, sizeof o.endpoint, "%s:%" PRIu64, o.host, o.port);
    signal(SIGPIPE, SIG_IGN);
    {
        char why[SECURE_ERRMSG_SIZE];
        if (wire_conn_keys_from_env(&o.key, o.cluster_pk, &o.keyed, why) != 0) {
            fprintf(stderr, "augur-hostile: keys: %s\n", why);
            return 2;
        }
    }
    if (strcmp(o.mode, "big-hello") == 0) {
        return run_big_hello(&o);
    }
    if (strcmp(o.mode, "idle") == 0) {
        return run_hold(&o, false);
    }
    if (strcmp(o.mode, "partial") == 0) {
        return run_hold(&o, true);
    }
    if (strcmp(o.mode, "polls") == 0) {
        return run_polls(&o);
    }
    if (strcmp(o.mode, "pipeline") == 0) {
        if (o.op == NULL || strlen(o.op) > PROTO_OP_MAX) {
            fputs(usage, stderr);
            return 2;
        }
        return run_pipeline(&o);
    }
    if (strcmp(o.mode, "biglist") == 0) {
        return run_biglist(&o);
    }
    if (strcmp(o.mode, "peer-join") == 0) {
        return run_peer_join(&o);
    }
    fputs(usage, stderr);
    return 2;
}
