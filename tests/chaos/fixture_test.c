/* augur-chaos-fixture: the state machine (store/) under libraft's in-memory
 * deterministic cluster (raft/fixture.h), with simulated clients and a
 * seeded nemesis (crashes, partitions, message loss), checked by the chaos
 * checker.  The same seed gives the same run, step for step, so a failing
 * seed reproduces: augur-chaos-fixture --seed S --history FILE. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <raft.h>
#include <raft/fixture.h>

#include "check.h"
#include "store/store.h"

#define MAX_SERVERS 5
#define N_CLIENTS 10
#define N_WORKLOADS 3
#define N_HOSTS 3
#define ENTRY_HEADER 8
#define ENTRY_VERSION 1
#define GIVE_UP_MS 5000 /* a client's op unanswered this long is unknown */

struct server
{
    struct store *store;
    msgpack_sbuffer answer;
    struct raft_fsm fsm;
    char dir[256];
};

struct client;

/* One attempt in flight inside libraft; freed by its callback. */
struct attempt
{
    union
    {
        struct raft_apply apply;
        struct raft_barrier barrier;
    } req;
    struct sim *sim;
    unsigned client;
    uint64_t op_gen; /* the client's op this attempt belongs to */
    unsigned server;
};

struct client
{
    unsigned id; /* 1.. */
    bool busy;
    bool retry; /* the last attempt failed: submit again */
    uint64_t op_gen;
    int kind; /* enum chaos_kind */
    unsigned workload, host;
    uint64_t epoch_arg;
    uint64_t seq;
    raft_time started;
    raft_time next_try;
    unsigned attempts;
    uint64_t last_epoch[N_WORKLOADS];
};

