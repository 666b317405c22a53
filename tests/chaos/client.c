/* augur-chaos-client: the clients of a chaos run, on libaugur.
 *
 *   now      print CLOCK_MONOTONIC in nanoseconds (the history's clock)
 *   setup    create the run's hosts and workloads
 *   run      N threads, one connection each, issue claim acquire, transfer,
 *            release and get on a few workloads and record every operation
 *            (invoke, then ok / fail / info) into the history
 *   final    wait until every node has applied the same log, then record
 *            each node's revision and a digest of its state (stale reads),
 *            and the cluster's claim event log, into the history
 *
 * History lines are appended with one write(2) each on an O_APPEND file, so
 * the nemesis (a shell script) may append its own events to the same file.
 * Credentials: every client is made by client_open(), the one place an
 * authentication key (AUGUR_KEY, once libaugur takes one) would be set. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/augur.h"

#define MAX_CLIENTS 256
#define MAX_NAMES 64
#define LINE_SIZE 1024

struct config
{
    const char *endpoints;
    const char *history;
    const char *prefix;
    unsigned clients;
    unsigned workloads;
    unsigned hosts;
    double seconds;
    uint64_t seed;
    int timeout_ms;
};

/* The run: shared, read-only once the threads start, but for the stop flag
 * and the counters. */
struct run
{
    const struct config *cfg;
    int fd;
    atomic_bool stop;
    atomic_ulong counts[3];
    int64_t deadline_ns;
};

struct worker
{
    struct run *run;
    unsigned process;
    pthread_t thread;
    uint64_t rng;
    uint64_t epoch[MAX_NAMES]; /* last epoch seen per workload */
};

static atomic_bool stop_signal;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_signal, true);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: small, seedable, good enough for a schedule. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(rng_next(s) % n);
}

static void workload_name(const struct config *cfg,
                          unsigned i,
                          char *out,
                          size_t n)
{
    snprintf(out, n, "%s-w%u", cfg->prefix, i + 1);
}

static void host_name(const struct config *cfg, unsigned i, char *out, size_t n)
{
    snprintf(out, n, "%s-h%u", cfg->prefix, i + 1);
}

/* Whether @w is one of the run's workloads (PREFIX-wN).  Other workloads'
 * claims (a demo fleet's, tests/chaos/run --orchestrator) are not the
 * clients' to account for. */
static bool own_workload(const struct config *cfg, const char *w)
{
    size_t n = strlen(cfg->prefix);
    const char *d = w + n + 2;

    if (strncmp(w, cfg->prefix, n) != 0 || w[n] != '-' || w[n + 1] != 'w' ||
        *d == '\0') {
        return false;
    }
    for (; *d != '\0'; d++) {
        if (*d < '0' || *d > '9') {
            return false;
        }
    }
    return true;
}

/* Append one line (with its newline) in one write. */
static void emit(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emit(int fd, const char *fmt, ...)
{
    char line[LINE_SIZE];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof line - 2) {
        n = (int)sizeof line - 2;
    }
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            fprintf(stderr, "augur-chaos-client: write history: %s\n",
                    strerror(errno));
            exit(2);
        }
        off += (int)w;
    }
}

static int client_open(const char *endpoints,
                       int timeout_ms,
                       struct augur_client **out)
{
    struct augur_options opt;
    char errmsg[AUGUR_ERRMSG_SIZE];
    int rv;

    augur_options_init(&opt);
    opt.timeout_ms = timeout_ms;
    opt.connect_timeout_ms = 500;
    rv = augur_client_open(endpoints, &opt, out, errmsg);
    if (rv != 0) {
        fprintf(stderr, "augur-chaos-client: %s: %s\n", endpoints, errmsg);
    }
    return rv;
}

/* ---- msgpack helpers ----------------------------------------------------- */

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* ---- setup --------------------------------------------------------------- */

/* Create the hosts and workloads, retrying each (EEXIST counts as done)
 * for up to 120 s in all. */
