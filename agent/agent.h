/* augur-agent's interface: collectors of a host's kernel figures, SMART,
 * health probes, the collection with its deltas, output, and the replay of
 * recorded data sets.  Nothing here holds authoritative state. */
#ifndef AUGUR_AGENT_H
#define AUGUR_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "wire/telemetry.h"

#define AGENT_WARN_UNUSED __attribute__((warn_unused_result))
#define AGENT_ERRMSG_SIZE 256
#define AGENT_PATH_MAX 4096
#define AGENT_READINGS_MAX TELEMETRY_SAMPLES_MAX
#define AGENT_SMART_INTERVAL_S 300
#define AGENT_SMART_TIMEOUT_MS 20000
#define AGENT_PROBES_MAX 64
#define AGENT_PROBE_TIMEOUT_MS 2000
#define AGENT_PROBE_NAME_MAX 32
#define AGENT_PROBE_ARG_MAX 1024

/* ---- readings (agent/readings.c) -------------------------------------- */

/* How a raw figure becomes a sample. */
enum agent_kind
{
    AGENT_GAUGE = 0, /* the value as read */
    AGENT_COUNTER,   /* grows: the sample is its increase between reads */
    AGENT_SHARE,     /* a counter over a total counter (cpu ticks): the
                      * sample is d(value) / d(total) between reads */
};

struct agent_reading
{
    char name[TELEMETRY_NAME_MAX + 1];
    enum agent_kind kind;
    double value;
    double total; /* AGENT_SHARE only */
};

/* The raw figures of one read of a host.  Caller allocates; init/close. */
struct agent_readings
{
    struct agent_reading *v;
    size_t n;
    size_t cap;
};

void agent_readings_init(struct agent_readings *r);
void agent_readings_close(struct agent_readings *r);
void agent_readings_clear(struct agent_readings *r);

/* Add a figure named by the printf-style @fmt.  A name that is not a valid
 * metric name (telemetry_name_valid) or a value that is not finite is
 * dropped with a debug log: one odd device must not cost the others.
 * Returns 0, AUGUR_ETOOBIG (AGENT_READINGS_MAX) or AUGUR_ENOMEM. */
int agent_readings_add(struct agent_readings *r,
                       enum agent_kind kind,
                       double value,
                       double total,
                       const char *fmt,
                       ...)
    __attribute__((format(printf, 5, 6))) AGENT_WARN_UNUSED;

/* Turn @cur (and, for counters and shares, @prev: NULL on a first read,
 * which omits them) into samples of @b at @t_ms.  A counter that went
 * down (a reset, a device replaced) and a share whose total did not grow
 * are omitted.  Returns 0 or the error of telemetry_batch_add. */
int agent_readings_to_batch(const struct agent_readings *prev,
                            const struct agent_readings *cur,
                            int64_t t_ms,
                            struct telemetry_batch *b) AGENT_WARN_UNUSED;

/* Replace in @s every character a metric name component may not hold by
 * '_', lowercase it, and squeeze repeated '_' ("Core 0" -> "core_0"). */
void agent_name_clean(char *s);

/* ---- the agent and its collectors (agent/collect.c) -------------------- */

enum agent_collector_id
{
    AGENT_C_CPU = 0,
    AGENT_C_MEM,
    AGENT_C_DISK,
    AGENT_C_NET,
    AGENT_C_PSI,
    AGENT_C_HWMON,
    AGENT_C_THERMAL,
    AGENT_C_EDAC,
    AGENT_C_SMART,
    AGENT_C_PROBES,
    AGENT_C_COUNT
};

struct agent_probe;

/* The agent's state: where it reads, how it runs smartctl, its probes, and
 * which collectors it found missing. */
struct agent
{
    char root[AGENT_PATH_MAX]; /* prefix of every path read; "" for / */
    char smartctl[AGENT_PATH_MAX];
    unsigned smart_timeout_ms;
    bool smart_enabled;
    struct agent_probe *probes; /* agent_probes_load */
    size_t n_probes;
    uint32_t missing;  /* bit per enum agent_collector_id */
    uint32_t reported; /* missing collectors already logged */
    char errmsg[AGENT_ERRMSG_SIZE];
};