struct sim
{
    struct raft_fixture f;
    unsigned n;
    struct server srv[MAX_SERVERS];
    struct client clients[N_CLIENTS];
    uint64_t rng;
    int64_t clock; /* the history's clock, see tick() */
    struct chaos_history h;
    size_t lineno;
    FILE *dump; /* a copy of the history, or NULL */
    unsigned nemesis_counts[8];
    unsigned pending; /* attempts inside libraft */
    int setup_status; /* 0 waiting, 1 done, -1 failed */
    unsigned snap_threshold, snap_trailing;
    bool failed;
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rnd(struct sim *s, unsigned n)
{
    return (unsigned)(rng_next(&s->rng) % n);
}

/* The history's clock: the fixture's simulated milliseconds, in ns, made
 * strictly increasing so that the records keep their order. */
static int64_t tick(struct sim *s)
{
    int64_t t = (int64_t)raft_fixture_time(&s->f) * 1000000;
    s->clock = t > s->clock ? t : s->clock + 1;
    return s->clock;
}

/* Record one history line (also into the dump file). */
static void record(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void record(struct sim *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s->dump != NULL) {
        fprintf(s->dump, "%s\n", line);
    }
    if (chaos_history_add_line(&s->h, line, ++s->lineno) != 0) {
        fprintf(stderr, "fixture: bad history line: %s\n", s->h.errmsg);
        s->failed = true;
    }
}

/* ---- the FSM: the store behind the replica's entry header ------------- */

static int fsm_apply(struct raft_fsm *fsm,
                     const struct raft_buffer *buf,
                     void **result)
{
    struct server *sv = fsm->data;
    const uint8_t *p = buf->base;
    size_t n;
    int rv;

    sv->answer.size = 0;
    if (buf->len < ENTRY_HEADER || p[4] != ENTRY_VERSION) {
        rv = store_answer_error(&sv->answer, AUGUR_EMALFORMED, "bad header");
    } else {
        n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (n > buf->len - ENTRY_HEADER) {
            rv = store_answer_error(&sv->answer, AUGUR_EMALFORMED, "bad len");
        } else {
            rv = store_apply_raw(sv->store, p + ENTRY_HEADER, n, &sv->answer);
        }
    }
    if (rv != 0) {
        return RAFT_IOERR;
    }
    *result = &sv->answer;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm,
                        struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct server *sv = fsm->data;
    void *data;
    size_t len;

    if (store_snapshot(sv->store, raft_malloc, &data, &len) != 0) {
        return RAFT_IOERR;
    }
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        raft_free(data);
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = data;
    (*bufs)[0].len = len;
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct server *sv = fsm->data;
    if (store_restore(sv->store, buf->base, buf->len) != 0) {
        return RAFT_CORRUPT;
    }
    raft_free(buf->base);
    return 0;
}

/* ---- commands ---------------------------------------------------------- */

static int entry_from_cmd(const struct store_cmd *cmd, struct raft_buffer *out)
{
    msgpack_sbuffer sb;
    size_t total;
    uint8_t *p;

    msgpack_sbuffer_init(&sb);
    if (store_cmd_encode(cmd, &sb) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    total = (ENTRY_HEADER + sb.size + 7) & ~(size_t)7;
    p = raft_malloc(total);
    if (p == NULL) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    memset(p, 0, total);
    p[0] = (uint8_t)(sb.size >> 24);
    p[1] = (uint8_t)(sb.size >> 16);
    p[2] = (uint8_t)(sb.size >> 8);
    p[3] = (uint8_t)sb.size;
    p[4] = ENTRY_VERSION;
    memcpy(p + ENTRY_HEADER, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    out->base = p;
    out->len = total;
    return 0;
}

static void wname(unsigned i, char *out)
{
    snprintf(out, STORE_ID_SIZE, "w%u", i + 1);
}

static void hname(unsigned i, char *out)
{
    snprintf(out, STORE_ID_SIZE, "h%u", i + 1);
}

/* Parse an answer: status, and the claim it carries if any. */
struct answer
{
    int status;
    bool has_claim;
    char host[STORE_ID_SIZE];
    uint64_t epoch;
};

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
    size_t n = strlen(key);
    if (m == NULL || m->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0) {
            return &m->via.map.ptr[i].val;
        }
    }
    return NULL;
}

static bool map_str(const msgpack_object *m, const char *key, char *out)
{
    const msgpack_object *v = map_get(m, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_STR ||
        v->via.str.size >= STORE_ID_SIZE) {
        return false;
    }
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return true;
}

static bool map_u64(const msgpack_object *m, const char *key, uint64_t *out)
{
    const msgpack_object *v = map_get(m, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return false;
    }
    *out = v->via.u64;
    return true;
}

static int answer_parse(const msgpack_sbuffer *sb, struct answer *a)
{
    msgpack_unpacked u;
    uint64_t st = 0;
    const msgpack_object *res;

    memset(a, 0, sizeof *a);
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, sb->data, sb->size, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        !map_u64(&u.data, "status", &st)) {
        msgpack_unpacked_destroy(&u);
        return -1;
    }
    a->status = (int)st;
    res = map_get(&u.data, "result");
    if (res != NULL && map_str(res, "host", a->host) &&
        map_u64(res, "epoch", &a->epoch)) {
        a->has_claim = true;
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}

/* ---- clients ----------------------------------------------------------- */

static void complete(struct sim *s, struct client *c, const struct answer *a)
{
    char claim[STORE_ID_SIZE + 48] = "";
    if (a->has_claim) {
        snprintf(claim, sizeof claim, ",\"host\":\"%s\",\"epoch\":%" PRIu64,
                 a->host, a->epoch);
        c->last_epoch[c->workload] = a->epoch;
    }
    if (a->status == 0) {
        record(s, "{\"type\":\"ok\",\"process\":%u,\"time\":%" PRId64 "%s}",
               c->id, tick(s), claim);
    } else if (c->kind == CHAOS_GET && a->status == AUGUR_ENOTFOUND) {
        record(s,
               "{\"type\":\"ok\",\"process\":%u,\"time\":%" PRId64
               ",\"held\":false}",
               c->id, tick(s));
    } else if (a->status == AUGUR_ESESSION) {
        record(s,
               "{\"type\":\"info\",\"process\":%u,\"time\":%" PRId64
               ",\"error\":\"ESESSION\"}",
               c->id, tick(s));
    } else {
        record(s,
               "{\"type\":\"fail\",\"process\":%u,\"time\":%" PRId64
               ",\"error\":\"%s\"%s}",
               c->id, tick(s), augur_errname(a->status), claim);
    }
    c->busy = false;
    c->op_gen++;
}

static void give_up(struct sim *s, struct client *c, const char *why)
{
    record(s,
           "{\"type\":\"info\",\"process\":%u,\"time\":%" PRId64
           ",\"error\":\"%s\"}",
           c->id, tick(s), why);
    c->busy = false;
    c->op_gen++;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct attempt *at = req->data;
    struct sim *s = at->sim;
    struct client *c = &s->clients[at->client];
    struct answer a;

    s->pending--;
    if (c->busy && c->op_gen == at->op_gen) {
        if (status == 0 && result != NULL && answer_parse(result, &a) == 0) {
            complete(s, c, &a);
        } else {
            c->retry = true; /* leadership lost: resubmit, same (id, seq) */
        }
    }
    free(at);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct attempt *at = req->data;
    struct sim *s = at->sim;
    struct client *c = &s->clients[at->client];
    struct store_cmd cmd;
    msgpack_sbuffer sb;
    struct answer a;

    s->pending--;
    if (c->busy && c->op_gen == at->op_gen) {
        if (status != 0) {
            c->retry = true;
        } else {
            /* Everything committed before the barrier is applied here:
             * serve the read from this server's store now. */
            memset(&cmd, 0, sizeof cmd);
            cmd.op = STORE_OP_CLAIM_GET;
            wname(c->workload, cmd.u.get.id);
            msgpack_sbuffer_init(&sb);
            if (store_read(s->srv[at->server].store, &cmd, &sb) == 0 &&
                answer_parse(&sb, &a) == 0) {
                complete(s, c, &a);
            } else {
                c->retry = true;
            }
            msgpack_sbuffer_destroy(&sb);
        }
    }
    free(at);
}

/* Submit the client's op to the current leader; false if there is none. */
static bool submit(struct sim *s, struct client *c)
{
    unsigned l = raft_fixture_leader_index(&s->f);
    struct attempt *at;
    struct raft *r;
    int rv;

    if (l >= s->n) {
        return false;
    }
    r = raft_fixture_get(&s->f, l);
    at = calloc(1, sizeof *at);
    if (at == NULL) {
        return false;
    }
    at->sim = s;
    at->client = c->id - 1;
    at->op_gen = c->op_gen;
    at->server = l;
    if (c->kind == CHAOS_GET) {
        at->req.barrier.data = at;
        rv = raft_barrier(r, &at->req.barrier, barrier_cb);
    } else {
        struct store_cmd cmd;
        struct raft_buffer buf;
        memset(&cmd, 0, sizeof cmd);
        cmd.client = c->id;
        cmd.seq = c->seq;
        cmd.ack = c->seq;
        cmd.time_ms = 1700000000000 + (int64_t)raft_fixture_time(&s->f);
        switch (c->kind) {
            case CHAOS_ACQUIRE:
                cmd.op = STORE_OP_CLAIM_ACQUIRE;
                wname(c->workload, cmd.u.acquire.workload);
                hname(c->host, cmd.u.acquire.host);
                break;
            case CHAOS_TRANSFER:
                cmd.op = STORE_OP_CLAIM_TRANSFER;
                wname(c->workload, cmd.u.transfer.workload);
                hname(c->host, cmd.u.transfer.to);
                cmd.u.transfer.epoch = c->epoch_arg;
                break;
            default:
                cmd.op = STORE_OP_CLAIM_RELEASE;
                wname(c->workload, cmd.u.release.workload);
                cmd.u.release.epoch = c->epoch_arg;
                break;
        }
        if (entry_from_cmd(&cmd, &buf) != 0) {
            free(at);
            return false;
        }
        at->req.apply.data = at;
        rv = raft_apply(r, &at->req.apply, &buf, 1, apply_cb);
        if (rv != 0) {
            raft_free(buf.base);
        }
    }
    if (rv != 0) {
        free(at);
        return false;
    }
    s->pending++;
    c->attempts++;
    c->retry = false;
    return true;
}

static void client_start(struct sim *s, struct client *c)
{
    static const char *const names[] = {"acquire", "transfer", "release",
                                        "get"};
    unsigned roll = rnd(s, 100);
    char w[STORE_ID_SIZE], h[STORE_ID_SIZE], args[2 * STORE_ID_SIZE] = "";

    c->kind = roll < 30   ? CHAOS_GET
              : roll < 65 ? CHAOS_TRANSFER
              : roll < 80 ? CHAOS_ACQUIRE
                          : CHAOS_RELEASE;
    c->workload = rnd(s, N_WORKLOADS);
    c->host = rnd(s, N_HOSTS);
    c->epoch_arg = c->last_epoch[c->workload] + (rnd(s, 10) == 0 ? 1 : 0);
    wname(c->workload, w);
    hname(c->host, h);
    if (c->kind == CHAOS_ACQUIRE) {
        snprintf(args, sizeof args, ",\"host\":\"%s\"", h);
    } else if (c->kind == CHAOS_TRANSFER) {
        snprintf(args, sizeof args, ",\"host\":\"%s\",\"epoch\":%" PRIu64, h,
                 c->epoch_arg);
    } else if (c->kind == CHAOS_RELEASE) {
        snprintf(args, sizeof args, ",\"epoch\":%" PRIu64, c->epoch_arg);
    }
    if (c->kind != CHAOS_GET) {
        c->seq++;
    }
    c->busy = true;
    c->retry = true;
    c->attempts = 0;
    c->started = raft_fixture_time(&s->f);
    record(s,
           "{\"type\":\"invoke\",\"process\":%u,\"time\":%" PRId64
           ",\"op\":\"%s\",\"workload\":\"%s\"%s}",
           c->id, tick(s), names[c->kind], w, args);
}

static void clients_tick(struct sim *s)
{
    raft_time now = raft_fixture_time(&s->f);
    for (unsigned i = 0; i < N_CLIENTS; i++) {
        struct client *c = &s->clients[i];
        if (now < c->next_try) {
            continue;
        }
        if (!c->busy) {
            client_start(s, c);
        }
        if (now - c->started > GIVE_UP_MS) {
            /* Like libaugur's deadline: the outcome stays unknown; a late
             * answer of this op is ignored (op_gen moves on). */
            give_up(s, c, c->attempts > 0 ? "EINDETERMINATE" : "ETIMEOUT");
            c->next_try = now + 10 + rnd(s, 40);
            continue;
        }
        if (c->retry) {
            submit(s, c);
            c->next_try = now + 20 + rnd(s, 40);
        }
    }
}

/* ---- nemesis ----------------------------------------------------------- */

enum fault
{
    F_NONE,
    F_KILL,
    F_KILL_LEADER,
    F_PARTITION,
    F_ISOLATE_LEADER,
    F_LOSS,
    F_COUNT
};

static const char *const fault_names[F_COUNT] = {
    "none", "kill", "kill-leader", "partition-half", "partition-leader",
    "loss"};

static void nemesis_record(struct sim *s,
                           const char *kind,
                           const char *phase,
                           unsigned node)
{
    record(s,
           "{\"type\":\"nemesis\",\"time\":%" PRId64
           ",\"kind\":\"%s\",\"phase\":\"%s\",\"node\":%u}",
           tick(s), kind, phase, node);
}

static void heal(struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (!raft_fixture_alive(&s->f, i)) {
            raft_fixture_revive(&s->f, i);
        }
        for (unsigned j = 0; j < s->n; j++) {
            if (i != j) {
                raft_fixture_reconnect(&s->f, i, j);
                raft_fixture_desaturate(&s->f, i, j);
            }
        }
    }
}

