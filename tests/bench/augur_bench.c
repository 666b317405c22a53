/* augur-bench: throughput, latency and server CPU of an augur cluster, on
 * libaugur.  See usage() for the workloads; tests/bench/compare-etcd runs it
 * beside etcd. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api/augur.h"

#define INFLIGHT_MAX 1024
#define PIDS_MAX 16
#define PAYLOAD_LABEL 127 /* two labels of 127 bytes: a ~256-byte payload */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: augur-bench [OPTIONS]                 throughput workloads\n"
        "       augur-bench leader-loss [OPTIONS]     unavailability "
        "after kill -9 of the leader\n"
        "       augur-bench load [OPTIONS]            load resources and "
        "claims (scale test)\n"
        "       augur-bench elections [OPTIONS]       elections and leader "
        "changes per hour\n"
        "\n"
        "Workloads (default: all, in this order):\n"
        "  seq_write  claim transfers, 1 in flight (CAS chain on one "
        "workload)\n"
        "  write_64   resource.add with a 256-byte payload (two 127-byte "
        "labels),\n"
        "             --inflight in flight\n"
        "  read_64    linearizable resource.get of those resources, "
        "--inflight in flight\n"
        "  cas_64     claim transfers, --inflight in flight, each on its "
        "own workload\n"
        "\n"
        "Options:\n"
        "  --endpoints EPS       client endpoints (or AUGUR_ENDPOINTS)\n"
        "  --workloads LIST      comma-separated subset of the above\n"
        "  --runs N              runs of each workload; the median is "
        "printed (3)\n"
        "  --scale F             multiply the op counts (1.0: 2000 seq, "
        "20000 write/read,\n"
        "                        10000 cas)\n"
        "  --inflight N          requests in flight for the *_64 workloads "
        "(64)\n"
        "  --server-pids P,P,..  server processes whose CPU time is "
        "counted\n"
        "  --json FILE           also write the medians as JSON\n"
        "leader-loss:\n"
        "  --trials N            trials (10)\n"
        "  --kill-cmd CMD        shell command run with the leader's id "
        "appended (kills it)\n"
        "  --restart-cmd CMD     shell command run with that id appended "
        "(restarts it)\n"
        "elections:\n"
        "  --duration S          how long to watch (120)\n"
        "  --load none|write_64  idle, or write_64's requests without pause "
        "(none)\n"
        "load:\n"
        "  --resources N         hosts to add (100000)\n"
        "  --claims N            workloads to add and claim (1000000)\n"
        "  --prefix P            id prefix (\"s\")\n"
        "  -h, --help            this text\n");
}

/* ---- small things ----------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("augur-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

struct args
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void args_begin(struct args *a, uint32_t n)
{
    a->sb.size = 0;
    msgpack_pack_map(&a->pk, n);
}

static void args_str(struct args *a, const char *key, const char *val)
{
    size_t k = strlen(key), v = strlen(val);
    msgpack_pack_str(&a->pk, k);
    msgpack_pack_str_body(&a->pk, key, k);
    msgpack_pack_str(&a->pk, v);
    msgpack_pack_str_body(&a->pk, val, v);
}

static void args_u64(struct args *a, const char *key, uint64_t val)
{
    size_t k = strlen(key);
    msgpack_pack_str(&a->pk, k);
    msgpack_pack_str_body(&a->pk, key, k);
    msgpack_pack_uint64(&a->pk, val);
}

/* ---- CPU accounting --------------------------------------------------- */

static int server_pids[PIDS_MAX];
static int n_server_pids;

