/* augur-ingest-bench: simulated agents against a cluster.  Many libaugur
 * connections from one process (real handshakes, one telemetry.report
 * frame per host per interval and heartbeats between, pipelined), and the
 * leader's figures: the samples it accepted per second, its CPU per
 * million samples (from /proc/PID/stat) and what it refused or dropped
 * (its status).  With --agents DIR every connection is an agent principal
 * of its own bound to its 16 hosts, so the leader's scope check runs as in
 * production; without, all connections use AUGUR_KEY (admin).
 *
 * With --anomalies K the hosts are resources of the store (added first, kind
 * "host"), so the leader scores them all, and hosts sim-0..sim-K-1 turn
 * anomalous at a known time (--anomaly-after S from the start): metric 0
 * jumps by 10^4 and keeps ramping up by 10^4 a report.  A watcher reads
 * their committed scores (resource.get, linearizable, every 20 ms) and
 * prints the time from each host's first anomalous sample (when its batch
 * was made) to the first committed score at or over 0.5 (p50/p99), and the
 * Raft writes per second that scores caused (score.set commands the
 * leader proposed, from its status). */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/augur.h"
#include "common/ops.h"
#include "wire/secure.h"

/* An agent principal is bound to at most this many resources (the
 * store's STORE_PRINCIPAL_RESOURCES_MAX). */
#define HOSTS_PER_AGENT 16

struct opts
{
    const char *endpoints;
    const char *pid_file; /* "DIR/node%d/pid" */
    const char *json;
    const char *agents; /* a directory for agent keys, or NULL */
    unsigned heartbeat_ms;
    unsigned hosts;
    unsigned metrics;
    unsigned interval_ms;
    unsigned duration_s;
    unsigned conns;
    unsigned threads;
    unsigned anomalies;        /* hosts turned anomalous (0: none) */
    unsigned anomaly_after_ms; /* the first onset, from the start */
    uint64_t start_ms;         /* wall clock at the start (now_ms) */
    uint64_t *onset_ms;        /* per anomalous host: its onset */
    uint64_t *first_ms;        /* its first anomalous sample (0: none yet);
                                  written by workers, read by the watcher */
    volatile int done;
};

/* Metric 0 of an anomalous host: a jump, then a steep ramp. */
#define ANOMALY_STEP 1e4
/* The hysteresis' upper edge (augurd's --score-enter default). */
#define ANOMALY_P 0.5
#define WATCH_EVERY_MS 20

/* One thread's share: its clients, each reporting for its own hosts. */
struct worker
{
    const struct opts *o;
    pthread_t thread;
    unsigned first_conn;
    unsigned n_conns;
    uint64_t sent;
    uint64_t beats;
    uint64_t ok;
    uint64_t refused;
    uint64_t lost; /* transport failures */
    uint64_t late; /* intervals that took longer than the interval */
    char error[256];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    unsigned long utime = 0, stime = 0;
    FILE *f;
    size_t n;
    char *p;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime) != 2) {
        return -1;
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Noise in [0, 100): splitmix64 of the host, the metric and the time, so
 * that a healthy host's metrics wander as real ones do and its anomaly
 * score stays quiet (a series that hardly moves makes any drift an
 * anomaly). */
static double noise(unsigned host, unsigned metric, uint64_t t)
{
    uint64_t x = ((uint64_t)host << 40) ^ ((uint64_t)metric << 24) ^ t;

    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (double)(x >> 11) * 0x1.0p-53 * 100.0;
}

/* A batch packed by hand (the wire/telemetry.h map): the simulator must
 * cost less than what it measures. */
static void batch_pack(msgpack_sbuffer *b,
                       unsigned host,
                       unsigned metrics,
                       uint64_t t,
                       double offset)
{
    msgpack_packer pk;
    char id[32], name[32];

    b->size = 0;
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    snprintf(id, sizeof id, "sim-%u", host);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "r", 1);
    msgpack_pack_str_with_body(&pk, id, strlen(id));
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_uint64(&pk, t);
    msgpack_pack_str_with_body(&pk, "d", 1);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_array(&pk, metrics * 3);
    for (unsigned m = 0; m < metrics; m++) {
        int len = snprintf(name, sizeof name, "sim.metric_%u", m);
        msgpack_pack_str_with_body(&pk, name, (size_t)len);
        msgpack_pack_double(&pk,
                            noise(host, m, t) + m + (m == 0 ? offset : 0.0));
        msgpack_pack_uint64(&pk, 0);
    }
}