static void cut(struct sim *s, unsigned i, unsigned j)
{
    raft_fixture_disconnect(&s->f, i, j);
    raft_fixture_disconnect(&s->f, j, i);
}

static void fault_start(struct sim *s, enum fault f)
{
    unsigned l = raft_fixture_leader_index(&s->f);
    unsigned k = rnd(s, s->n);
    unsigned order[MAX_SERVERS];

    if ((f == F_KILL_LEADER || f == F_ISOLATE_LEADER) && l < s->n) {
        k = l;
    }
    switch (f) {
        case F_KILL:
        case F_KILL_LEADER:
            raft_fixture_kill(&s->f, k);
            break;
        case F_PARTITION:
            for (unsigned i = 0; i < s->n; i++) {
                order[i] = i;
            }
            for (unsigned i = s->n - 1; i > 0; i--) {
                unsigned j = rnd(s, i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (unsigned i = 0; i < s->n / 2; i++) {
                for (unsigned j = s->n / 2; j < s->n; j++) {
                    cut(s, order[i], order[j]);
                }
            }
            k = order[0];
            break;
        case F_ISOLATE_LEADER:
            for (unsigned j = 0; j < s->n; j++) {
                if (j != k) {
                    cut(s, k, j);
                }
            }
            break;
        case F_LOSS:
            for (unsigned i = 0; i < s->n; i++) {
                for (unsigned j = 0; j < s->n; j++) {
                    if (i != j && rnd(s, 100) < 30) {
                        raft_fixture_saturate(&s->f, i, j);
                    }
                }
            }
            break;
        default:
            break;
    }
    s->nemesis_counts[f]++;
    nemesis_record(s, fault_names[f], "start", k + 1);
}

/* ---- the run ----------------------------------------------------------- */

/* Snapshots are off by default: under faults, libraft 0.15's fixture
 * overruns a heap buffer (a memcpy inside raft_fixture_step reads past a
 * buffer libraft itself realloc'd) once snapshots are taken and installed,
 * at any threshold (e.g. --snapshot-threshold 64 --snapshot-trailing 16
 * --nodes 3 --seed 101 --seeds 10 under ASan).  The real-cluster runs
 * exercise snapshots (tests/chaos/run uses a threshold of 256). */
static unsigned snap_threshold = 1000000000, snap_trailing = 0;

static int sim_open(struct sim *s, unsigned n, uint64_t seed, FILE *dump)
{
    char errmsg[STORE_ERRMSG_SIZE];

    memset(s, 0, sizeof *s);
    s->snap_threshold = snap_threshold;
    s->snap_trailing = snap_trailing;
    s->n = n;
    s->rng = seed;
    s->dump = dump;
    chaos_history_init(&s->h);
    if (raft_fixture_initialize(&s->f) != 0) {
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        struct server *sv = &s->srv[i];
        /* The stores are scratch (LMDB, no O_DIRECT): memory is fine. */
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL) {
            tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        }
        snprintf(sv->dir, sizeof sv->dir, "%s/augur-fixture-XXXXXX", tmp);
        if (mkdtemp(sv->dir) == NULL ||
            store_open(sv->dir, STORE_OPEN_RESET, &sv->store, errmsg) != 0) {
            fprintf(stderr, "fixture: store: %s\n", errmsg);
            return -1;
        }
        msgpack_sbuffer_init(&sv->answer);
        sv->fsm.version = 1;
        sv->fsm.data = sv;
        sv->fsm.apply = fsm_apply;
        sv->fsm.snapshot = fsm_snapshot;
        sv->fsm.restore = fsm_restore;
        if (raft_fixture_grow(&s->f, &sv->fsm) != 0) {
            return -1;
        }
        raft_set_snapshot_threshold(raft_fixture_get(&s->f, i),
                                    s->snap_threshold);
        raft_set_snapshot_trailing(raft_fixture_get(&s->f, i),
                                   s->snap_trailing);
        /* Vary the election timeouts by seed, so that seeds differ in
         * who leads; keep them distinct (the fixture never re-draws them,
         * and two equal ones split the vote forever). */
        raft_fixture_set_randomized_election_timeout(
            &s->f, i, 1000 + 100 * i + rnd(s, 90));
        raft_fixture_set_network_latency(&s->f, i, 5 + rnd(s, 20));
        raft_fixture_set_disk_latency(&s->f, i, 2 + rnd(s, 10));
    }
    struct raft_configuration conf;
    if (raft_fixture_configuration(&s->f, n, &conf) != 0) {
        return -1;
    }
    int rv = raft_fixture_bootstrap(&s->f, &conf);
    raft_configuration_close(&conf);
    if (rv != 0 || raft_fixture_start(&s->f) != 0) {
        return -1;
    }
    for (unsigned i = 0; i < N_CLIENTS; i++) {
        s->clients[i].id = i + 1;
    }
    return 0;
}

static void sim_close(struct sim *s)
{
    raft_fixture_close(&s->f);
    for (unsigned i = 0; i < s->n; i++) {
        static const char *const files[] = {"data.mdb", "lock.mdb"};
        char path[300];
        store_close(s->srv[i].store);
        msgpack_sbuffer_destroy(&s->srv[i].answer);
        for (unsigned j = 0; j < 2; j++) {
            snprintf(path, sizeof path, "%s/%s", s->srv[i].dir, files[j]);
            unlink(path);
        }
        rmdir(s->srv[i].dir);
    }
    chaos_history_close(&s->h);
}

static void setup_apply_cb(struct raft_apply *req, int status, void *result)
{
    struct sim *s = req->data;
    (void)result;
    s->setup_status = status == 0 ? 1 : -1;
    free(req);
}

static void setup_barrier_cb(struct raft_barrier *req, int status)
{
    struct sim *s = req->data;
    s->setup_status = status == 0 ? 1 : -1;
    free(req);
}

static bool setup_answered(struct raft_fixture *f, void *arg)
{
    struct sim *s = arg;
    (void)f;
    return s->setup_status != 0;
}

/* Commit @cmd (a barrier when NULL) through the leader, then step until
 * every server has applied it.  Bounded by @max_ms per attempt. */
static bool commit_everywhere(struct sim *s,
                              const struct store_cmd *cmd,
                              unsigned max_ms)
{
    for (int tries = 0; tries < 10; tries++) {
        struct raft *r;
        int rv;
        if (!raft_fixture_step_until_has_leader(&s->f, max_ms)) {
            return false;
        }
        r = raft_fixture_get(&s->f, raft_fixture_leader_index(&s->f));
        s->setup_status = 0;
        if (cmd != NULL) {
            struct raft_apply *req = calloc(1, sizeof *req);
            struct raft_buffer buf;
            if (req == NULL || entry_from_cmd(cmd, &buf) != 0) {
                free(req);
                return false;
            }
            req->data = s;
            rv = raft_apply(r, req, &buf, 1, setup_apply_cb);
            if (rv != 0) {
                raft_free(buf.base);
                free(req);
            }
        } else {
            struct raft_barrier *req = calloc(1, sizeof *req);
            if (req == NULL) {
                return false;
            }
            req->data = s;
            rv = raft_barrier(r, req, setup_barrier_cb);
            if (rv != 0) {
                free(req);
            }
        }
        if (rv != 0) {
            continue;
        }
        if (!raft_fixture_step_until(&s->f, setup_answered, s, max_ms) ||
            s->setup_status != 1) {
            continue;
        }
        return raft_fixture_step_until_applied(&s->f, s->n, r->last_applied,
                                               max_ms);
    }
    return false;
}

static void record_final(struct sim *s)
{
    struct store_cmd cmd;
    msgpack_sbuffer sb;
    uint64_t from = 1;

    for (unsigned i = 0; i < s->n; i++) {
        unsigned char d[32];
        char hex[65];
        if (store_digest(s->srv[i].store, d) != 0) {
            s->failed = true;
            return;
        }
        for (int b = 0; b < 32; b++) {
            snprintf(hex + 2 * b, 3, "%02x", d[b]);
        }
        record(s,
               "{\"type\":\"final\",\"node\":%u,\"rev\":%" PRIu64
               ",\"digest\":\"%s\"}",
               i + 1, store_revision(s->srv[i].store), hex);
    }
    /* The event log, from the first server (all are identical, or the
     * check above fails). */
    msgpack_sbuffer_init(&sb);
    for (;;) {
        msgpack_unpacked u;
        const msgpack_object *res, *evs;
        uint64_t next = 0;
        memset(&cmd, 0, sizeof cmd);
        cmd.op = STORE_OP_EVENTS;
        cmd.u.events.from = from;
        cmd.u.events.limit = 1000;
        sb.size = 0;
        if (store_read(s->srv[0].store, &cmd, &sb) != 0) {
            s->failed = true;
            break;
        }
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) !=
            MSGPACK_UNPACK_SUCCESS) {
            msgpack_unpacked_destroy(&u);
            s->failed = true;
            break;
        }
        res = map_get(&u.data, "result");
        evs = map_get(res, "events");
        if (evs == NULL || evs->type != MSGPACK_OBJECT_ARRAY ||
            !map_u64(res, "next", &next)) {
            msgpack_unpacked_destroy(&u);
            s->failed = true;
            break;
        }
        for (uint32_t i = 0; i < evs->via.array.size; i++) {
            const msgpack_object *e = &evs->via.array.ptr[i];
            const msgpack_object *data = map_get(e, "data");
            char op[STORE_ID_SIZE], w[STORE_ID_SIZE], h[STORE_ID_SIZE];
            uint64_t rev, epoch;
            if (map_str(e, "op", op) && strncmp(op, "claim.", 6) == 0 &&
                map_u64(e, "rev", &rev) && map_str(data, "workload", w) &&
                map_str(data, "host", h) && map_u64(data, "epoch", &epoch)) {
                record(s,
                       "{\"type\":\"event\",\"rev\":%" PRIu64
                       ",\"op\":\"%s\",\"workload\":\"%s\",\"host\":\"%s\","
                       "\"epoch\":%" PRIu64 "}",
                       rev, op, w, h, epoch);
            }
        }
        bool done = evs->via.array.size == 0 || next <= from;
        from = next;
        msgpack_unpacked_destroy(&u);
        if (done) {
            break;
        }
    }
    msgpack_sbuffer_destroy(&sb);
    record(s, "{\"type\":\"events_end\"}");
}