/* Set @a up to read under @root (NULL or "" for the host itself), with
 * smartctl from @smartctl (NULL: $AUGUR_SMARTCTL, else "smartctl" on the
 * PATH).  Returns 0 or AUGUR_EINVAL (path too long). */
int agent_init(struct agent *a,
               const char *root,
               const char *smartctl) AGENT_WARN_UNUSED;
void agent_close(struct agent *a);

/* The collector's short name ("cpu", "smart"). */
const char *agent_collector_name(enum agent_collector_id id);

/* Read the kernel's figures (cpu, mem, disk, net, psi, hwmon, thermal,
 * edac) into @out (cleared first).  A collector whose interface is absent
 * is marked missing in a->missing and logged once; one that fails
 * otherwise is logged and skipped.  Returns 0, or AUGUR_ENOMEM. */
int agent_collect_kernel(struct agent *a,
                         struct agent_readings *out) AGENT_WARN_UNUSED;

/* A path under the agent's root: "@root@rel" into @out (AGENT_PATH_MAX).
 * Returns 0 or AUGUR_EINVAL when too long. */
int agent__path(const struct agent *a, char *out, const char *rel);

/* Read the small file @path whole into @buf (NUL-terminated).  Returns 0,
 * AUGUR_ENOTFOUND (no such file or directory, or the kernel does not
 * support it), AUGUR_ETOOBIG (over @size - 1 bytes) or AUGUR_EIO. */
int agent__read_file(const char *path, char *buf, size_t size);

/* Read the file ROOT@rel whole into a fresh buffer of @size bytes, owned
 * by the caller; NULL with *@rv set (as agent__read_file, or AUGUR_ENOMEM)
 * and a message in a->errmsg on error. */
char *agent__slurp(struct agent *a, const char *rel, size_t size, int *rv);

/* Each collector: 0, AUGUR_ENOTFOUND when its interface is absent on this
 * host, or another error with a message in a->errmsg. */
int agent__cpu_read(struct agent *a, struct agent_readings *out);
int agent__mem_read(struct agent *a, struct agent_readings *out);
int agent__disk_read(struct agent *a, struct agent_readings *out);
int agent__net_read(struct agent *a, struct agent_readings *out);
int agent__psi_read(struct agent *a, struct agent_readings *out);
int agent__hwmon_read(struct agent *a, struct agent_readings *out);
int agent__thermal_read(struct agent *a, struct agent_readings *out);
int agent__edac_read(struct agent *a, struct agent_readings *out);

/* The whole disks of /proc/diskstats under the agent's root that SMART can
 * ask (no partitions, no loop, ram, zram, dm, md, nbd, sr), as a
 * NUL-separated list in @buf; their count in *@n. */
int agent__disks_list(struct agent *a, char *buf, size_t size, size_t *n);

/* True when the block device @name is a partition: by sysfs when the
 * root has /sys/class/block/NAME, else by its name. */
bool agent__is_partition(const struct agent *a, const char *name);

/* ---- running a command (agent/exec.c) --------------------------------- */

/* Run @argv (argv[0] looked up on the PATH), its stdin and stderr on
 * /dev/null, capturing at most @size - 1 bytes of its stdout into @out
 * (NUL-terminated; *@out_len bytes) and killing it after @timeout_ms.
 * *@status is its exit status, 128 + N when killed by signal N, or -1 when
 * it timed out.  Returns 0, AUGUR_ENOTFOUND (no such program),
 * AUGUR_ETOOBIG (output cut at @size - 1: *@status still set) or
 * AUGUR_EIO, with a message in @errmsg. */
int agent__run(char *const argv[],
               unsigned timeout_ms,
               char *out,
               size_t size,
               size_t *out_len,
               int *status,
               char *errmsg) AGENT_WARN_UNUSED;