static double proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    FILE *f;
    size_t n;
    char *p;
    unsigned long utime = 0, stime = 0;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL) {
        return 0;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Skip "pid (comm) ": comm may hold spaces, so find the last ')'. */
    if ((p = strrchr(buf, ')')) == NULL) {
        return 0;
    }
    /* Fields after ')': state(3) ... utime(14) stime(15). */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime) != 2) {
        return 0;
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double servers_cpu_s(void)
{
    double s = 0;
    for (int i = 0; i < n_server_pids; i++) {
        s += proc_cpu_s(server_pids[i]);
    }
    return s;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- one phase: N ops, K in flight ------------------------------------ */

struct result
{
    double ops_per_s;
    double p50_us, p99_us, max_us;
    double cpu_s_per_1k; /* servers' CPU seconds per 1,000 ops */
    double client_cpu_s_per_1k;
    uint64_t ops, errors;
};

struct phase;
/* Submit op number @i for in-flight slot @slot. */
typedef int (*op_submit)(struct phase *ph, unsigned slot, uint64_t i);

struct slot
{
    struct phase *ph;
    unsigned index;
    uint64_t op;      /* the op this slot runs now */
    uint64_t started; /* ns */
};

struct phase
{
    const char *name;
    struct augur_client *c;
    struct args a;
    uint64_t total, next, done, errors;
    uint64_t *lat_ns;
    struct slot slots[INFLIGHT_MAX];
    op_submit submit;
    augur_cb cb;
    /* Workload state. */
    char tag[32];
    uint64_t *epoch;  /* per slot (cas) */
    unsigned *side;   /* per slot: which host holds it now */
    uint64_t written; /* resources written by write_64 (for read_64) */
};

static void phase_next(struct phase *ph, struct slot *s)
{
    int rv;
    if (ph->next >= ph->total) {
        return;
    }
    s->op = ph->next++;
    s->started = now_ns();
    rv = ph->submit(ph, s->index, s->op);
    if (rv != 0) {
        die("%s: submit: %s", ph->name, augur_strerror(rv));
    }
}

/* Called by every op's callback with whether it succeeded. */
static void phase_done(struct slot *s, bool ok, const char *what)
{
    struct phase *ph = s->ph;
    ph->lat_ns[s->op] = now_ns() - s->started;
    ph->done++;
    if (!ok) {
        ph->errors++;
        if (ph->errors <= 3) {
            fprintf(stderr, "augur-bench: %s: op %" PRIu64 ": %s\n", ph->name,
                    s->op, what);
        }
    }
    phase_next(ph, s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void phase_run(struct phase *ph, unsigned inflight, struct result *out)
{
    uint64_t t0, t1;
    double c0, c1, s0, s1, secs;
    int rv;

    ph->next = ph->done = ph->errors = 0;
    ph->lat_ns = calloc(ph->total, sizeof *ph->lat_ns);
    if (ph->lat_ns == NULL) {
        die("out of memory");
    }
    s0 = self_cpu_s();
    c0 = servers_cpu_s();
    t0 = now_ns();
    for (unsigned i = 0; i < inflight && i < ph->total; i++) {
        ph->slots[i].ph = ph;
        ph->slots[i].index = i;
        phase_next(ph, &ph->slots[i]);
    }
    rv = augur_run(ph->c, -1);
    if (rv != 0) {
        die("%s: run: %s", ph->name, augur_strerror(rv));
    }
    t1 = now_ns();
    c1 = servers_cpu_s();
    s1 = self_cpu_s();
    secs = (double)(t1 - t0) / 1e9;
    qsort(ph->lat_ns, ph->total, sizeof *ph->lat_ns, cmp_u64);
    out->ops = ph->total;
    out->errors = ph->errors;
    out->ops_per_s = (double)ph->total / secs;
    out->p50_us = (double)ph->lat_ns[(ph->total - 1) / 2] / 1e3;
    out->p99_us = (double)ph->lat_ns[(ph->total * 99 + 99) / 100 - 1] / 1e3;
    out->max_us = (double)ph->lat_ns[ph->total - 1] / 1e3;
    out->cpu_s_per_1k = (c1 - c0) * 1000.0 / (double)ph->total;
    out->client_cpu_s_per_1k = (s1 - s0) * 1000.0 / (double)ph->total;
    free(ph->lat_ns);
    ph->lat_ns = NULL;
}

/* ---- the workloads ---------------------------------------------------- */

static const char *const HOSTS[2] = {"bench-ha", "bench-hb"};

static void claim_cb(void *data, struct augur_reply *r)
{
    struct slot *s = data;
    struct phase *ph = s->ph;
    uint64_t epoch = 0;

    if (r->status == 0 && r->result != NULL &&
        augur_map_u64(r->result, "epoch", &epoch) == 0) {
        ph->epoch[s->index] = epoch;
        ph->side[s->index] ^= 1u;
        phase_done(s, true, NULL);
        return;
    }
    /* Re-learn the epoch on a conflict so the chain goes on. */
    if (r->status == AUGUR_ECONFLICT && r->result != NULL &&
        augur_map_u64(r->result, "epoch", &epoch) == 0) {
        char host[AUGUR_ID_SIZE];
        ph->epoch[s->index] = epoch;
        if (augur_map_str(r->result, "host", host, sizeof host) == 0) {
            ph->side[s->index] = strcmp(host, HOSTS[1]) == 0;
        }
    }
    phase_done(s, false, r->error);
}

static int transfer_submit(struct phase *ph, unsigned slot, uint64_t i)
{
    char w[64];
    (void)i;
    snprintf(w, sizeof w, "bench-%s-w%u", ph->tag, slot);
    args_begin(&ph->a, 3);
    args_str(&ph->a, "workload", w);
    args_str(&ph->a, "to", HOSTS[ph->side[slot] ^ 1u]);
    args_u64(&ph->a, "epoch", ph->epoch[slot]);
    return augur_submit(ph->c, "claim.transfer", ph->a.sb.data, ph->a.sb.size,
                        0, claim_cb, &ph->slots[slot]);
}

static void plain_cb(void *data, struct augur_reply *r)
{
    phase_done(data, r->status == 0, r->error);
}

static char payload[2][PAYLOAD_LABEL + 1];

static int write_submit(struct phase *ph, unsigned slot, uint64_t i)
{
    char id[64];
    snprintf(id, sizeof id, "bench-%s-r%" PRIu64, ph->tag, i);
    args_begin(&ph->a, 3);
    args_str(&ph->a, "id", id);
    args_str(&ph->a, "kind", "blob");
    msgpack_pack_str(&ph->a.pk, 6);
    msgpack_pack_str_body(&ph->a.pk, "labels", 6);
    msgpack_pack_map(&ph->a.pk, 2);
    msgpack_pack_str(&ph->a.pk, 2);
    msgpack_pack_str_body(&ph->a.pk, "p1", 2);
    msgpack_pack_str(&ph->a.pk, PAYLOAD_LABEL);
    msgpack_pack_str_body(&ph->a.pk, payload[0], PAYLOAD_LABEL);
    msgpack_pack_str(&ph->a.pk, 2);
    msgpack_pack_str_body(&ph->a.pk, "p2", 2);
    msgpack_pack_str(&ph->a.pk, PAYLOAD_LABEL);
    msgpack_pack_str_body(&ph->a.pk, payload[1], PAYLOAD_LABEL);
    return augur_submit(ph->c, "resource.add", ph->a.sb.data, ph->a.sb.size, 0,
                        ph->cb != NULL ? ph->cb : plain_cb, &ph->slots[slot]);
}

static int read_submit(struct phase *ph, unsigned slot, uint64_t i)
{
    char id[64];
    snprintf(id, sizeof id, "bench-%s-r%" PRIu64, ph->tag,
             (i * 7919) % ph->written);
    args_begin(&ph->a, 1);
    args_str(&ph->a, "id", id);
    return augur_submit(ph->c, "resource.get", ph->a.sb.data, ph->a.sb.size, 0,
                        plain_cb, &ph->slots[slot]);
}

/* Hosts and one workload per slot, each claimed on HOSTS[0]. */
static void setup_claims(struct phase *ph, unsigned slots)
{
    struct augur_claim cl;
    char w[64];
    int rv;

    for (int h = 0; h < 2; h++) {
        rv = augur_resource_add(ph->c, HOSTS[h], "host", UINT64_C(1) << 40,
                                UINT64_C(1) << 40);
        if (rv != 0 && rv != AUGUR_EEXIST) {
            die("setup: resource.add %s: %s", HOSTS[h],
                augur_client_errmsg(ph->c));
        }
    }
    for (unsigned i = 0; i < slots; i++) {
        snprintf(w, sizeof w, "bench-%s-w%u", ph->tag, i);
        if (augur_workload_add(ph->c, w, 1, 1, 0) != 0 ||
            augur_claim_acquire(ph->c, w, HOSTS[0], &cl) != 0) {
            die("setup: %s: %s", w, augur_client_errmsg(ph->c));
        }
        ph->epoch[i] = cl.epoch;
        ph->side[i] = 0;
    }
}

/* ---- the throughput mode ---------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define RUNS_MAX 15

struct workload
{
    const char *name;
    uint64_t base_ops;
    bool pipelined;
    struct result runs[RUNS_MAX];
    struct result med;
    bool selected;
};

static void summarize(struct workload *w, int runs)
{
    double v[RUNS_MAX];
#define MED(field)                       \
    do {                                 \
        for (int i = 0; i < runs; i++) { \
            v[i] = w->runs[i].field;     \
        }                                \
        w->med.field = median(v, runs);  \
    } while (0)
    MED(ops_per_s);
    MED(p50_us);
    MED(p99_us);
    MED(max_us);
    MED(cpu_s_per_1k);
    MED(client_cpu_s_per_1k);
#undef MED
    w->med.ops = w->runs[0].ops;
    w->med.errors = 0;
    for (int i = 0; i < runs; i++) {
        w->med.errors += w->runs[i].errors;
    }
}

static int bench_throughput(struct augur_client *c,
                            const char *list,
                            int runs,
                            double scale,
                            unsigned inflight,
                            const char *json_path)
{
    struct workload wl[] = {
        {.name = "seq_write", .base_ops = 2000, .pipelined = false},
        {.name = "write_64", .base_ops = 20000, .pipelined = true},
        {.name = "read_64", .base_ops = 20000, .pipelined = true},
        {.name = "cas_64", .base_ops = 10000, .pipelined = true},
    };
    const int n_wl = (int)(sizeof wl / sizeof wl[0]);
    static struct phase ph;
    uint64_t epochs[INFLIGHT_MAX], seq_epoch[1];
    unsigned sides[INFLIGHT_MAX], seq_side[1];
    FILE *jf;

    for (int i = 0; i < n_wl; i++) {
        wl[i].selected = list == NULL || strstr(list, wl[i].name) != NULL;
    }
    memset(payload, 'v', sizeof payload);
    payload[0][PAYLOAD_LABEL] = payload[1][PAYLOAD_LABEL] = '\0';
    ph.c = c;
    msgpack_sbuffer_init(&ph.a.sb);
    msgpack_packer_init(&ph.a.pk, &ph.a.sb, msgpack_sbuffer_write);

    for (int r = 0; r < runs; r++) {
        snprintf(ph.tag, sizeof ph.tag, "%lx%d", (unsigned long)time(NULL), r);
        fprintf(stderr, "augur-bench: run %d/%d (tag %s)\n", r + 1, runs,
                ph.tag);
        /* Warm-up, not measured: a connection and a leader. */
        ph.epoch = seq_epoch;
        ph.side = seq_side;
        setup_claims(&ph, 1);
        for (int i = 0; i < n_wl; i++) {
            struct workload *w = &wl[i];
            unsigned k = w->pipelined ? inflight : 1;
            if (!w->selected) {
                continue;
            }
            ph.name = w->name;
            ph.total = (uint64_t)((double)w->base_ops * scale);
            if (ph.total < 10) {
                ph.total = 10;
            }
            if (strcmp(w->name, "seq_write") == 0) {
                ph.submit = transfer_submit;
                ph.epoch = seq_epoch;
                ph.side = seq_side;
            } else if (strcmp(w->name, "write_64") == 0) {
                ph.submit = write_submit;
            } else if (strcmp(w->name, "read_64") == 0) {
                if (ph.written == 0) {
                    /* read_64 alone: write what it reads first. */
                    ph.name = "write_64 (for read_64)";
                    ph.submit = write_submit;
                    phase_run(&ph, k, &w->runs[r]);
                    ph.written = ph.total;
                    ph.name = w->name;
                }
                ph.submit = read_submit;
            } else {
                char base[32];
                memcpy(base, ph.tag, sizeof base);
                snprintf(ph.tag, sizeof ph.tag, "%.24sc", base);
                ph.epoch = epochs;
                ph.side = sides;
                setup_claims(&ph, k);
                ph.submit = transfer_submit;
            }
            phase_run(&ph, k, &w->runs[r]);
            if (strcmp(w->name, "write_64") == 0) {
                ph.written = ph.total;
            }
            fprintf(stderr,
                    "augur-bench:   %-10s %9.0f ops/s  p50 %8.0f us  p99 %8.0f "
                    "us  max %8.0f us  server cpu %.3f s/1k ops  errors "
                    "%" PRIu64 "\n",
                    w->name, w->runs[r].ops_per_s, w->runs[r].p50_us,
                    w->runs[r].p99_us, w->runs[r].max_us,
                    w->runs[r].cpu_s_per_1k, w->runs[r].errors);
        }
        ph.written = 0;
    }
    msgpack_sbuffer_destroy(&ph.a.sb);

    printf("%-10s %10s %10s %10s %10s %14s %14s %7s\n", "workload", "ops/s",
           "p50_us", "p99_us", "max_us", "srv_cpu_s/1k", "cli_cpu_s/1k",
           "errors");
    for (int i = 0; i < n_wl; i++) {
        struct workload *w = &wl[i];
        if (!w->selected) {
            continue;
        }
        summarize(w, runs);
        printf("%-10s %10.0f %10.0f %10.0f %10.0f %14.3f %14.3f %7" PRIu64 "\n",
               w->name, w->med.ops_per_s, w->med.p50_us, w->med.p99_us,
               w->med.max_us, w->med.cpu_s_per_1k, w->med.client_cpu_s_per_1k,
               w->med.errors);
    }
    if (json_path == NULL) {
        return 0;
    }
    if ((jf = fopen(json_path, "w")) == NULL) {
        die("%s: %s", json_path, strerror(errno));
    }
    fprintf(jf, "{\"runs\": %d", runs);
    for (int i = 0; i < n_wl; i++) {
        struct workload *w = &wl[i];
        if (!w->selected) {
            continue;
        }
        fprintf(jf,
                ", \"%s\": {\"ops_per_s\": %.1f, \"p50_us\": %.1f, "
                "\"p99_us\": %.1f, \"max_us\": %.1f, \"cpu_s_per_1k_ops\": "
                "%.4f, \"client_cpu_s_per_1k_ops\": %.4f, \"ops\": %" PRIu64
                ", \"errors\": %" PRIu64 "}",
                w->name, w->med.ops_per_s, w->med.p50_us, w->med.p99_us,
                w->med.max_us, w->med.cpu_s_per_1k, w->med.client_cpu_s_per_1k,
                w->med.ops, w->med.errors);
    }
    fprintf(jf, "}\n");
    fclose(jf);
    return 0;
}

/* ---- leader loss ------------------------------------------------------ */

/* AUGUR_LOG_LEVEL=debug (or trace) prints libaugur's connections, redirects
 * and retries on stderr with wall-clock times in ms, to set beside augurd's
 * logs when finding where a trial's time goes. */
static void bench_log(void *data, int level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    (void)data;
    (void)level;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld client: %s\n", tm.tm_hour, tm.tm_min,
            tm.tm_sec, ts.tv_nsec / 1000000, msg);
}

static void bench_log_from_env(void)
{
    const char *env = getenv("AUGUR_LOG_LEVEL");
    int level = -1;
    if (env == NULL) {
        return;
    }
    level = strcmp(env, "trace") == 0   ? AUGUR_LOG_TRACE
            : strcmp(env, "debug") == 0 ? AUGUR_LOG_DEBUG
            : strcmp(env, "info") == 0  ? AUGUR_LOG_INFO
                                        : -1;
    if (level >= 0) {
        augur_log_set(level, bench_log, NULL);
    }
}

struct killer
{
    const char *pid_fmt; /* printf format of the pid file, %d = node id */
    uint64_t leader;
    uint64_t delay_ms;
    uint64_t t_kill; /* ns, set just before the kill */
    struct timespec wall_kill;
    int rc;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    char path[512];
    struct timespec d = {(time_t)(k->delay_ms / 1000),
                         (long)(k->delay_ms % 1000) * 1000000L};
    FILE *f;
    int pid = 0;

    const char *d_at = strstr(k->pid_fmt, "%d");
    if (d_at == NULL) {
        die("leader-loss: --pid-file needs a %%d for the node id");
    }
    snprintf(path, sizeof path, "%.*s%d%s", (int)(d_at - k->pid_fmt),
             k->pid_fmt, (int)k->leader, d_at + 2);
    if ((f = fopen(path, "r")) == NULL || fscanf(f, "%d", &pid) != 1 ||
        pid <= 1) {
        die("leader-loss: no pid in %s", path);
    }
    fclose(f);
    nanosleep(&d, NULL);
    __atomic_store_n(&k->t_kill, now_ns(), __ATOMIC_SEQ_CST);
    k->rc = kill(pid, SIGKILL);
    clock_gettime(CLOCK_REALTIME, &k->wall_kill);
    return NULL;
}

static int status_leader(struct augur_client *c, uint64_t *leader)
{
    struct augur_reply r;
    int rv = augur_call(c, "status", NULL, 0, 0, &r);
    if (rv == 0 &&
        (r.result == NULL || augur_map_u64(r.result, "leader", leader) != 0)) {
        rv = AUGUR_EPROTO;
    }
    augur_reply_free(&r);
    return rv;
}

/* Whether every node of @endpoints names the same leader and has applied
 * what that leader had committed when asked: a trial kills the leader of a
 * healthy cluster, not one whose last victim is still catching up (such a
 * node has no uplink to the leader yet, see replica_leader_gone, and waits
 * out the whole election timeout).  Sets *@leader. */
static bool cluster_settled(const char *endpoints, uint64_t *leader)
{
    char *copy = strdup(endpoints), *save = NULL;
    uint64_t want = 0, commit = 0, applied[PIDS_MAX];
    unsigned n = 0;
    bool ok = copy != NULL;

    for (char *ep = ok ? strtok_r(copy, ",", &save) : NULL;
         ep != NULL && ok && n < PIDS_MAX; ep = strtok_r(NULL, ",", &save)) {
        struct augur_options o;
        struct augur_client *c;
        struct augur_reply r;
        char errmsg[AUGUR_ERRMSG_SIZE];
        uint64_t l = 0, ci = 0, la = 0;

        augur_options_init(&o);
        o.timeout_ms = 1000;
        if (augur_client_open(ep, &o, &c, errmsg) != 0) {
            ok = false;
            break;
        }
        ok = augur_call(c, "status", NULL, 0, 0, &r) == 0 && r.result != NULL &&
             augur_map_u64(r.result, "leader", &l) == 0 &&
             augur_map_u64(r.result, "commit_index", &ci) == 0 &&
             augur_map_u64(r.result, "last_applied", &la) == 0 && l != 0 &&
             (want == 0 || l == want);
        augur_reply_free(&r);
        augur_client_close(c);
        want = l;
        applied[n++] = la;
        commit = ci > commit ? ci : commit;
    }
    free(copy);
    for (unsigned i = 0; ok && i < n; i++) {
        ok = applied[i] + 1 >= commit; /* the leader's own entry may lag */
    }
    *leader = want;
    return ok;
}

static int bench_leader_loss(const char *endpoints,
                             int trials,
                             const char *pid_fmt,
                             const char *restart_cmd,
                             const char *json_path)
{
    double gaps[64];
    struct augur_options o;
    char errmsg[AUGUR_ERRMSG_SIZE];
    FILE *jf;

    if (pid_fmt == NULL || restart_cmd == NULL) {
        die("leader-loss needs --pid-file and --restart-cmd");
    }
    if (trials > 64) {
        trials = 64;
    }
    augur_options_init(&o);
    for (int t = 0; t < trials; t++) {
        struct augur_client *c;
        struct augur_claim cl;
        struct killer k = {pid_fmt, 0, 1000, 0, {0, 0}, 0};
        pthread_t th;
        uint64_t first_ok = 0, epoch, t_end;
        char w[64], cmd[1024];
        unsigned side = 0;

        if (augur_client_open(endpoints, &o, &c, errmsg) != 0) {
            die("%s", errmsg);
        }
        /* A settled cluster: a leader every node agrees on, caught up. */
        for (int i = 0; i < 300 && !cluster_settled(endpoints, &k.leader);
             i++) {
            usleep(100000);
        }
        snprintf(w, sizeof w, "bench-ll-%lx-%d", (unsigned long)time(NULL), t);
        /* The hosts may exist already (EEXIST): either way they do now. */
        (void)augur_resource_add(c, HOSTS[0], "host", UINT64_C(1) << 40,
                                 UINT64_C(1) << 40);
        (void)augur_resource_add(c, HOSTS[1], "host", UINT64_C(1) << 40,
                                 UINT64_C(1) << 40);
        if (augur_workload_add(c, w, 1, 1, 0) != 0 ||
            augur_claim_acquire(c, w, HOSTS[0], &cl) != 0) {
            die("leader-loss setup: %s", augur_client_errmsg(c));
        }
        epoch = cl.epoch;
        if (status_leader(c, &k.leader) != 0 || k.leader == 0) {
            die("leader-loss: no leader");
        }
        pthread_create(&th, NULL, killer_main, &k);
        t_end = now_ns() + UINT64_C(30) * 1000000000u;
        while (first_ok == 0 && now_ns() < t_end) {
            uint64_t start = now_ns();
            int rv = augur_claim_transfer(c, w, HOSTS[side ^ 1u], epoch, &cl);
            uint64_t tk = __atomic_load_n(&k.t_kill, __ATOMIC_SEQ_CST);
            if (rv == 0 || rv == AUGUR_ECONFLICT) {
                epoch = cl.epoch;
                side = strcmp(cl.host, HOSTS[1]) == 0;
                if (rv == 0 && tk != 0 && start >= tk) {
                    first_ok = now_ns();
                    gaps[t] = (double)(first_ok - tk) / 1e6;
                }
            } else if (rv == AUGUR_EINDETERMINATE || rv == AUGUR_ETIMEOUT) {
                /* Unknown outcome: learn the epoch again. */
                if (augur_claim_get(c, w, 0, &cl) == 0) {
                    epoch = cl.epoch;
                    side = strcmp(cl.host, HOSTS[1]) == 0;
                }
            }
        }
        pthread_join(th, NULL);
        augur_client_close(c);
        if (first_ok == 0) {
            die("leader-loss trial %d: no write acknowledged within 30 s", t);
        }
        fprintf(stderr,
                "augur-bench: leader-loss trial %d/%d: killed node %" PRIu64
                " at %ld.%03ld, next write after %.0f ms\n",
                t + 1, trials, k.leader, (long)k.wall_kill.tv_sec,
                k.wall_kill.tv_nsec / 1000000, gaps[t]);
        snprintf(cmd, sizeof cmd, "%s %" PRIu64 " >/dev/null", restart_cmd,
                 k.leader);
        if (system(cmd) != 0) {
            die("leader-loss: '%s' failed", cmd);
        }
    }
    {
        double v[64];
        double p50, p99, max;
        memcpy(v, gaps, sizeof v);
        p50 = median(v, trials);
        max = v[trials - 1];
        p99 = v[(trials * 99 + 99) / 100 - 1];
        printf("leader_loss trials %d  p50 %.0f ms  p99 %.0f ms  max %.0f ms\n",
               trials, p50, p99, max);
        if (json_path != NULL) {
            if ((jf = fopen(json_path, "w")) == NULL) {
                die("%s: %s", json_path, strerror(errno));
            }
            fprintf(jf,
                    "{\"leader_loss\": {\"trials\": %d, \"p50_ms\": %.1f, "
                    "\"p99_ms\": %.1f, \"max_ms\": %.1f, \"samples_ms\": [",
                    trials, p50, p99, max);
            for (int t = 0; t < trials; t++) {
                fprintf(jf, "%s%.1f", t ? ", " : "", gaps[t]);
            }
            fprintf(jf, "]}}\n");
            fclose(jf);
        }
    }
    return 0;
}

/* ---- elections per hour ----------------------------------------------- */

/* Keeps write_64's requests going until told to stop: resource.add with a
 * 256-byte payload, --inflight in flight, on ids that repeat after the
 * first 20,000 (the later adds answer EEXIST from apply: the same Raft load
 * on a state that stays the size of one write_64 run). */
struct saturator
{
    const char *endpoints;
    unsigned inflight;
    int stop; /* atomic */
    uint64_t ops, errors;
};

static void saturate_cb(void *data, struct augur_reply *r)
{
    phase_done(data, r->status == 0 || r->status == AUGUR_EEXIST, r->error);
}

static void *saturator_main(void *arg)
{
    struct saturator *s = arg;
    static struct phase ph;
    struct augur_options o;
    char errmsg[AUGUR_ERRMSG_SIZE];

    augur_options_init(&o);
    if (augur_client_open(s->endpoints, &o, &ph.c, errmsg) != 0) {
        die("%s", errmsg);
    }
    msgpack_sbuffer_init(&ph.a.sb);
    msgpack_packer_init(&ph.a.pk, &ph.a.sb, msgpack_sbuffer_write);
    memset(payload, 'v', sizeof payload);
    payload[0][PAYLOAD_LABEL] = payload[1][PAYLOAD_LABEL] = '\0';
    ph.name = "write_64 (saturating)";
    ph.submit = write_submit;
    ph.cb = saturate_cb;
    ph.total = 20000;
    snprintf(ph.tag, sizeof ph.tag, "el%lx", (unsigned long)time(NULL));
    while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
        struct result res;
        phase_run(&ph, s->inflight, &res);
        s->ops += res.ops;
        s->errors += res.errors;
    }
    msgpack_sbuffer_destroy(&ph.a.sb);
    augur_client_close(ph.c);
    return NULL;
}