/* One seeded run of @ms simulated milliseconds.  Returns true if valid. */
static bool run_seed(uint64_t seed,
                     unsigned n,
                     unsigned ms,
                     const char *history,
                     bool verbose)
{
    struct sim *s = malloc(sizeof *s);
    FILE *dump = NULL;
    bool valid = false;
    enum fault active = F_NONE;
    raft_time next_fault;

    if (s == NULL) {
        return false;
    }
    if (history != NULL && (dump = fopen(history, "w")) == NULL) {
        perror(history);
        free(s);
        return false;
    }
    if (sim_open(s, n, seed, dump) != 0) {
        fprintf(stderr, "fixture: cannot set up the cluster\n");
        goto out;
    }
    if (!raft_fixture_step_until_has_leader(&s->f, 10000)) {
        fprintf(stderr, "fixture: no leader\n");
        goto out;
    }
    for (unsigned i = 0; i < N_HOSTS + N_WORKLOADS; i++) {
        struct store_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        if (i < N_HOSTS) {
            cmd.op = STORE_OP_RESOURCE_ADD;
            hname(i, cmd.u.resource_add.id);
            snprintf(cmd.u.resource_add.kind, sizeof cmd.u.resource_add.kind,
                     "host");
            cmd.u.resource_add.capacity.cpu = 1000000;
            cmd.u.resource_add.capacity.mem_mb = 1000000;
        } else {
            cmd.op = STORE_OP_WORKLOAD_ADD;
            wname(i - N_HOSTS, cmd.u.workload_add.id);
            cmd.u.workload_add.demand.cpu = 1;
            cmd.u.workload_add.demand.mem_mb = 1;
        }
        if (!commit_everywhere(s, &cmd, 10000)) {
            fprintf(stderr, "fixture: setup failed\n");
            goto out;
        }
    }
    raft_time end = raft_fixture_time(&s->f) + ms;
    next_fault = raft_fixture_time(&s->f) + 500 + rnd(s, 1000);
    while (raft_fixture_time(&s->f) < end && !s->failed) {
        raft_fixture_step(&s->f);
        clients_tick(s);
        if (raft_fixture_time(&s->f) >= next_fault) {
            if (active == F_NONE) {
                active = (enum fault)(1 + rnd(s, F_COUNT - 1));
                fault_start(s, active);
                next_fault = raft_fixture_time(&s->f) + 500 + rnd(s, 3000);
            } else {
                heal(s);
                nemesis_record(s, "heal", "stop", 0);
                active = F_NONE;
                next_fault = raft_fixture_time(&s->f) + 300 + rnd(s, 1500);
            }
        }
    }
    heal(s);
    nemesis_record(s, "heal", "stop", 0);
    /* Let the clients finish what they have in flight (bounded), then bring
     * every server to the same applied index. */
    raft_time quiesce = raft_fixture_time(&s->f) + 2 * GIVE_UP_MS;
    for (;;) {
        bool busy = false;
        for (unsigned i = 0; i < N_CLIENTS; i++) {
            busy = busy || s->clients[i].busy;
        }
        if (!busy || raft_fixture_time(&s->f) > quiesce) {
            break;
        }
        raft_fixture_step(&s->f);
        for (unsigned i = 0; i < N_CLIENTS; i++) {
            struct client *c = &s->clients[i];
            raft_time now = raft_fixture_time(&s->f);
            if (c->busy && now - c->started > GIVE_UP_MS) {
                give_up(s, c, "EINDETERMINATE");
            } else if (c->busy && c->retry && now >= c->next_try) {
                submit(s, c);
                c->next_try = now + 20;
            }
        }
    }
    if (!commit_everywhere(s, NULL, 20000)) {
        fprintf(stderr,
                "fixture: seed %" PRIu64
                ": the servers did not converge after healing\n",
                seed);
        goto out;
    }
    record_final(s);
    chaos_history_finish(&s->h);
    if (s->failed) {
        goto out;
    }
    {
        struct chaos_options opt;
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        chaos_options_init(&opt);
        valid = out != NULL && chaos_check(&s->h, &opt, out);
        if (out != NULL) {
            fclose(out);
        }
        if (!valid || verbose) {
            printf("---- seed %" PRIu64 ", %u servers, %u ms ----\n%s", seed, n,
                   ms, buf != NULL ? buf : "");
        }
        free(buf);
    }
out:
    sim_close(s);
    if (dump != NULL) {
        fclose(dump);
    }
    free(s);
    return valid;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: augur-chaos-fixture [--seed S] [--seeds N] [--nodes 3|5]\n"
            "                           [--ms T] [--history FILE] [-v]\n"
            "                           [--snapshot-threshold N] "
            "[--snapshot-trailing N]\n"
            "\n"
            "Runs the state machine on libraft's in-memory fixture cluster\n"
            "for T simulated ms (default 20000) per seed, seeds S..S+N-1\n"
            "(default 1, 1 seed), with simulated clients and a seeded\n"
            "nemesis; checks each history.  A failing seed reproduces:\n"
            "rerun it with --seed and --history to keep its history.\n");
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    unsigned seeds = 1, n = 5, ms = 20000, failed = 0;
    const char *history = NULL;
    bool verbose = false;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
            continue;
        } else if (v == NULL) {
            usage(stderr);
            return 2;
        } else if (strcmp(argv[i], "--seed") == 0) {
            seed = strtoull(v, NULL, 10);
        } else if (strcmp(argv[i], "--seeds") == 0) {
            seeds = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(argv[i], "--nodes") == 0) {
            n = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(argv[i], "--ms") == 0) {
            ms = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(argv[i], "--snapshot-threshold") == 0) {
            snap_threshold = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(argv[i], "--snapshot-trailing") == 0) {
            snap_trailing = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(argv[i], "--history") == 0) {
            history = v;
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (n < 3 || n > MAX_SERVERS || seeds == 0) {
        usage(stderr);
        return 2;
    }
    for (unsigned k = 0; k < seeds; k++) {
        bool ok = run_seed(seed + k, n, ms, history, verbose);
        printf("seed %" PRIu64 " (%u servers, %u ms): %s\n", seed + k, n, ms,
               ok ? "valid" : "NOT VALID");
        if (!ok) {
            printf("reproduce: augur-chaos-fixture --seed %" PRIu64
                   " --nodes %u --ms %u --history h.jsonl -v\n",
                   seed + k, n, ms);
            failed++;
        }
    }
    return failed == 0 ? 0 : 1;
}
