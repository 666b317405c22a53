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
#define FLAGS_MAX 12
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
    {"print", 0, NULL,
     "print each batch as a JSON line (required until the cluster's "
     "report op exists)"},
    {"help", 'h', NULL, "print this help"},
    {0},
};

static const struct command commands[] = {
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
     "cycle (taken as an hour) lasts UNIT/X seconds.",
     replay_flags,
     "augur-agent replay --format pdm --data ../shared/data/azure-pdm "
     "--speed 3600 --units machine-1 --print",
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
    struct agent_replay_options opt = {.speed = 1.0,
                                       .units = get(c, values, "units")};
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
    if (opt.units != NULL && opt.units[0] == '\0') {
        return usage(c->name, "%s", "--units is an empty list");
    }
    if (get(c, values, "print") == NULL) {
        return usage(c->name, "%s",
                     "replay needs --print (sending to a cluster comes with "
                     "the report op)");
    }
    rv = agent_replay_run(&opt, &sink, &clock, errmsg);
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