static int cmd_setup(const struct config *cfg)
{
    struct augur_client *c;
    char name[AUGUR_ID_SIZE];
    int64_t deadline = now_ns() + 120 * 1000000000LL;

    if (client_open(cfg->endpoints, cfg->timeout_ms, &c) != 0) {
        return 2;
    }
    for (unsigned i = 0; i < cfg->hosts + cfg->workloads; i++) {
        int rv;
        bool host = i < cfg->hosts;
        if (host) {
            host_name(cfg, i, name, sizeof name);
        } else {
            workload_name(cfg, i - cfg->hosts, name, sizeof name);
        }
        for (;;) {
            rv = host ? augur_resource_add(c, name, "host", 1000000, 1000000)
                      : augur_workload_add(c, name, 1, 1, 0);
            if (rv == 0 || rv == AUGUR_EEXIST) {
                break;
            }
            if (now_ns() > deadline) {
                fprintf(stderr, "augur-chaos-client: setup %s: %s\n", name,
                        augur_client_errmsg(c));
                augur_client_close(c);
                return 1;
            }
            usleep(200000);
        }
    }
    augur_client_close(c);
    return 0;
}

/* ---- run ----------------------------------------------------------------- */

static const char *const op_names[] = {"acquire", "transfer", "release", "get"};

/* Is a refusal @status a definite answer of the state machine? */
static bool definite(int status)
{
    switch (status) {
        case AUGUR_ECONFLICT:
        case AUGUR_ENOTFOUND:
        case AUGUR_EINVAL:
        case AUGUR_EUNAVAILABLE:
        case AUGUR_ENOCAPACITY:
        case AUGUR_EEXIST:
            return true;
        default:
            return false;
    }
}