/* Watch the cluster for @duration_s seconds, idle or under write_64, and
 * count its elections (the term's growth: with pre-vote a term begins only
 * with an election that a majority let happen) and its leader changes
 * (status polled every 100 ms). */
static int bench_elections(const char *endpoints,
                           int duration_s,
                           bool saturate,
                           unsigned inflight,
                           const char *json_path)
{
    struct saturator sat = {endpoints, inflight, 0, 0, 0};
    struct augur_options o;
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];
    uint64_t t0, t_end, term0 = 0, term = 0, leader = 0, changes = 0;
    uint64_t polls = 0, failed = 0;
    pthread_t th;
    double hours, per_hour;
    FILE *jf;

    augur_options_init(&o);
    if (augur_client_open(endpoints, &o, &c, errmsg) != 0) {
        die("%s", errmsg);
    }
    if (saturate) {
        pthread_create(&th, NULL, saturator_main, &sat);
    }
    t0 = now_ns();
    t_end = t0 + (uint64_t)duration_s * 1000000000u;
    while (now_ns() < t_end) {
        struct augur_reply r;
        uint64_t l = 0, t = 0;
        struct timespec d = {0, 100000000L};

        polls++;
        if (augur_call(c, "status", NULL, 0, 0, &r) == 0 && r.result != NULL &&
            augur_map_u64(r.result, "leader", &l) == 0 &&
            augur_map_u64(r.result, "term", &t) == 0) {
            if (term0 == 0) {
                term0 = t;
            }
            term = t > term ? t : term;
            if (l != 0 && leader != 0 && l != leader) {
                changes++;
                fprintf(stderr,
                        "augur-bench: elections: leader %" PRIu64 " -> %" PRIu64
                        " (term %" PRIu64 ") after %.1f s\n",
                        leader, l, t, (double)(now_ns() - t0) / 1e9);
            }
            if (l != 0) {
                leader = l;
            }
        } else {
            failed++;
        }
        augur_reply_free(&r);
        nanosleep(&d, NULL);
    }
    hours = (double)(now_ns() - t0) / 3.6e12;
    if (saturate) {
        __atomic_store_n(&sat.stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(th, NULL);
    }
    augur_client_close(c);
    per_hour = (double)(term - term0) / hours;
    printf("elections %s  %d s  term %" PRIu64 " -> %" PRIu64
           "  elections %" PRIu64 " (%.1f/h)  leader changes %" PRIu64
           " (%.1f/h)  writes %" PRIu64 " (%.0f/s, %" PRIu64
           " failed)  status polls failed %" PRIu64 "/%" PRIu64 "\n",
           saturate ? "write_64" : "idle", duration_s, term0, term,
           term - term0, per_hour, changes, (double)changes / hours, sat.ops,
           (double)sat.ops / (hours * 3600), sat.errors, failed, polls);
    if (json_path != NULL) {
        if ((jf = fopen(json_path, "w")) == NULL) {
            die("%s: %s", json_path, strerror(errno));
        }
        fprintf(jf,
                "{\"load\": \"%s\", \"duration_s\": %d, \"elections\": "
                "%" PRIu64
                ", \"elections_per_hour\": %.1f, "
                "\"leader_changes\": %" PRIu64 ", \"writes\": %" PRIu64
                ", \"write_errors\": %" PRIu64 "}\n",
                saturate ? "write_64" : "idle", duration_s, term - term0,
                per_hour, changes, sat.ops, sat.errors);
        fclose(jf);
    }
    return 0;
}

