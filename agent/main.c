/* augur-agent: the command table, its flag parser and help, and the
 * collect and replay commands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "common/log.h"
#include "predict/predict.h"

#define EXIT_USAGE 2
#define FLAGS_MAX 16
#define DEFAULT_ENDPOINTS "127.0.0.1:7001"
#define INTERVAL_MAX_S 3600
#define HEARTBEAT_DEFAULT_MS 250
#define BACKLOG_DEFAULT 60
#define WAIT_MAX_MS 60000

struct flag
{
    const char *name;
    char short_name;
    const char *value; /* placeholder, or NULL for a switch */
    const char *help;
};

struct command
{
    const char *name;
    const char *summary;
    const char *description;
    const struct flag *flags;
    const char *example;
    int (*run)(const struct command *cmd, const char **values);
};

static int collect_run(const struct command *cmd, const char **values);
static int replay_run(const struct command *cmd, const char **values);
static int run_run(const struct command *cmd, const char **values);

/* How every command that talks to the cluster finds it and proves who it
 * is, as the augur CLI does. */
#define CLUSTER_FLAGS                                                         \
    {"endpoints", 0, "HOST:PORT,...",                                         \
     "nodes to reach, any of them (default $AUGUR_ENDPOINTS, "                \
     "or " DEFAULT_ENDPOINTS ")"},                                            \
        {"key", 0, "FILE",                                                    \
         "this agent's private key (default $AUGUR_KEY); its principal "      \
         "has role agent and the resources reported (or a wider role)"},      \
        {"cluster-key", 0, "FILE",                                            \
         "the cluster's public key (default $AUGUR_CLUSTER_KEY)"},            \
    {                                                                         \
        "backlog", 0, "N",                                                    \
            "batches kept while no node answers (default 60); the oldest go " \
            "first, counted in the next batch's dropped samples"              \
    }

static const struct flag run_flags[] = {
    {"resource", 0, "ID", "the resource this host reports as (required)"},
    {"interval", 0, "SECONDS", "between reports (default 1)"},
    {"heartbeat", 0, "MS",
     "between heartbeats, which renew the host's lease between reports "
     "(default 250)"},
    {"root", 0, "DIR",
     "read /proc and /sys under DIR instead of / (a recorded tree)"},
    {"probes", 0, "FILE", "run the health probes of FILE (docs/AGENT.md)"},
    {"smartctl", 0, "PATH",
     "smartctl to run (default $AUGUR_SMARTCTL, else smartctl on the PATH)"},
    {"no-smart", 0, NULL, "do not run smartctl"},
    {"on-shutdown", 0, "CMD",
     "run CMD (sh -c) when the leader sends a prepare-shutdown notice, "
     "with AUGUR_SHUTDOWN_WORKFLOW and AUGUR_SHUTDOWN_DEADLINE_MS set; "
     "the notice is acknowledged either way (docs/AGENT.md)"},
    CLUSTER_FLAGS,
    {"help", 'h', NULL, "print this help"},
    {0},
};

static const struct flag collect_flags[] = {
    {"once", 0, NULL,
     "collect once and print (the only mode without a cluster)"},
    {"output", 'o', "table|json", "output format (default table)"},
    {"root", 0, "DIR",
     "read /proc and /sys under DIR instead of / (a recorded tree)"},
    {"probes", 0, "FILE", "run the health probes of FILE (docs/AGENT.md)"},
    {"smartctl", 0, "PATH",
     "smartctl to run (default $AUGUR_SMARTCTL, else smartctl on the PATH)"},
    {"no-smart", 0, NULL, "do not run smartctl"},
    {"wait", 0, "MS",
     "time between the two reads of the delta figures (default 1000; 0: "
     "one read, counters and CPU shares omitted)"},
    {"resource", 0, "ID", "the resource id to print with the samples"},
    {"help", 'h', NULL, "print this help"},
    {0},
};