static void one_op(struct worker *wk, struct augur_client *c)
{
    struct run *run = wk->run;
    const struct config *cfg = run->cfg;
    unsigned w = rng_below(&wk->rng, cfg->workloads);
    unsigned roll = rng_below(&wk->rng, 100);
    unsigned kind = roll < 30 ? 3 : roll < 65 ? 1 : roll < 80 ? 0 : 2;
    char wname[AUGUR_ID_SIZE], hname[AUGUR_ID_SIZE], args_json[320];
    msgpack_sbuffer args;
    msgpack_packer pk;
    struct augur_reply reply;
    uint64_t epoch = wk->epoch[w];
    char host[AUGUR_ID_SIZE] = "";
    uint64_t res_epoch = 0;
    bool has_claim = false;
    int status;

    workload_name(cfg, w, wname, sizeof wname);
    host_name(cfg, rng_below(&wk->rng, cfg->hosts), hname, sizeof hname);
    /* Now and then a guess one off the epoch last seen, so that stale and
     * future epochs are tried too. */
    if (kind != 3 && rng_below(&wk->rng, 10) == 0) {
        epoch = epoch + 1;
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    switch (kind) {
        case 0:
            /* One acquire in three lets the cluster choose the host that
             * fits (automatic placement, under the same faults). */
            if (rng_below(&wk->rng, 3) == 0) {
                msgpack_pack_map(&pk, 1);
                pack_str(&pk, "workload");
                pack_str(&pk, wname);
                snprintf(args_json, sizeof args_json, ",\"host\":\"*\"");
                break;
            }
            msgpack_pack_map(&pk, 2);
            pack_str(&pk, "workload");
            pack_str(&pk, wname);
            pack_str(&pk, "host");
            pack_str(&pk, hname);
            snprintf(args_json, sizeof args_json, ",\"host\":\"%s\"", hname);
            break;
        case 1:
            msgpack_pack_map(&pk, 3);
            pack_str(&pk, "workload");
            pack_str(&pk, wname);
            pack_str(&pk, "to");
            pack_str(&pk, hname);
            pack_str(&pk, "epoch");
            msgpack_pack_uint64(&pk, epoch);
            snprintf(args_json, sizeof args_json,
                     ",\"host\":\"%s\",\"epoch\":%" PRIu64, hname, epoch);
            break;
        case 2:
            msgpack_pack_map(&pk, 2);
            pack_str(&pk, "workload");
            pack_str(&pk, wname);
            pack_str(&pk, "epoch");
            msgpack_pack_uint64(&pk, epoch);
            snprintf(args_json, sizeof args_json, ",\"epoch\":%" PRIu64, epoch);
            break;
        default:
            msgpack_pack_map(&pk, 1);
            pack_str(&pk, "workload");
            pack_str(&pk, wname);
            args_json[0] = '\0';
            break;
    }
    static const char *const wire[] = {"claim.acquire", "claim.transfer",
                                       "claim.release", "claim.get"};
    emit(run->fd,
         "{\"type\":\"invoke\",\"process\":%u,\"time\":%" PRId64
         ",\"op\":\"%s\",\"workload\":\"%s\"%s}",
         wk->process, now_ns(), op_names[kind], wname, args_json);
    status = augur_call(c, wire[kind], args.data, args.size, 0, &reply);
    int64_t t = now_ns();
    msgpack_sbuffer_destroy(&args);
    if ((status == 0 || status == AUGUR_ECONFLICT) && reply.result != NULL &&
        augur_map_str(reply.result, "host", host, sizeof host) == 0 &&
        augur_map_u64(reply.result, "epoch", &res_epoch) == 0) {
        has_claim = true;
        wk->epoch[w] = res_epoch;
    }
    char claim[AUGUR_ID_SIZE + 64] = "";
    if (has_claim) {
        snprintf(claim, sizeof claim, ",\"host\":\"%s\",\"epoch\":%" PRIu64,
                 host, res_epoch);
    }
    if (status == 0) {
        emit(run->fd, "{\"type\":\"ok\",\"process\":%u,\"time\":%" PRId64 "%s}",
             wk->process, t, claim);
        atomic_fetch_add(&run->counts[0], 1);
    } else if (kind == 3 && status == AUGUR_ENOTFOUND) {
        emit(run->fd,
             "{\"type\":\"ok\",\"process\":%u,\"time\":%" PRId64
             ",\"held\":false}",
             wk->process, t);
        atomic_fetch_add(&run->counts[0], 1);
    } else if (definite(status)) {
        emit(run->fd,
             "{\"type\":\"fail\",\"process\":%u,\"time\":%" PRId64
             ",\"error\":\"%s\"%s}",
             wk->process, t, augur_errname(status), claim);
        atomic_fetch_add(&run->counts[1], 1);
    } else {
        emit(run->fd,
             "{\"type\":\"info\",\"process\":%u,\"time\":%" PRId64
             ",\"error\":\"%s\"}",
             wk->process, t, augur_errname(status));
        atomic_fetch_add(&run->counts[2], 1);
    }
    augur_reply_free(&reply);
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct run *run = wk->run;
    struct augur_client *c;

    if (client_open(run->cfg->endpoints, run->cfg->timeout_ms, &c) != 0) {
        atomic_store(&run->stop, true);
        return NULL;
    }
    while (!atomic_load(&run->stop) && !atomic_load(&stop_signal) &&
           now_ns() < run->deadline_ns) {
        one_op(wk, c);
        /* A short pause keeps the history's size in check without letting
         * operations stop overlapping. */
        usleep(5000 + rng_below(&wk->rng, 40000));
    }
    augur_client_close(c);
    return NULL;
}

static int cmd_run(const struct config *cfg)
{
    static struct worker workers[MAX_CLIENTS];
    struct run run;
    struct sigaction sa;

    memset(&run, 0, sizeof run);
    run.cfg = cfg;
    run.fd =
        open(cfg->history, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (run.fd < 0) {
        fprintf(stderr, "augur-chaos-client: open %s: %s\n", cfg->history,
                strerror(errno));
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    run.deadline_ns = now_ns() + (int64_t)(cfg->seconds * 1e9);
    for (unsigned i = 0; i < cfg->clients; i++) {
        workers[i].run = &run;
        workers[i].process = i + 1;
        workers[i].rng = cfg->seed * 1000003ULL + i;
        if (pthread_create(&workers[i].thread, NULL, worker_main,
                           &workers[i]) != 0) {
            fprintf(stderr, "augur-chaos-client: pthread_create failed\n");
            atomic_store(&run.stop, true);
            for (unsigned j = 0; j < i; j++) {
                pthread_join(workers[j].thread, NULL);
            }
            close(run.fd);
            return 2;
        }
    }
    for (unsigned i = 0; i < cfg->clients; i++) {
        pthread_join(workers[i].thread, NULL);
    }
    close(run.fd);
    printf("clients: ok %lu, fail %lu, info %lu\n",
           (unsigned long)atomic_load(&run.counts[0]),
           (unsigned long)atomic_load(&run.counts[1]),
           (unsigned long)atomic_load(&run.counts[2]));
    if (atomic_load(&run.counts[0]) == 0) {
        /* Nothing succeeded: the history can prove nothing. */
        fprintf(stderr,
                "augur-chaos-client: no operation succeeded in %u s; the "
                "cluster never served these clients\n",
                (unsigned)cfg->seconds);
        return 1;
    }
    return 0;
}

/* ---- final --------------------------------------------------------------- */

struct node_view
{
    char endpoint[AUGUR_ADDR_SIZE];
    int id;
    uint64_t last_applied, rev;
    bool ok;
};

static int status_of(struct augur_client *c, struct node_view *v)
{
    struct augur_reply reply;
    uint64_t id = 0;
    int st = augur_call(c, "status", NULL, 0, AUGUR_STALE, &reply);
    v->ok = false;
    if (st == 0 && reply.result != NULL &&
        augur_map_u64(reply.result, "node", &id) == 0 &&
        augur_map_u64(reply.result, "last_applied", &v->last_applied) == 0 &&
        augur_map_u64(reply.result, "rev", &v->rev) == 0) {
        v->ok = true;
        v->id = (int)id;
    }
    augur_reply_free(&reply);
    return v->ok ? 0 : -1;
}

/* The store's own digest at the node's applied index (status with
 * "digest": true), as 64 hex digits in @hex. */
static int store_digest_of(struct augur_client *c,
                           char hex[65],
                           uint64_t *applied)
{
    struct augur_reply reply;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int st;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "digest");
    msgpack_pack_true(&pk);
    st = augur_call(c, "status", sb.data, sb.size, AUGUR_STALE, &reply);
    msgpack_sbuffer_destroy(&sb);
    if (st == 0 &&
        (reply.result == NULL ||
         augur_map_str(reply.result, "digest", hex, 65) != 0 ||
         augur_map_u64(reply.result, "last_applied", applied) != 0)) {
        st = -1;
    }
    augur_reply_free(&reply);
    return st == 0 ? 0 : -1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ULL;
    }
    return h;
}

/* Digest of a node's state as a stale reader sees it: its whole event log
 * (every change with its revision, time and result) and every claim of the
 * run.  Writes the claim events of the run's workloads to @fd when
 * @fd >= 0. */
static int node_digest(struct augur_client *c,
                       const struct config *cfg,
                       uint64_t *digest,
                       int fd,
                       bool *complete)
{
    uint64_t h = 0xcbf29ce484222325ULL, from = 1;

    *complete = true;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rv = 0;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (;;) {
        struct augur_reply reply;
        const msgpack_object *evs, *next;
        int st = augur_events(c, from, 1000, 0, AUGUR_STALE, &reply);
        uint64_t oldest = 0;
        if (st == AUGUR_ECOMPACTED && reply.result != NULL &&
            augur_map_u64(reply.result, "oldest", &oldest) == 0 &&
            oldest > from) {
            /* A long run outgrew the log the store keeps: digest what is
             * kept (the same on every node), and say the log is partial,
             * so that the checker does not count trimmed events lost. */
            augur_reply_free(&reply);
            from = oldest;
            *complete = false;
            continue;
        }
        if (st != 0 || reply.result == NULL) {
            augur_reply_free(&reply);
            rv = -1;
            break;
        }
        evs = augur_map_get(reply.result, "events");
        next = augur_map_get(reply.result, "next");
        if (evs == NULL || evs->type != MSGPACK_OBJECT_ARRAY || next == NULL ||
            next->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            augur_reply_free(&reply);
            rv = -1;
            break;
        }
        for (uint32_t i = 0; i < evs->via.array.size; i++) {
            const msgpack_object *e = &evs->via.array.ptr[i];
            const msgpack_object *data = augur_map_get(e, "data");
            char op[64], wl[AUGUR_ID_SIZE], host[AUGUR_ID_SIZE];
            uint64_t rev = 0, epoch = 0;
            sb.size = 0;
            msgpack_pack_object(&pk, *e);
            h = fnv(h, sb.data, sb.size);
            if (fd >= 0 && augur_map_str(e, "op", op, sizeof op) == 0 &&
                strncmp(op, "claim.", 6) == 0 && data != NULL &&
                augur_map_u64(e, "rev", &rev) == 0 &&
                augur_map_str(data, "workload", wl, sizeof wl) == 0 &&
                augur_map_str(data, "host", host, sizeof host) == 0 &&
                augur_map_u64(data, "epoch", &epoch) == 0 &&
                own_workload(cfg, wl)) {
                emit(fd,
                     "{\"type\":\"event\",\"rev\":%" PRIu64
                     ",\"op\":\"%s\",\"workload\":\"%s\",\"host\":\"%s\","
                     "\"epoch\":%" PRIu64 "}",
                     rev, op, wl, host, epoch);
            }
        }
        bool done = evs->via.array.size == 0 || next->via.u64 <= from;
        from = next->via.u64;
        augur_reply_free(&reply);
        if (done) {
            break;
        }
    }
    for (unsigned w = 0; w < cfg->workloads && rv == 0; w++) {
        char wname[AUGUR_ID_SIZE];
        struct augur_claim claim;
        int st;
        workload_name(cfg, w, wname, sizeof wname);
        st = augur_claim_get(c, wname, AUGUR_STALE, &claim);
        if (st == 0) {
            h = fnv(h, claim.host, strlen(claim.host) + 1);
            h = fnv(h, &claim.epoch, sizeof claim.epoch);
        } else if (st == AUGUR_ENOTFOUND) {
            h = fnv(h, "-", 2);
        } else {
            rv = -1;
        }
    }
    msgpack_sbuffer_destroy(&sb);
    *digest = h;
    return rv;
}

static int cmd_final(const struct config *cfg)
{
    struct node_view nodes[16];
    struct augur_client *clients[16];
    unsigned n = 0;
    const char *p = cfg->endpoints;
    int fd, rc = 0;
    int64_t deadline = now_ns() + 90 * 1000000000LL;

    while (*p != '\0' && n < 16) {
        size_t len = strcspn(p, ",");
        snprintf(nodes[n].endpoint, sizeof nodes[n].endpoint, "%.*s", (int)len,
                 p);
        if (client_open(nodes[n].endpoint, 3000, &clients[n]) != 0) {
            return 2;
        }
        n++;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    fd = open(cfg->history, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "augur-chaos-client: open %s: %s\n", cfg->history,
                strerror(errno));
        return 2;
    }
    /* Converged: every node answers, with the same applied index and
     * revision, twice in a row (nothing was still in flight). */
    uint64_t prev_applied = 0;
    unsigned stable = 0;
    for (;;) {
        bool same = true;
        for (unsigned i = 0; i < n; i++) {
            if (status_of(clients[i], &nodes[i]) != 0 ||
                nodes[i].last_applied != nodes[0].last_applied ||
                nodes[i].rev != nodes[0].rev) {
                same = false;
            }
        }
        if (same && nodes[0].last_applied == prev_applied) {
            if (++stable >= 2) {
                break;
            }
        } else {
            stable = 0;
        }
        prev_applied = same ? nodes[0].last_applied : 0;
        if (now_ns() > deadline) {
            fprintf(stderr,
                    "augur-chaos-client: nodes did not converge in 90 s\n");
            rc = 1;
            break;
        }
        usleep(300000);
    }
    /* The store's own digest covers everything, not only what a stale
     * reader sees.  The leader may still apply a command of its own (a
     * session expiry) between two nodes' answers: ask again until every node
     * answers at the same applied index. */
    char store_hexes[16][65];
    uint64_t store_applieds[16];
    for (unsigned attempt = 0; attempt < 30; attempt++) {
        bool same = true;
        for (unsigned i = 0; i < n; i++) {
            if (store_digest_of(clients[i], store_hexes[i],
                                &store_applieds[i]) != 0) {
                snprintf(store_hexes[i], sizeof store_hexes[i], "unreachable");
                store_applieds[i] = 0;
                same = false;
            } else if (store_applieds[i] != store_applieds[0]) {
                same = false;
            }
        }
        if (same) {
            break;
        }
        usleep(300000);
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t d = 0;
        bool complete = true;
        if (!nodes[i].ok || node_digest(clients[i], cfg, &d, i == 0 ? fd : -1,
                                        &complete) != 0) {
            fprintf(stderr, "augur-chaos-client: no final state from %s: %s\n",
                    nodes[i].endpoint, augur_client_errmsg(clients[i]));
            emit(fd,
                 "{\"type\":\"final\",\"node\":%d,\"rev\":0,\"digest\":"
                 "\"unreachable:%s\"}",
                 nodes[i].ok ? nodes[i].id : (int)i + 1, nodes[i].endpoint);
            rc = 1;
            continue;
        }
        if (i == 0 && complete) {
            emit(fd, "{\"type\":\"events_end\"}");
        } else if (i == 0) {
            fprintf(stderr,
                    "augur-chaos-client: the event log was trimmed; lost "
                    "and doubled writes are checked by linearizability "
                    "only\n");
        }
        char *store_hex = store_hexes[i];
        uint64_t store_applied = store_applieds[i];
        emit(fd,
             "{\"type\":\"final\",\"node\":%d,\"rev\":%" PRIu64
             ",\"applied\":%" PRIu64 ",\"digest\":\"%016" PRIx64
             "\",\"store_digest\":\"%s\",\"store_applied\":%" PRIu64 "}",
             nodes[i].id, nodes[i].rev, nodes[i].last_applied, d, store_hex,
             store_applied);
        printf("node %d: rev %" PRIu64 " applied %" PRIu64 " digest %016" PRIx64
               " store digest %.16s at %" PRIu64 "\n",
               nodes[i].id, nodes[i].rev, nodes[i].last_applied, d, store_hex,
               store_applied);
    }
    for (unsigned i = 0; i < n; i++) {
        augur_client_close(clients[i]);
    }
    close(fd);
    return rc;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: augur-chaos-client now\n"
            "       augur-chaos-client setup --endpoints E --prefix P "
            "[--workloads N] [--hosts N]\n"
            "       augur-chaos-client run --endpoints E --prefix P --history "
            "FILE\n"
            "                          [--clients N] [--seconds S] [--seed S] "
            "[--timeout MS]\n"
            "       augur-chaos-client final --endpoints E --prefix P "
            "--history FILE\n"
            "\n"
            "The clients of a chaos run (see tests/chaos/run).  Workloads are\n"
            "P-w1..P-wN (default 3), hosts P-h1..P-hN (default 3).  'run'\n"
            "appends invoke/ok/fail/info lines to FILE; 'final' takes each\n"
            "endpoint as one node and appends its final state.\n");
}