static void beat_pack(msgpack_sbuffer *b, unsigned host)
{
    msgpack_packer pk;
    char id[32];

    b->size = 0;
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    snprintf(id, sizeof id, "sim-%u", host);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "resource", 8);
    msgpack_pack_str_with_body(&pk, id, strlen(id));
}

/* One agent principal per connection, bound to the connection's hosts
 * (conn, conn + conns, ...): keys in DIR/agent-CONN.key, added as the
 * admin of AUGUR_KEY.  Returns 0 or -1 with a message printed. */
static int agents_make(const struct opts *o)
{
    struct augur_client *admin;
    char errmsg[AUGUR_ERRMSG_SIZE];
    char path[4096], name[64], hex[SECURE_HEX_SIZE];
    msgpack_sbuffer buf;
    int rv = 0;

    if (augur_client_open(o->endpoints, NULL, &admin, errmsg) != 0) {
        fprintf(stderr, "ingest-bench: %s\n", errmsg);
        return -1;
    }
    msgpack_sbuffer_init(&buf);
    for (unsigned i = 0; i < o->conns && rv == 0; i++) {
        struct secure_key k;
        struct augur_reply r;
        msgpack_packer pk;
        unsigned n = 0;

        snprintf(path, sizeof path, "%s/agent-%u.key", o->agents, i);
        if (secure_key_generate(&k) != 0 ||
            secure_key_save(&k, path, errmsg) != 0) {
            fprintf(stderr, "ingest-bench: %s: %s\n", path, errmsg);
            rv = -1;
            break;
        }
        secure_key_hex(k.pk, hex);
        secure_key_wipe(&k);
        snprintf(name, sizeof name, "sim-agent-%d-%u", (int)getpid(), i);
        for (unsigned h = i; h < o->hosts; h += o->conns) {
            n++;
        }
        buf.size = 0;
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        msgpack_pack_str_with_body(&pk, "name", 4);
        msgpack_pack_str_with_body(&pk, name, strlen(name));
        msgpack_pack_str_with_body(&pk, "key", 3);
        msgpack_pack_str_with_body(&pk, hex, strlen(hex));
        msgpack_pack_str_with_body(&pk, "role", 4);
        msgpack_pack_str_with_body(&pk, "agent", 5);
        msgpack_pack_str_with_body(&pk, "resources", 9);
        msgpack_pack_array(&pk, n);
        for (unsigned h = i; h < o->hosts; h += o->conns) {
            char id[32];
            snprintf(id, sizeof id, "sim-%u", h);
            msgpack_pack_str_with_body(&pk, id, strlen(id));
        }
        if (augur_call(admin, augur_op_wire(AUGUR_OP_PRINCIPAL_ADD), buf.data,
                       buf.size, 0, &r) != 0) {
            fprintf(stderr, "ingest-bench: principal.add %s: %s\n", name,
                    r.error);
            rv = -1;
        }
        augur_reply_free(&r);
    }
    msgpack_sbuffer_destroy(&buf);
    augur_client_close(admin);
    return rv;
}