/* Milliseconds since the Unix epoch, and on a monotonic clock. */
int64_t agent_now_ms(void);
int64_t agent_mono_ms(void);

/* ---- SMART (agent/smart.c) -------------------------------------------- */

/* smartctl's exit status bits (smartctl(8), "RETURN VALUES"). */
enum agent_smart_bit
{
    AGENT_SMART_CMDLINE = 0,      /* command line did not parse */
    AGENT_SMART_OPEN_FAILED,      /* device open failed */
    AGENT_SMART_COMMAND_FAILED,   /* a SMART or other ATA command failed */
    AGENT_SMART_FAILING,          /* SMART status: disk failing */
    AGENT_SMART_PREFAIL_BELOW,    /* prefail attributes <= threshold */
    AGENT_SMART_USAGE_BELOW_PAST, /* usage attributes were <= threshold */
    AGENT_SMART_ERROR_LOG,        /* the error log has errors */
    AGENT_SMART_SELFTEST_LOG,     /* the self-test log has errors */
    AGENT_SMART_BITS
};

/* The flag's metric name part ("failing"). */
const char *agent_smart_bit_name(enum agent_smart_bit bit);

/* Add the samples of one disk from smartctl's JSON output @json (as
 * `smartctl -j -a` prints it) and its exit status @status to @out, as
 * "smart.DISK.*": every exit bit as "flags.NAME" (0/1), the exit status,
 * the overall health (passed), temperature, power-on hours, ATA attributes
 * (named ones by name, others as attr_ID: raw values) and NVMe health.
 * Returns 0, AUGUR_EMALFORMED (not JSON: message in @errmsg; the flags
 * are still added) or AUGUR_ENOMEM. */
int agent_smart_parse(const char *disk,
                      const char *json,
                      int status,
                      struct agent_readings *out,
                      char *errmsg) AGENT_WARN_UNUSED;

/* Run smartctl on every disk of the host and add their samples to @out.
 * No smartctl, or no disk: the collector is marked missing.  Returns 0 or
 * AUGUR_ENOMEM. */
int agent_smart_collect(struct agent *a,
                        struct agent_readings *out) AGENT_WARN_UNUSED;

/* ---- health probes (agent/probe.c) ------------------------------------ */

enum agent_probe_kind
{
    AGENT_PROBE_TCP = 0,
    AGENT_PROBE_HTTP,
    AGENT_PROBE_EXEC
};

struct agent_probe
{
    char name[AGENT_PROBE_NAME_MAX + 1];
    enum agent_probe_kind kind;
    unsigned timeout_ms;
    char target[AGENT_PROBE_ARG_MAX]; /* HOST:PORT, URL, or shell command */
    long expect_status;               /* http */
};

/* Parse the probe configuration @text (docs/AGENT.md) into a->probes,
 * replacing any.  Returns 0, AUGUR_EMALFORMED ("LINE: what is wrong") or
 * AUGUR_ENOMEM with a message in a->errmsg. */
int agent_probes_parse(struct agent *a, const char *text) AGENT_WARN_UNUSED;
/* The same from the file @path (AUGUR_EIO when it cannot be read). */
int agent_probes_load(struct agent *a, const char *path) AGENT_WARN_UNUSED;

/* Run probe @p once: *@ok, the latency in ms, and a status (HTTP status,
 * exit status, or 0).  Never fails: a probe that cannot run is not ok. */
void agent_probe_run(const struct agent_probe *p,
                     bool *ok,
                     double *latency_ms,
                     long *status);

/* Run every probe and add probe.NAME.ok, .latency_ms and .status to @out.
 * Returns 0 or the error of agent_readings_add. */
int agent_probes_collect(struct agent *a,
                         struct agent_readings *out) AGENT_WARN_UNUSED;

/* ---- one collection and its output (agent/output.c) -------------------- */