static const struct flag replay_flags[] = {
    {"format", 0, "pdm|backblaze|cmapss", "the data set's format (required)"},
    {"data", 0, "PATH",
     "the data set: a directory (pdm) or comma-separated files (required)"},
    {"speed", 0, "X",
     "recorded seconds per replayed second (default 1; 3600: an hour of "
     "pdm per second)"},
    {"units", 0, "LIST",
     "only these units: comma-separated resource ids (machine-3, a serial, "
     "engine-7) or the data set's unit names (3)"},
    {"steps", 0, "N", "stop after N recorded time steps (default: all)"},
    {"skip", 0, "N",
     "pass over the first N recorded time steps without sending them (the "
     "features still come from the whole history); the clock starts at "
     "the next"},
    {"resource", 0, "ID",
     "report the one unit --units selects as resource ID (a host of the "
     "cluster) instead of its own id"},
    {"print", 0, NULL,
     "print each batch as a JSON line instead of sending it to the cluster"},
    CLUSTER_FLAGS,
    {"help", 'h', NULL, "print this help"},
    {0},
};

static const struct command commands[] = {
    {"run", "report this host's telemetry to the cluster",
     "Collects this host (as collect does) every --interval and sends the\n"
     "batch to the cluster as one telemetry.report, through any node (a\n"
     "follower redirects to the leader).  Heartbeats between reports renew\n"
     "the host's lease on the leader: with neither for the lease (augurd\n"
     "--lease-ms, default 1 s), the leader marks the host unreachable, and\n"
     "the next report brings it back.  While no node answers, batches wait\n"
     "in a bounded backlog.  The key's principal must have role agent with\n"
     "this resource (augur principal add NAME --key FILE.pub --role agent\n"
     "--resource ID) or a wider role; a report it may not make is refused\n"
     "with EPERM, and the agent exits 1.  SIGTERM or SIGINT stop it (0).",
     run_flags,
     "augur-agent run --resource h1 --endpoints 10.0.0.1:7001 --key "
     "h1.key --cluster-key cluster.key.pub",
     run_run},
    {"collect", "print one collection of this machine, without a cluster",
     "Reads /proc/stat, /proc/meminfo, /proc/diskstats, /proc/net/dev,\n"
     "/proc/pressure, hwmon, thermal zones and EDAC, runs smartctl -j -a on\n"
     "each disk and the probes of --probes, and prints the samples.  Counters\n"
     "(disk, network, PSI totals) and CPU shares are deltas between two reads\n"
     "--wait ms apart (default 1000); with --wait 0 they are omitted and\n"
     "only the first read's gauges are printed.  A collector absent on this\n"
     "host is listed under \"missing\", never an error.",
     collect_flags, "augur-agent collect --once -o json", collect_run},
    {"replay", "stream a recorded data set as if it were live telemetry",
     "Reads the data set with the predictor's adapters (as 'augur model').\n"
     "Each unit reports as its own resource: machine-N (pdm), the drive's\n"
     "serial (backblaze), engine-N (cmapss); each batch holds the unit's\n"
     "features at one recorded time, named FORMAT.FEATURE.  Recorded times\n"
     "are compressed by --speed: a pdm hour, a backblaze day or a cmapss\n"
     "cycle (taken as an hour) lasts UNIT/X seconds.  Without --print the\n"
     "batches go to the cluster (as run sends them), one connection for\n"
     "every unit: the key's principal must be allowed all of them (admin,\n"
     "operator, or an agent bound to every unit's resource).  --skip N\n"
     "starts N recorded steps in, --resource ID reports one unit as ID\n"
     "(tests/e2e/replay: a machine's history drives a host of the fleet).",
     replay_flags,
     "augur-agent replay --format pdm --data ../shared/data/azure-pdm "
     "--speed 3600 --units machine-1,machine-2 --endpoints 127.0.0.1:7001",
     replay_run},
    {0},
};