static void on_reply(void *data, struct augur_reply *r)
{
    struct worker *w = data;

    if (r->status == 0) {
        w->ok++;
    } else if (r->status == AUGUR_ECONNECT || r->status == AUGUR_ETIMEOUT) {
        w->lost++;
    } else {
        w->refused++;
        if (w->error[0] == '\0') {
            snprintf(w->error, sizeof w->error, "%s: %.200s",
                     augur_errname(r->status), r->error);
        }
    }
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    const char *op = augur_op_wire(AUGUR_OP_TELEMETRY_REPORT);
    const char *beat_op = augur_op_wire(AUGUR_OP_TELEMETRY_HEARTBEAT);
    unsigned period = o->heartbeat_ms > 0 ? o->heartbeat_ms : o->interval_ms;
    struct augur_client **c = calloc(w->n_conns, sizeof *c);
    msgpack_sbuffer buf;
    char errmsg[AUGUR_ERRMSG_SIZE];
    uint64_t end = mono_ms() + (uint64_t)o->duration_s * 1000;

    msgpack_sbuffer_init(&buf);
    for (unsigned i = 0; c != NULL && i < w->n_conns; i++) {
        struct augur_options opt;
        char key[4096];
        augur_options_init(&opt);
        opt.timeout_ms = 10000;
        if (o->agents != NULL) {
            snprintf(key, sizeof key, "%s/agent-%u.key", o->agents,
                     w->first_conn + i);
            opt.key_file = key;
        }
        if (augur_client_open(o->endpoints, &opt, &c[i], errmsg) != 0) {
            snprintf(w->error, sizeof w->error, "open: %.200s", errmsg);
            goto out;
        }
    }
    for (uint64_t tick = 0; mono_ms() < end; tick++) {
        uint64_t start = mono_ms();
        uint64_t t = now_ms();
        bool report = tick % (o->interval_ms / period) == 0;
        for (unsigned i = 0; i < w->n_conns; i++) {
            unsigned conn = w->first_conn + i;
            /* Hosts conn, conn + conns, conn + 2 conns, ... */
            for (unsigned h = conn; h < o->hosts; h += o->conns) {
                if (report) {
                    double offset = 0.0;
                    if (h < o->anomalies && t >= o->onset_ms[h]) {
                        uint64_t k = (t - o->onset_ms[h]) / o->interval_ms;
                        offset = ANOMALY_STEP * (double)(k + 1);
                        if (__atomic_load_n(&o->first_ms[h],
                                            __ATOMIC_ACQUIRE) == 0) {
                            __atomic_store_n(&o->first_ms[h], t,
                                             __ATOMIC_RELEASE);
                        }
                    }
                    batch_pack(&buf, h, o->metrics, t, offset);
                } else {
                    beat_pack(&buf, h);
                }
                if (augur_submit(c[i], report ? op : beat_op, buf.data,
                                 buf.size, 0, on_reply, w) == 0) {
                    w->sent += report;
                    w->beats += !report;
                }
            }
        }
        for (unsigned i = 0; i < w->n_conns; i++) {
            (void)augur_run(c[i], 10000);
        }
        if (mono_ms() - start > period) {
            w->late++;
        } else {
            uint64_t rest = period - (mono_ms() - start);
            struct timespec ts = {.tv_sec = (time_t)(rest / 1000),
                                  .tv_nsec = (long)(rest % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
out:
    for (unsigned i = 0; c != NULL && i < w->n_conns; i++) {
        augur_client_close(c[i]);
    }
    free(c);
    msgpack_sbuffer_destroy(&buf);
    return NULL;
}

static void on_added(void *data, struct augur_reply *r)
{
    int *failed = data;

    if (r->status != 0 && r->status != AUGUR_EEXIST && *failed == 0) {
        *failed = r->status;
        fprintf(stderr, "ingest-bench: resource.add: %s: %s\n",
                augur_errname(r->status), r->error);
    }
}

/* Every simulated host as a resource of kind "host" (one already there is
 * fine), so that the leader scores it.  0 or -1. */
static int hosts_register(const struct opts *o)
{
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];
    msgpack_sbuffer buf;
    int failed = 0;

    if (augur_client_open(o->endpoints, NULL, &c, errmsg) != 0) {
        fprintf(stderr, "ingest-bench: %s\n", errmsg);
        return -1;
    }
    msgpack_sbuffer_init(&buf);
    for (unsigned h = 0; h < o->hosts && failed == 0; h++) {
        msgpack_packer pk;
        char id[32];
        int len = snprintf(id, sizeof id, "sim-%u", h);
        buf.size = 0;
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "id", 2);
        msgpack_pack_str_with_body(&pk, id, (size_t)len);
        msgpack_pack_str_with_body(&pk, "kind", 4);
        msgpack_pack_str_with_body(&pk, "host", 4);
        if (augur_submit(c, augur_op_wire(AUGUR_OP_RESOURCE_ADD), buf.data,
                         buf.size, 0, on_added, &failed) != 0) {
            failed = -1;
        }
        if (augur_inflight(c) >= 256) {
            (void)augur_run(c, 30000);
        }
    }
    if (augur_run(c, 60000) != 0 && failed == 0) {
        failed = AUGUR_ETIMEOUT;
    }
    msgpack_sbuffer_destroy(&buf);
    augur_client_close(c);
    return failed == 0 ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The watcher: the anomalous hosts' committed scores, until o->done.
 * Fills @latency_ms (one per host, UINT64_MAX when none came). */
struct watcher
{
    struct opts *o;
    pthread_t thread;
    uint64_t *latency_ms;
    uint64_t reads;
    char error[256];
};

static void *watcher_run(void *arg)
{
    struct watcher *wa = arg;
    struct opts *o = wa->o;
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];
    msgpack_sbuffer buf;
    unsigned left = o->anomalies;

    for (unsigned h = 0; h < o->anomalies; h++) {
        wa->latency_ms[h] = UINT64_MAX;
    }
    if (augur_client_open(o->endpoints, NULL, &c, errmsg) != 0) {
        snprintf(wa->error, sizeof wa->error, "open: %.200s", errmsg);
        return NULL;
    }
    msgpack_sbuffer_init(&buf);
    while (!o->done && left > 0) {
        uint64_t start = mono_ms();
        for (unsigned h = 0; h < o->anomalies; h++) {
            uint64_t first = __atomic_load_n(&o->first_ms[h], __ATOMIC_ACQUIRE);
            struct augur_reply r;
            const msgpack_object *score, *p, *at;
            msgpack_packer pk;
            char id[32];
            int len;

            if (first == 0 || wa->latency_ms[h] != UINT64_MAX) {
                continue;
            }
            len = snprintf(id, sizeof id, "sim-%u", h);
            buf.size = 0;
            msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 1);
            msgpack_pack_str_with_body(&pk, "id", 2);
            msgpack_pack_str_with_body(&pk, id, (size_t)len);
            if (augur_call(c, augur_op_wire(AUGUR_OP_RESOURCE_GET), buf.data,
                           buf.size, 0, &r) == 0 &&
                (score = augur_map_get(r.result, "score")) != NULL &&
                (p = augur_map_get(score, "p")) != NULL &&
                p->type == MSGPACK_OBJECT_FLOAT64 && p->via.f64 >= ANOMALY_P &&
                (at = augur_map_get(score, "updated_at")) != NULL &&
                at->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                at->via.u64 >= first) {
                /* (A score committed after the sample: not one left high
                 * by an earlier run.  The leader stamps it with its own
                 * clock, which is this machine's.) */
                uint64_t seen = now_ms();
                wa->latency_ms[h] = seen > first ? seen - first : 0;
                left--;
            }
            wa->reads++;
            augur_reply_free(&r);
        }
        if (mono_ms() - start < WATCH_EVERY_MS) {
            uint64_t rest = WATCH_EVERY_MS - (mono_ms() - start);
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)rest * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    msgpack_sbuffer_destroy(&buf);
    augur_client_close(c);
    return NULL;
}

/* The leader's id and client address, from any node's status. */
static int leader_find(const char *endpoints, uint64_t *id, char *addr)
{
    struct augur_client *c;
    struct augur_reply r;
    char errmsg[AUGUR_ERRMSG_SIZE];
    const msgpack_object *members;
    int rv;

    if (augur_client_open(endpoints, NULL, &c, errmsg) != 0) {
        fprintf(stderr, "ingest-bench: %s\n", errmsg);
        return -1;
    }
    rv = augur_call(c, "status", NULL, 0, 0, &r);
    if (rv == 0 && augur_map_u64(r.result, "leader", id) == 0 &&
        (members = augur_map_get(r.result, "members")) != NULL &&
        members->type == MSGPACK_OBJECT_ARRAY) {
        rv = -1;
        for (uint32_t i = 0; i < members->via.array.size; i++) {
            uint64_t mid;
            const msgpack_object *m = &members->via.array.ptr[i];
            if (augur_map_u64(m, "id", &mid) == 0 && mid == *id &&
                augur_map_str(m, "client_address", addr, AUGUR_ADDR_SIZE) ==
                    0) {
                rv = 0;
            }
        }
    } else {
        rv = -1;
    }
    augur_reply_free(&r);
    augur_client_close(c);
    return rv;
}

struct leader_figures
{
    uint64_t samples, accepted, refused, dropped;
    uint64_t commits; /* score.set proposed (status "scoring") */
    double cpu_s;
};

static int leader_read(const char *addr, int pid, struct leader_figures *f)
{
    struct augur_client *c;
    struct augur_reply r;
    char errmsg[AUGUR_ERRMSG_SIZE];
    const msgpack_object *t;
    int rv;

    if (augur_client_open(addr, NULL, &c, errmsg) != 0) {
        return -1;
    }
    rv = augur_call(c, "status", NULL, 0, 0, &r);
    t = rv == 0 ? augur_map_get(r.result, "telemetry") : NULL;
    if (t == NULL || augur_map_u64(t, "samples", &f->samples) != 0 ||
        augur_map_u64(t, "accepted", &f->accepted) != 0 ||
        augur_map_u64(t, "refused", &f->refused) != 0 ||
        augur_map_u64(t, "dropped", &f->dropped) != 0) {
        rv = -1;
    }
    t = rv == 0 ? augur_map_get(r.result, "scoring") : NULL;
    if (t == NULL || augur_map_u64(t, "commits", &f->commits) != 0) {
        f->commits = 0;
    }
    f->cpu_s = proc_cpu_s(pid);
    augur_reply_free(&r);
    augur_client_close(c);
    return rv;
}

static unsigned arg_u(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || v == 0 || v > 10000000) {
        fprintf(stderr, "ingest-bench: bad number '%s'\n", s);
        exit(2);
    }
    return (unsigned)v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: augur-ingest-bench --endpoints EPS --pid-file "
            "DIR/node%%d/pid\n"
            "           [--hosts N (1000)] [--metrics M (100)] "
            "[--interval-ms MS (1000)]\n"
            "           [--duration S (10)] [--conns C (64)] [--threads T "
            "(1)] [--json FILE]\n"
            "           [--heartbeat-ms MS (0: none)] [--agents DIR]\n"
            "           [--anomalies K [--anomaly-after S (30)]]\n"
            "Reports as resources sim-0..sim-N-1, as the key of AUGUR_KEY "
            "(admin or\noperator: one principal for every host), or with "
            "--agents as one agent\nprincipal per connection (keys made in "
            "DIR, at least hosts/16 connections).\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {.hosts = 1000,
                     .metrics = 100,
                     .interval_ms = 1000,
                     .duration_s = 10,
                     .conns = 64,
                     .threads = 1,
                     .anomaly_after_ms = 30000};
    struct watcher wa = {0};
    struct leader_figures f0, f1;
    struct worker *w;
    char addr[AUGUR_ADDR_SIZE], path[4096];
    uint64_t leader, sent = 0, beats = 0, ok = 0, refused = 0, lost = 0;
    uint64_t late = 0;
    uint64_t start;
    double wall;
    int pid = 0;
    FILE *pf;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
        }
        if (strcmp(argv[i], "--endpoints") == 0) {
            o.endpoints = v;
        } else if (strcmp(argv[i], "--pid-file") == 0) {
            o.pid_file = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = v;
        } else if (strcmp(argv[i], "--agents") == 0) {
            o.agents = v;
        } else if (strcmp(argv[i], "--heartbeat-ms") == 0) {
            o.heartbeat_ms = arg_u(v);
        } else if (strcmp(argv[i], "--hosts") == 0) {
            o.hosts = arg_u(v);
        } else if (strcmp(argv[i], "--metrics") == 0) {
            o.metrics = arg_u(v);
        } else if (strcmp(argv[i], "--interval-ms") == 0) {
            o.interval_ms = arg_u(v);
        } else if (strcmp(argv[i], "--duration") == 0) {
            o.duration_s = arg_u(v);
        } else if (strcmp(argv[i], "--conns") == 0) {
            o.conns = arg_u(v);
        } else if (strcmp(argv[i], "--threads") == 0) {
            o.threads = arg_u(v);
        } else if (strcmp(argv[i], "--anomalies") == 0) {
            o.anomalies = arg_u(v);
        } else if (strcmp(argv[i], "--anomaly-after") == 0) {
            o.anomaly_after_ms = arg_u(v) * 1000;
        } else {
            usage();
        }
        i++;
    }
    if (o.endpoints == NULL || o.pid_file == NULL) {
        usage();
    }
    if (o.conns > o.hosts) {
        o.conns = o.hosts;
    }
    if (o.agents != NULL &&
        o.conns < (o.hosts + HOSTS_PER_AGENT - 1) / HOSTS_PER_AGENT) {
        /* An agent may be bound to 16 resources at most. */
        o.conns = (o.hosts + HOSTS_PER_AGENT - 1) / HOSTS_PER_AGENT;
    }
    if (o.heartbeat_ms > 0 && (o.heartbeat_ms > o.interval_ms ||
                               o.interval_ms % o.heartbeat_ms != 0)) {
        fprintf(stderr,
                "ingest-bench: --heartbeat-ms must divide "
                "--interval-ms\n");
        return 2;
    }
    if (o.threads > o.conns) {
        o.threads = o.conns;
    }
    if (o.anomalies > o.hosts) {
        o.anomalies = o.hosts;
    }
    if (leader_find(o.endpoints, &leader, addr) != 0) {
        fprintf(stderr, "ingest-bench: cannot find the leader\n");
        return 1;
    }
    {
        /* The pattern's "%d" becomes the leader's id. */
        const char *at = strstr(o.pid_file, "%d");
        if (at == NULL) {
            usage();
        }
        snprintf(path, sizeof path, "%.*s%" PRIu64 "%s", (int)(at - o.pid_file),
                 o.pid_file, leader, at + 2);
    }
    if ((pf = fopen(path, "r")) == NULL || fscanf(pf, "%d", &pid) != 1) {
        fprintf(stderr, "ingest-bench: cannot read %s\n", path);
        return 1;
    }
    fclose(pf);
    if (leader_read(addr, pid, &f0) != 0) {
        fprintf(stderr, "ingest-bench: cannot read the leader's status\n");
        return 1;
    }
    if (o.agents != NULL && agents_make(&o) != 0) {
        return 1;
    }
    if (o.anomalies > 0) {
        o.onset_ms = calloc(o.anomalies, sizeof *o.onset_ms);
        o.first_ms = calloc(o.anomalies, sizeof *o.first_ms);
        wa.latency_ms = calloc(o.anomalies, sizeof *wa.latency_ms);
        if (o.onset_ms == NULL || o.first_ms == NULL || wa.latency_ms == NULL ||
            hosts_register(&o) != 0) {
            return 1;
        }
        if (leader_read(addr, pid, &f0) != 0) {
            fprintf(stderr, "ingest-bench: cannot read the leader's status\n");
            return 1;
        }
    }
    w = calloc(o.threads, sizeof *w);
    if (w == NULL) {
        return 1;
    }
    start = mono_ms();
    o.start_ms = now_ms();
    for (unsigned h = 0; h < o.anomalies; h++) {
        /* One onset for all: the workers report on one tick, so within a
         * run every host's reports keep one phase against the leader's
         * scoring round (its cadence and theirs are both 1 s); the phase,
         * and with it up to one round of the latency, differs between
         * runs. */
        o.onset_ms[h] = o.start_ms + o.anomaly_after_ms;
    }
    if (o.anomalies > 0) {
        wa.o = &o;
        pthread_create(&wa.thread, NULL, watcher_run, &wa);
    }
    for (unsigned i = 0; i < o.threads; i++) {
        w[i].o = &o;
        w[i].first_conn = o.conns * i / o.threads;
        w[i].n_conns = o.conns * (i + 1) / o.threads - w[i].first_conn;
        pthread_create(&w[i].thread, NULL, worker_run, &w[i]);
    }
    for (unsigned i = 0; i < o.threads; i++) {
        pthread_join(w[i].thread, NULL);
        sent += w[i].sent;
        beats += w[i].beats;
        ok += w[i].ok;
        refused += w[i].refused;
        lost += w[i].lost;
        late += w[i].late;
        if (w[i].error[0] != '\0') {
            fprintf(stderr, "ingest-bench: thread %u: %s\n", i, w[i].error);
        }
    }
    wall = (double)(mono_ms() - start) / 1000.0;
    if (o.anomalies > 0) {
        o.done = 1;
        pthread_join(wa.thread, NULL);
        if (wa.error[0] != '\0') {
            fprintf(stderr, "ingest-bench: watcher: %s\n", wa.error);
        }
    }
    if (leader_read(addr, pid, &f1) != 0) {
        fprintf(stderr,
                "ingest-bench: cannot read the leader's status "
                "(leadership moved?)\n");
        return 1;
    }
    {
        double samples = (double)(f1.samples - f0.samples);
        double cpu = f1.cpu_s - f0.cpu_s;
        double per_m = samples > 0 ? cpu / (samples / 1e6) : 0;
        printf(
            "hosts %u x metrics %u every %u ms (heartbeats every %u ms), "
            "%u connections (%s), %u threads, %.1f s\n",
            o.hosts, o.metrics, o.interval_ms, o.heartbeat_ms, o.conns,
            o.agents != NULL ? "one agent principal each" : "admin", o.threads,
            wall);
        printf("offered   %.0f samples/s (%" PRIu64 " reports, %" PRIu64
               " heartbeats sent, %" PRIu64 " late ticks)\n",
               (double)sent * o.metrics / wall, sent, beats, late);
        printf("accepted  %.0f samples/s by leader %" PRIu64 " (%" PRIu64
               " reports)\n",
               samples / wall, leader, f1.accepted - f0.accepted);
        printf(
            "leader    %.2f CPU s, %.1f%% of a core, %.3f CPU s per "
            "million samples\n",
            cpu, 100.0 * cpu / wall, per_m);
        printf("refused   %" PRIu64 " (leader: %" PRIu64 " refused, %" PRIu64
               " dropped); %" PRIu64 " lost in transport\n",
               refused, f1.refused - f0.refused, f1.dropped - f0.dropped, lost);
        printf("scores    %" PRIu64
               " score.set proposed by the leader, %.2f "
               "Raft writes/s\n",
               f1.commits - f0.commits,
               (double)(f1.commits - f0.commits) / wall);
        int64_t p50 = -1, p99 = -1;
        unsigned got = 0;
        if (o.anomalies > 0) {
            uint64_t *lat = wa.latency_ms;
            qsort(lat, o.anomalies, sizeof *lat, cmp_u64);
            while (got < o.anomalies && lat[got] != UINT64_MAX) {
                got++;
            }
            if (got > 0) {
                p50 = (int64_t)lat[(got - 1) / 2];
                p99 = (int64_t)lat[(got * 99 + 99) / 100 - 1];
                printf(
                    "anomaly   %u of %u hosts committed p >= %.1f; sample "
                    "to committed score p50 %" PRIu64 " ms, p99 %" PRIu64
                    " ms, max %" PRIu64 " ms\n",
                    got, o.anomalies, ANOMALY_P, lat[(got - 1) / 2],
                    lat[(got * 99 + 99) / 100 - 1], lat[got - 1]);
            } else {
                printf(
                    "anomaly   none of %u hosts committed p >= %.1f (is "
                    "the run longer than --anomaly-after plus the "
                    "leader's warm-up?)\n",
                    o.anomalies, ANOMALY_P);
            }
        }
        if (o.json != NULL && (pf = fopen(o.json, "w")) != NULL) {
            fprintf(pf,
                    "{\"hosts\":%u,\"metrics\":%u,\"interval_ms\":%u,"
                    "\"seconds\":%.2f,\"sent\":%" PRIu64 ",\"ok\":%" PRIu64
                    ",\"refused\":%" PRIu64 ",\"lost\":%" PRIu64
                    ",\"samples_per_s\":%.0f,\"leader_cpu_s\":%.3f,"
                    "\"cpu_s_per_million\":%.4f,\"leader_dropped\":%" PRIu64
                    ",\"score_writes_per_s\":%.3f,\"anomalies\":%u,"
                    "\"anomalies_committed\":%u,\"anomaly_p50_ms\":%" PRId64
                    ",\"anomaly_p99_ms\":%" PRId64 "}\n",
                    o.hosts, o.metrics, o.interval_ms, wall, sent, ok, refused,
                    lost, samples / wall, cpu, per_m, f1.dropped - f0.dropped,
                    (double)(f1.commits - f0.commits) / wall, o.anomalies, got,
                    p50, p99);
            fclose(pf);
        }
    }
    free(w);
    free(o.onset_ms);
    free(o.first_ms);
    free(wa.latency_ms);
    return refused > 0 || lost > 0 ? 1 : 0;
}