/* Print @b and the missing collectors of @a: as one JSON object
 * {"resource"?, "time_ms", "interval_ms", "samples":[{"name","value"}],
 * "missing":[...]} when @json, else a table grouped by the first name
 * component.  Returns 0 or AUGUR_ENOMEM. */
int agent_print(const struct agent *a,
                const struct telemetry_batch *b,
                int64_t interval_ms,
                bool json) AGENT_WARN_UNUSED;

/* ---- replay of recorded data sets (agent/replay.c) --------------------- */

/* Where replayed batches go: printed today, sent to the cluster later.
 * @send returns 0 or an error that stops the replay. */
struct agent_sink
{
    int (*send)(void *arg, const struct telemetry_batch *b);
    void *arg;
};

/* The replay's clock, replaceable in tests: now in ms, and a sleep. */
struct agent_clock
{
    int64_t (*now_ms)(void *arg);
    void (*sleep_ms)(void *arg, int64_t ms);
    void *arg;
};

struct agent_replay_options
{
    int format;           /* enum predict_format */
    const char *data;     /* predict_dataset_read's paths */
    double speed;         /* recorded seconds per replayed second, > 0 */
    const char *units;    /* comma-separated units or resource ids, or NULL */
    uint64_t max_steps;   /* stop after this many time steps (0: all) */
    uint64_t skip;        /* the first this many time steps are not sent */
    const char *resource; /* report as this resource id (one unit), or NULL */
};

/* The seconds one time unit of @format stands for: an hour (pdm), a day
 * (backblaze), a cycle taken as an hour (cmapss). */
double agent_replay_unit_s(int format);

/* Read the data set and send, per recorded time step, one batch per unit
 * that has a row at that time: resource machine-N, the drive's serial, or
 * engine-N; samples "FORMAT.FEATURE" (the adapter's features; missing ones
 * omitted).  The backblaze adapter keeps one row per drive (its last
 * day): each drive reports once.  The first step goes at once; each later one
 * (t - t0) * unit_s / speed seconds after the start, and the batches carry that
 * time.  @skip steps are passed over first, unsent and without a wait (the
 * features of the rows sent still come from the whole recorded history);
 * the clock starts at the first step sent, and @max_steps counts the steps
 * sent.  @resource renames the one selected unit (the replay of a machine
 * as one of the cluster's hosts).  Returns 0, the dataset reader's error,
 * AUGUR_ENOTFOUND (no unit matches --units, or @skip passes every step),
 * AUGUR_EINVAL (@resource with more than one unit, or not a valid id) or
 * the sink's error, with a message in @errmsg. */
int agent_replay_run(const struct agent_replay_options *opt,
                     const struct agent_sink *sink,
                     const struct agent_clock *clock,
                     char *errmsg) AGENT_WARN_UNUSED;

/* A sink printing each batch as one JSON line on stdout. */
int agent_print_line(void *arg, const struct telemetry_batch *b);

/* ---- the link to the cluster (agent/uplink.c) -------------------------- */

struct augur_client;
struct agent_uplink_item;

/* One libaugur client reporting telemetry, with a backlog of at most
 * @backlog_max encoded batches kept while no node answers.  When the
 * backlog is full the oldest batch is dropped, and the next batch's "d"
 * carries how many samples were lost.  Caller allocates; open/close. */
struct agent_uplink
{
    struct augur_client *client;
    struct agent_uplink_item *items; /* a ring of backlog_max */
    unsigned backlog_max;
    unsigned head; /* the oldest batch */
    unsigned n;    /* batches held */
    uint64_t lost; /* samples lost since the last batch made */
    uint64_t dropped_total;
    uint64_t sent;
    uint64_t reconnects;
    bool up; /* the last call reached a node */
    int64_t down_since_ms;
    /* A prepare-shutdown notice from the leader (docs/AGENT.md): the
     * workflow that asks (0: none), its deadline, and the workflow this
     * agent acknowledges in its heartbeats (0: none). */
    uint64_t notice_workflow;
    uint64_t notice_deadline_ms;
    uint64_t ack;
    char errmsg[AGENT_ERRMSG_SIZE];
};