/* ---- load (scale) ----------------------------------------------------- */

struct loader
{
    struct augur_client *c;
    struct args a;
    const char *prefix;
    uint64_t resources, claims;
    uint64_t next, done, errors, stage_total;
    int stage; /* 0 resources, 1 workloads, 2 claims */
    uint64_t t_report;
};

static void load_next(struct loader *l);

static void load_cb(void *data, struct augur_reply *r)
{
    struct loader *l = data;
    if (r->status != 0 && r->status != AUGUR_EEXIST &&
        r->status != AUGUR_ECONFLICT) {
        if (l->errors++ < 3) {
            fprintf(stderr, "augur-bench: load: %s\n", r->error);
        }
    }
    l->done++;
    if (now_ns() > l->t_report) {
        fprintf(stderr, "augur-bench: load stage %d: %" PRIu64 "/%" PRIu64 "\n",
                l->stage, l->done, l->stage_total);
        l->t_report = now_ns() + UINT64_C(5) * 1000000000u;
    }
    load_next(l);
}

static void load_next(struct loader *l)
{
    char id[96], host[96];
    uint64_t i;
    const char *op;
    int rv;

    if (l->next >= l->stage_total) {
        return;
    }
    i = l->next++;
    if (l->stage == 0) {
        snprintf(id, sizeof id, "%s-h%" PRIu64, l->prefix, i);
        args_begin(&l->a, 3);
        args_str(&l->a, "id", id);
        args_str(&l->a, "kind", "host");
        msgpack_pack_str(&l->a.pk, 8);
        msgpack_pack_str_body(&l->a.pk, "capacity", 8);
        msgpack_pack_map(&l->a.pk, 2);
        msgpack_pack_str(&l->a.pk, 3);
        msgpack_pack_str_body(&l->a.pk, "cpu", 3);
        msgpack_pack_uint64(&l->a.pk, 1000);
        msgpack_pack_str(&l->a.pk, 6);
        msgpack_pack_str_body(&l->a.pk, "mem_mb", 6);
        msgpack_pack_uint64(&l->a.pk, 1000000);
        op = "resource.add";
    } else if (l->stage == 1) {
        snprintf(id, sizeof id, "%s-w%" PRIu64, l->prefix, i);
        args_begin(&l->a, 2);
        args_str(&l->a, "id", id);
        msgpack_pack_str(&l->a.pk, 6);
        msgpack_pack_str_body(&l->a.pk, "demand", 6);
        msgpack_pack_map(&l->a.pk, 2);
        msgpack_pack_str(&l->a.pk, 3);
        msgpack_pack_str_body(&l->a.pk, "cpu", 3);
        msgpack_pack_uint64(&l->a.pk, 1);
        msgpack_pack_str(&l->a.pk, 6);
        msgpack_pack_str_body(&l->a.pk, "mem_mb", 6);
        msgpack_pack_uint64(&l->a.pk, 100);
        op = "workload.add";
    } else {
        snprintf(id, sizeof id, "%s-w%" PRIu64, l->prefix, i);
        snprintf(host, sizeof host, "%s-h%" PRIu64, l->prefix,
                 i % l->resources);
        args_begin(&l->a, 2);
        args_str(&l->a, "workload", id);
        args_str(&l->a, "host", host);
        op = "claim.acquire";
    }
    rv = augur_submit(l->c, op, l->a.sb.data, l->a.sb.size, 0, load_cb, l);
    if (rv != 0) {
        die("load: submit: %s", augur_strerror(rv));
    }
}