static void help_top(void)
{
    printf(
        "Usage: augur-agent COMMAND [FLAGS]\n\n"
        "The agent of an augur cluster: collects this host's telemetry\n"
        "(kernel figures, SMART, health probes) or replays a recorded\n"
        "data set.\n\nCommands:\n");
    for (const struct command *c = commands; c->name != NULL; c++) {
        printf("  %-8s  %s\n", c->name, c->summary);
    }
    printf(
        "\nEnvironment:\n"
        "  AUGUR_ENDPOINTS, AUGUR_KEY, AUGUR_CLUSTER_KEY  as for augur\n"
        "  AUGUR_SMARTCTL   the smartctl to run\n"
        "  AUGUR_LOG_LEVEL  error, warn, info (default), debug, trace\n\n"
        "Exit status: 0 success; 1 failure; 2 usage error.\n\n"
        "Run 'augur-agent COMMAND --help' for its flags and an example.\n");
}

static void help_command(const struct command *c)
{
    printf("Usage: augur-agent %s [FLAGS]\n\n%c%s.\n\n%s\n\nFlags:\n", c->name,
           c->summary[0] - 'a' + 'A', c->summary + 1, c->description);
    for (const struct flag *f = c->flags; f->name != NULL; f++) {
        char label[64];
        snprintf(label, sizeof label, "%s%c%s--%s%s%s",
                 f->short_name ? "-" : "   ",
                 f->short_name ? f->short_name : ' ', f->short_name ? ", " : "",
                 f->name, f->value ? " " : "", f->value ? f->value : "");
        printf("  %-32s  %s\n", label, f->help);
    }
    printf("\nExample:\n  %s\n", c->example);
}

static int usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "augur-agent: %s%s", cmd != NULL ? cmd : "",
            cmd != NULL ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'augur-agent %s%s--help'\n", cmd != NULL ? cmd : "",
            cmd != NULL ? " " : "");
    return EXIT_USAGE;
}

/* Parse the flags of @c from @argv into @values (a switch's value is its
 * token).  Returns -1 to go on, or an exit status. */
static int parse_flags(const struct command *c,
                       int argc,
                       char **argv,
                       const char **values)
{
    for (int i = 0; i < argc; i++) {
        const char *tok = argv[i];
        const char *inline_value = NULL;
        const struct flag *f = NULL;
        int k = 0;

        if (tok[0] != '-' || tok[1] == '\0') {
            return usage(c->name, "unexpected argument '%s'", tok);
        }
        for (; c->flags[k].name != NULL; k++) {
            const struct flag *g = &c->flags[k];
            size_t n = strlen(g->name);
            if (tok[1] == '-' && strncmp(tok + 2, g->name, n) == 0 &&
                (tok[2 + n] == '\0' || tok[2 + n] == '=')) {
                inline_value = tok[2 + n] == '=' ? tok + 3 + n : NULL;
                f = g;
                break;
            }
            if (tok[1] != '-' && g->short_name == tok[1]) {
                inline_value = tok[2] != '\0' ? tok + 2 : NULL;
                f = g;
                break;
            }
        }
        if (f == NULL) {
            return usage(c->name, "unknown flag '%s'", tok);
        }
        if (f->value == NULL) {
            if (inline_value != NULL) {
                return usage(c->name, "%s takes no value", tok);
            }
            values[k] = tok;
        } else if (inline_value != NULL) {
            values[k] = inline_value;
        } else if (i + 1 < argc) {
            values[k] = argv[++i];
        } else {
            return usage(c->name, "%s needs a value", tok);
        }
        if (strcmp(f->name, "help") == 0) {
            help_command(c);
            return 0;
        }
    }
    return -1;
}

static const char *get(const struct command *c,
                       const char **values,
                       const char *name)
{
    for (int k = 0; c->flags[k].name != NULL; k++) {
        if (strcmp(c->flags[k].name, name) == 0) {
            return values[k];
        }
    }
    return NULL;
}