/* Open a client for @endpoints with the key files (NULL: AUGUR_KEY and
 * AUGUR_CLUSTER_KEY).  Does not connect yet.  Returns 0 or libaugur's
 * error (augur_client_open) with a message in u->errmsg; nothing to close
 * then. */
int agent_uplink_open(struct agent_uplink *u,
                      const char *endpoints,
                      const char *key_file,
                      const char *cluster_key_file,
                      unsigned backlog_max) AGENT_WARN_UNUSED;
void agent_uplink_close(struct agent_uplink *u);

/* Queue @b (its "d" set here) and send the backlog, oldest first, one
 * telemetry.report each.  Returns 0 (sent, or kept while no node answers;
 * a batch refused for itself is dropped and counted), AUGUR_EPERM (a
 * resource the principal may not report for), AUGUR_EAUTH (key refused)
 * or an encoding error, with a message in u->errmsg. */
int agent_uplink_report(struct agent_uplink *u,
                        struct telemetry_batch *b) AGENT_WARN_UNUSED;
/* Send what the backlog holds; returns as agent_uplink_report. */
int agent_uplink_flush(struct agent_uplink *u) AGENT_WARN_UNUSED;
/* Renew @resource's lease with a telemetry.heartbeat.  Returns 0 (also
 * when no node answered), AUGUR_EPERM, AUGUR_EAUTH or another refusal. */
int agent_uplink_heartbeat(struct agent_uplink *u,
                           const char *resource) AGENT_WARN_UNUSED;

/* Read a heartbeat's or report's answer @result (a map, or NULL): its
 * "prepare_shutdown" {"workflow", "deadline_ms"} sets u->notice_*; an
 * answer without one clears the notice and the acknowledgement.  A
 * follower's answer ("forwarded": true) says nothing about notices and
 * changes nothing. */
void agent_uplink_notice_read(struct agent_uplink *u,
                              const msgpack_object *result);

/* ---- the continuous agent (agent/run.c) -------------------------------- */

struct agent_run_options
{
    const char *resource;    /* the resource this host reports as */
    unsigned interval_ms;    /* between reports, > 0 */
    unsigned heartbeat_ms;   /* between heartbeats, > 0 */
    const char *on_shutdown; /* shell command run on a prepare-shutdown
                                notice, or NULL */
};

/* Act on a new prepare-shutdown notice in @u: log it, start
 * @o->on_shutdown (sh -c, with AUGUR_SHUTDOWN_WORKFLOW,
 * AUGUR_SHUTDOWN_DEADLINE_MS and AUGUR_RESOURCE in its environment; not
 * waited for: *@hook_pid gets its pid, reaped by a later call) and
 * acknowledge it from the next heartbeat on.  Returns true when the notice
 * was new. */
bool agent_notice_handle(struct agent_uplink *u,
                         const struct agent_run_options *o,
                         pid_t *hook_pid);

/* Collect and report @o->resource every interval through @u, with
 * heartbeats between, until SIGTERM or SIGINT (blocked for the process
 * here, and taken synchronously).  Returns 0 when stopped by a signal, or
 * the error that ended it (AUGUR_EPERM: the principal may not report for
 * the resource; AUGUR_EAUTH; a collector's AUGUR_ENOMEM) with a message in
 * @errmsg (AGENT_ERRMSG_SIZE bytes). */
int agent_run(struct agent *a,
              struct agent_uplink *u,
              const struct agent_run_options *o,
              char *errmsg) AGENT_WARN_UNUSED;

/* Block SIGTERM and SIGINT for the process, into @set; then wait up to
 * @ms for one of them (true when one came).  For the replay's clock. */
bool agent_signals_block(sigset_t *set);
bool agent_signal_wait(const sigset_t *set, int64_t ms);

#endif