static int bench_load(struct augur_client *c,
                      uint64_t resources,
                      uint64_t claims,
                      const char *prefix,
                      unsigned inflight)
{
    static struct loader l;
    const char *names[3] = {"resources", "workloads", "claims"};

    l.c = c;
    l.prefix = prefix;
    l.resources = resources;
    l.claims = claims;
    msgpack_sbuffer_init(&l.a.sb);
    msgpack_packer_init(&l.a.pk, &l.a.sb, msgpack_sbuffer_write);
    for (l.stage = 0; l.stage < 3; l.stage++) {
        uint64_t t0 = now_ns();
        double secs;
        l.stage_total = l.stage == 0 ? resources : claims;
        l.next = l.done = l.errors = 0;
        l.t_report = t0 + UINT64_C(5) * 1000000000u;
        for (unsigned i = 0; i < inflight; i++) {
            load_next(&l);
        }
        if (augur_run(c, -1) != 0) {
            die("load: run failed");
        }
        secs = (double)(now_ns() - t0) / 1e9;
        printf("load %-9s %9" PRIu64 " in %7.1f s  (%8.0f ops/s, %" PRIu64
               " errors)\n",
               names[l.stage], l.stage_total, secs,
               (double)l.stage_total / secs, l.errors);
        fflush(stdout);
    }
    msgpack_sbuffer_destroy(&l.a.sb);
    return 0;
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *endpoints = getenv("AUGUR_ENDPOINTS");
    const char *list = NULL, *json = NULL, *pid_fmt = NULL, *restart_cmd = NULL,
               *prefix = "s";
    const char *mode = "throughput";
    int runs = 3, trials = 10, duration_s = 120;
    bool saturate = false;
    double scale = 1.0;
    unsigned inflight = 64;
    uint64_t resources = 100000, claims = 1000000;
    struct augur_options o;
    struct augur_client *c;
    char errmsg[AUGUR_ERRMSG_SIZE];
    int i = 1, rv;

    if (argc > 1 && argv[1][0] != '-') {
        mode = argv[1];
        i = 2;
        if (strcmp(mode, "leader-loss") != 0 && strcmp(mode, "load") != 0 &&
            strcmp(mode, "elections") != 0) {
            fprintf(stderr, "augur-bench: unknown mode '%s'\n", mode);
            usage(stderr);
            return 2;
        }
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "augur-bench: %s needs a value (or unknown)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--endpoints") == 0) {
            endpoints = v;
        } else if (strcmp(a, "--workloads") == 0) {
            list = v;
        } else if (strcmp(a, "--runs") == 0) {
            runs = atoi(v);
        } else if (strcmp(a, "--scale") == 0) {
            scale = atof(v);
        } else if (strcmp(a, "--inflight") == 0) {
            inflight = (unsigned)atoi(v);
        } else if (strcmp(a, "--json") == 0) {
            json = v;
        } else if (strcmp(a, "--trials") == 0) {
            trials = atoi(v);
        } else if (strcmp(a, "--pid-file") == 0) {
            pid_fmt = v;
        } else if (strcmp(a, "--restart-cmd") == 0) {
            restart_cmd = v;
        } else if (strcmp(a, "--resources") == 0) {
            resources = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--claims") == 0) {
            claims = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--duration") == 0) {
            duration_s = atoi(v);
        } else if (strcmp(a, "--load") == 0) {
            if (strcmp(v, "write_64") != 0 && strcmp(v, "none") != 0) {
                fprintf(stderr, "augur-bench: --load is none or write_64\n");
                return 2;
            }
            saturate = strcmp(v, "write_64") == 0;
        } else if (strcmp(a, "--prefix") == 0) {
            prefix = v;
        } else if (strcmp(a, "--server-pids") == 0) {
            char *copy = strdup(v), *save = NULL;
            for (char *p = strtok_r(copy, ",", &save);
                 p != NULL && n_server_pids < PIDS_MAX;
                 p = strtok_r(NULL, ",", &save)) {
                server_pids[n_server_pids++] = atoi(p);
            }
            free(copy);
        } else {
            fprintf(stderr, "augur-bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (endpoints == NULL || endpoints[0] == '\0') {
        fprintf(stderr,
                "augur-bench: no endpoints (--endpoints or "
                "AUGUR_ENDPOINTS)\n");
        return 2;
    }
    if (runs < 1 || runs > RUNS_MAX || trials < 1 || inflight < 1 ||
        inflight > INFLIGHT_MAX || scale <= 0 || resources == 0 ||
        duration_s < 1) {
        fprintf(stderr, "augur-bench: a value is out of range\n");
        return 2;
    }
    bench_log_from_env();
    if (strcmp(mode, "leader-loss") == 0) {
        return bench_leader_loss(endpoints, trials, pid_fmt, restart_cmd, json);
    }
    if (strcmp(mode, "elections") == 0) {
        return bench_elections(endpoints, duration_s, saturate, inflight, json);
    }
    augur_options_init(&o);
    if (augur_client_open(endpoints, &o, &c, errmsg) != 0) {
        fprintf(stderr, "augur-bench: %s\n", errmsg);
        return 2;
    }
    if (strcmp(mode, "load") == 0) {
        rv = bench_load(c, resources, claims, prefix, inflight);
    } else {
        rv = bench_throughput(c, list, runs, scale, inflight, json);
    }
    augur_client_close(c);
    return rv;
}