/* A whole unsigned number in [min, max]. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int collect_run(const struct command *c, const char **values)
{
    const char *output = get(c, values, "output");
    const char *wait_s = get(c, values, "wait");
    const char *resource = get(c, values, "resource");
    const char *probes = get(c, values, "probes");
    struct agent_readings prev;
    struct agent_readings cur;
    struct telemetry_batch b;
    struct agent a;
    uint64_t wait = 1000;
    int64_t t0 = 0;
    int rv;

    if (get(c, values, "once") == NULL) {
        return usage(c->name, "%s",
                     "collect needs --once (the continuous "
                     "agent is 'augur-agent run', to come)");
    }
    if (output != NULL && strcmp(output, "json") != 0 &&
        strcmp(output, "table") != 0) {
        return usage(c->name, "--output is table or json, not '%s'", output);
    }
    if (wait_s != NULL && !parse_u64(wait_s, 0, WAIT_MAX_MS, &wait)) {
        return usage(c->name, "--wait takes 0 to 60000 ms, not '%s'", wait_s);
    }
    if (resource != NULL &&
        !telemetry_resource_valid(resource, strlen(resource))) {
        return usage(c->name, "bad resource id '%s'", resource);
    }
    if (agent_init(&a, get(c, values, "root"), get(c, values, "smartctl")) !=
        0) {
        return usage(c->name, "%s", "--root or --smartctl: path too long");
    }
    a.smart_enabled = get(c, values, "no-smart") == NULL;
    if (probes != NULL && (rv = agent_probes_load(&a, probes)) != 0) {
        fprintf(stderr, "augur-agent: collect: %s: %s\n", augur_errname(rv),
                a.errmsg);
        agent_close(&a);
        return rv == AUGUR_EMALFORMED ? EXIT_USAGE : 1;
    }
    agent_readings_init(&prev);
    agent_readings_init(&cur);
    telemetry_batch_init(&b);
    rv = 0;
    if (wait > 0) {
        t0 = agent_mono_ms();
        rv = agent_collect_kernel(&a, &prev);
        sleep_ms((int64_t)wait);
    }
    rv = rv ? rv : agent_collect_kernel(&a, &cur);
    b.t_ms = agent_now_ms();
    if (resource != NULL) {
        rv = rv ? rv : telemetry_batch_resource(&b, resource);
    }
    rv = rv ? rv : agent_smart_collect(&a, &cur);
    rv = rv ? rv : agent_probes_collect(&a, &cur);
    rv =
        rv ? rv
           : agent_readings_to_batch(wait > 0 ? &prev : NULL, &cur, b.t_ms, &b);
    rv = rv ? rv
            : agent_print(&a, &b, wait > 0 ? agent_mono_ms() - t0 : 0,
                          output != NULL && strcmp(output, "json") == 0);
    if (rv != 0) {
        fprintf(stderr, "augur-agent: collect: %s: %s\n", augur_errname(rv),
                augur_strerror(rv));
    }
    telemetry_batch_close(&b);
    agent_readings_close(&prev);
    agent_readings_close(&cur);
    agent_close(&a);
    return rv != 0 ? 1 : 0;
}

/* Open the link to the cluster from the flags (and the environment).
 * Returns -1 when open, or an exit status. */
static int uplink_open(const struct command *c,
                       const char **values,
                       struct agent_uplink *u)
{
    const char *endpoints = get(c, values, "endpoints");
    const char *backlog_s = get(c, values, "backlog");
    uint64_t backlog = BACKLOG_DEFAULT;
    int rv;

    if (endpoints == NULL) {
        endpoints = getenv("AUGUR_ENDPOINTS");
    }
    if (endpoints == NULL || endpoints[0] == '\0') {
        endpoints = DEFAULT_ENDPOINTS;
    }
    if (backlog_s != NULL && !parse_u64(backlog_s, 1, 100000, &backlog)) {
        return usage(c->name, "--backlog takes 1 to 100000, not '%s'",
                     backlog_s);
    }
    rv = agent_uplink_open(u, endpoints, get(c, values, "key"),
                           get(c, values, "cluster-key"), (unsigned)backlog);
    if (rv != 0) {
        fprintf(stderr, "augur-agent: %s: %s: %s\n", c->name, augur_errname(rv),
                u->errmsg);
        return rv == AUGUR_EINVAL ? EXIT_USAGE : 1;
    }
    return -1;
}