static int parse_uint(const char *s, unsigned long long max, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s == '\0' || *s == '-') {
        return -1;
    }
    v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg = {NULL, NULL, "chaos", 10, 3, 3, 60, 1, 5000};
    const char *cmd;
    uint64_t v;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cmd = argv[1];
    if (strcmp(cmd, "now") == 0) {
        printf("%" PRId64 "\n", now_ns());
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--endpoints") == 0 && val != NULL) {
            cfg.endpoints = val;
        } else if (strcmp(a, "--history") == 0 && val != NULL) {
            cfg.history = val;
        } else if (strcmp(a, "--prefix") == 0 && val != NULL) {
            cfg.prefix = val;
        } else if (strcmp(a, "--clients") == 0 &&
                   parse_uint(val, MAX_CLIENTS, &v) == 0 && v > 0) {
            cfg.clients = (unsigned)v;
        } else if (strcmp(a, "--workloads") == 0 &&
                   parse_uint(val, MAX_NAMES, &v) == 0 && v > 0) {
            cfg.workloads = (unsigned)v;
        } else if (strcmp(a, "--hosts") == 0 &&
                   parse_uint(val, MAX_NAMES, &v) == 0 && v > 0) {
            cfg.hosts = (unsigned)v;
        } else if (strcmp(a, "--seconds") == 0 &&
                   parse_uint(val, 1000000, &v) == 0) {
            cfg.seconds = (double)v;
        } else if (strcmp(a, "--seed") == 0 &&
                   parse_uint(val, UINT64_MAX, &v) == 0) {
            cfg.seed = v;
        } else if (strcmp(a, "--timeout") == 0 &&
                   parse_uint(val, 600000, &v) == 0 && v > 0) {
            cfg.timeout_ms = (int)v;
        } else {
            fprintf(stderr, "augur-chaos-client: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (cfg.endpoints == NULL) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "setup") == 0) {
        return cmd_setup(&cfg);
    }
    if (cfg.history == NULL) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "run") == 0) {
        return cmd_run(&cfg);
    }
    if (strcmp(cmd, "final") == 0) {
        return cmd_final(&cfg);
    }
    usage(stderr);
    return 2;
}