static int run_run(const struct command *c, const char **values)
{
    const char *resource = get(c, values, "resource");
    const char *interval_s = get(c, values, "interval");
    const char *heartbeat_s = get(c, values, "heartbeat");
    const char *probes = get(c, values, "probes");
    struct agent_run_options o = {.resource = resource};
    char errmsg[AGENT_ERRMSG_SIZE] = "";
    uint64_t interval = 1;
    uint64_t heartbeat = HEARTBEAT_DEFAULT_MS;
    struct agent_uplink u;
    struct agent a;
    int rv;

    if (resource == NULL ||
        !telemetry_resource_valid(resource, strlen(resource))) {
        return usage(
            c->name, "%s",
            resource == NULL ? "missing --resource ID" : "bad --resource id");
    }
    if (interval_s != NULL &&
        !parse_u64(interval_s, 1, INTERVAL_MAX_S, &interval)) {
        return usage(c->name, "--interval takes 1 to %d seconds, not '%s'",
                     INTERVAL_MAX_S, interval_s);
    }
    if (heartbeat_s != NULL && !parse_u64(heartbeat_s, 10, 60000, &heartbeat)) {
        return usage(c->name, "--heartbeat takes 10 to 60000 ms, not '%s'",
                     heartbeat_s);
    }
    o.interval_ms = (unsigned)interval * 1000;
    o.heartbeat_ms = (unsigned)heartbeat;
    o.on_shutdown = get(c, values, "on-shutdown");
    if (agent_init(&a, get(c, values, "root"), get(c, values, "smartctl")) !=
        0) {
        return usage(c->name, "%s", "--root or --smartctl: path too long");
    }
    a.smart_enabled = get(c, values, "no-smart") == NULL;
    if (probes != NULL && (rv = agent_probes_load(&a, probes)) != 0) {
        fprintf(stderr, "augur-agent: run: %s: %s\n", augur_errname(rv),
                a.errmsg);
        agent_close(&a);
        return rv == AUGUR_EMALFORMED ? EXIT_USAGE : 1;
    }
    rv = uplink_open(c, values, &u);
    if (rv >= 0) {
        agent_close(&a);
        return rv;
    }
    rv = agent_run(&a, &u, &o, errmsg);
    if (rv != 0) {
        fprintf(stderr, "augur-agent: run: %s: %s\n", augur_errname(rv),
                errmsg);
    }
    agent_uplink_close(&u);
    agent_close(&a);
    return rv != 0 ? 1 : 0;
}

/* The replay's sink to the cluster: each batch is one report; a signal
 * stops the replay between them. */
struct replay_link
{
    struct agent_uplink uplink;
    sigset_t signals;
    bool stopped;
};

static int replay_send(void *arg, const struct telemetry_batch *b)
{
    struct replay_link *l = arg;
    int rv;

    /* A signal taken while the replay slept (replay_sleep) stops it too:
     * it is consumed there, so it is not pending here any more. */
    if (l->stopped || agent_signal_wait(&l->signals, 0)) {
        l->stopped = true;
        return AUGUR_ESHUTDOWN;
    }
    /* The uplink sets the batch's dropped count: a copy would cost as much
     * as the send, so the replay's batch is updated in place. */
    rv = agent_uplink_report(&l->uplink, (struct telemetry_batch *)b);
    if (rv != 0) {
        return rv;
    }
    return 0;
}

static void replay_sleep(void *arg, int64_t ms)
{
    struct replay_link *l = arg;

    if (!l->stopped && agent_signal_wait(&l->signals, ms)) {
        l->stopped = true;
    }
}

static int64_t real_now(void *arg)
{
    (void)arg;
    return agent_now_ms();
}

static void real_sleep(void *arg, int64_t ms)
{
    (void)arg;
    sleep_ms(ms);
}

static int replay_run(const struct command *c, const char **values)
{
    const char *format = get(c, values, "format");
    const char *data = get(c, values, "data");
    const char *speed = get(c, values, "speed");
    const char *steps = get(c, values, "steps");
    const char *skip = get(c, values, "skip");
    struct agent_replay_options opt = {.speed = 1.0,
                                       .units = get(c, values, "units"),
                                       .resource = get(c, values, "resource")};
    struct agent_sink sink = {.send = agent_print_line};
    struct agent_clock clock = {.now_ms = real_now, .sleep_ms = real_sleep};
    char errmsg[AGENT_ERRMSG_SIZE] = "";
    char *end;
    int rv;

    if (format == NULL || (opt.format = predict_format_parse(format)) < 0) {
        return usage(c->name, "--format is pdm, backblaze or cmapss%s",
                     format != NULL ? "" : " (missing)");
    }
    if (data == NULL) {
        return usage(c->name, "%s", "missing --data PATH");
    }
    opt.data = data;
    if (speed != NULL) {
        opt.speed = strtod(speed, &end);
        if (end == speed || *end != '\0' || !isfinite(opt.speed) ||
            !(opt.speed > 0)) {
            return usage(c->name, "--speed is a number above 0, not '%s'",
                         speed);
        }
    }
    if (steps != NULL && !parse_u64(steps, 1, UINT64_MAX, &opt.max_steps)) {
        return usage(c->name, "--steps is a whole number above 0, not '%s'",
                     steps);
    }
    if (skip != NULL && !parse_u64(skip, 0, UINT64_MAX, &opt.skip)) {
        return usage(c->name, "--skip is a whole number, not '%s'", skip);
    }
    if (opt.units != NULL && opt.units[0] == '\0') {
        return usage(c->name, "%s", "--units is an empty list");
    }
    if (opt.resource != NULL && opt.units == NULL) {
        return usage(c->name, "%s",
                     "--resource renames one unit: give it --units UNIT");
    }
    if (get(c, values, "print") == NULL) {
        struct replay_link link = {.stopped = false};
        rv = uplink_open(c, values, &link.uplink);
        if (rv >= 0) {
            return rv;
        }
        if (!agent_signals_block(&link.signals)) {
            agent_uplink_close(&link.uplink);
            fprintf(stderr, "augur-agent: replay: cannot block signals\n");
            return 1;
        }
        sink.send = replay_send;
        sink.arg = &link;
        clock.sleep_ms = replay_sleep;
        clock.arg = &link;
        rv = agent_replay_run(&opt, &sink, &clock, errmsg);
        if (rv == 0 || link.stopped) {
            /* What the last interval left behind goes now, if a node
             * answers. */
            rv = agent_uplink_flush(&link.uplink);
        } else if (rv == AUGUR_EPERM || rv == AUGUR_EAUTH) {
            snprintf(errmsg, sizeof errmsg, "%s", link.uplink.errmsg);
        }
        if (rv == 0) {
            LOG(LOG_LEVEL_INFO,
                "replay %s: %llu batches sent, %u not delivered, %llu "
                "samples dropped",
                link.stopped ? "stopped" : "done",
                (unsigned long long)link.uplink.sent, link.uplink.n,
                (unsigned long long)link.uplink.dropped_total);
        }
        agent_uplink_close(&link.uplink);
    } else {
        rv = agent_replay_run(&opt, &sink, &clock, errmsg);
    }
    if (rv != 0) {
        fprintf(stderr, "augur-agent: replay: %s: %s\n", augur_errname(rv),
                errmsg);
        return 1;
    }
    return 0;
}

static enum log_level log_level_from_env(void)
{
    const char *env = getenv("AUGUR_LOG_LEVEL");
    int level = env != NULL ? log_level_parse(env) : -1;

    return level >= 0 ? (enum log_level)level : LOG_LEVEL_INFO;
}

int main(int argc, char **argv)
{
    const char *values[FLAGS_MAX] = {0};
    int rv;

    log_setup(log_level_from_env(), "agent");
    if (argc < 2) {
        return usage(NULL, "%s", "missing command");
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        help_top();
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("augur-agent %s\n", AUGUR_VERSION);
        return 0;
    }
    for (const struct command *c = commands; c->name != NULL; c++) {
        if (strcmp(argv[1], c->name) == 0) {
            rv = parse_flags(c, argc - 2, argv + 2, values);
            if (rv >= 0) {
                return rv;
            }
            if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
                fprintf(stderr, "augur-agent: curl_global_init failed\n");
                return 1;
            }
            rv = c->run(c, values);
            curl_global_cleanup();
            return rv;
        }
    }
    return usage(NULL, "unknown command '%s'", argv[1]);
}
