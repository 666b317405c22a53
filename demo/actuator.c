/* augur-demo-actuator: an exec actuator (docs/ORCHESTRATOR.md, "Actuator
 * protocol") that runs augur-demo-app instances on 127.0.0.1, one per
 * (workload, host), fences stale epochs, and logs every action, so that
 * "workload W runs on host H" can be observed and checked (demo/check-log). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define EXIT_REFUSED 3
#define EXIT_BAD 2
#define STDIN_MAX (64 << 10)
#define START_WAIT_MS 5000
#define FAULT_FILE_MAX 256
#define FAULT_ARGS_MAX 6 /* three flags, a value each */

static const char usage[] =
    "usage: augur-demo-actuator < REQUEST.json\n"
    "\n"
    "An exec actuator for augurd (--actuator exec:PATH): reads one request\n"
    "{\"action\",\"workload\",\"host\",\"epoch\",...} on stdin and runs\n"
    "augur-demo-app instances on 127.0.0.1 accordingly.  State in\n"
    "$AUGUR_DEMO_DIR (required; created): instances/W@H, epochs/W,\n"
    "actions.log.  An action whose epoch is below the highest seen for its\n"
    "workload is refused with exit 3.  AUGUR_DEMO_APP names the app\n"
    "(default: augur-demo-app next to this program).\n"
    "\n"
    "actions: prepare, provision (start a warm instance), activate (fence\n"
    "older instances elsewhere, then run active on host), stop, deprovision,\n"
    "probe, remediate.  Answer: one JSON line {\"state\",\"port\",\"lag_ms\",\n"
    "\"drift\"}; exit 0, 3 (stale epoch), 2 (bad request), 1 (failed).\n"
    "\n"
    "Faults: when $AUGUR_DEMO_DIR/faults/W@H exists, the instances started\n"
    "for W on H get its words as extra arguments (one line, at most 256\n"
    "bytes): --fail-rate F (0..1), --fail-after N (0..1000000000),\n"
    "--delay-ms MS (0..60000), each at most once (see augur-demo-app\n"
    "--help).  Anything else makes prepare, provision and activate of W on\n"
    "H fail with exit 2 before acting.  The start's line in actions.log\n"
    "carries them as \"faults\".\n";

/* The extra app arguments from faults/W@H (n 0: none). */
struct faults
{
    int n;
    char *argv[FAULT_ARGS_MAX];
    char joined[FAULT_FILE_MAX + 1]; /* the words, one space apart */
    char text[FAULT_FILE_MAX + 1];   /* argv points into it */
};

struct instance
{
    long pid;
    int port;
    uint64_t epoch;
    int active;
};

static char dir[PATH_MAX];

static void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *o;
    char *s;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "augur-demo-actuator: %s\n", msg);
    o = json_pack("{s:s}", "error", msg);
    s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
    json_decref(o);
    exit(code);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Ids become file names: refuse what could escape the directory. */
static void check_id(const char *what, const char *id)
{
    if (id[0] == '\0' || id[0] == '.' || strlen(id) > 127 ||
        strpbrk(id, "/@\n") != NULL) {
        die(EXIT_BAD, "bad %s '%.60s'", what, id);
    }
}

/* One line of actions.log; @faults (or NULL) is added as "faults". */
static void log_line(const char *action,
                     const char *workload,
                     const char *host,
                     uint64_t epoch,
                     const struct instance *in,
                     const char *faults)
{
    char path[PATH_MAX + 16];
    char *line;
    json_t *o;
    int fd;

    o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:i, s:b}", "t_ms",
                  (json_int_t)now_ms(), "action", action, "workload", workload,
                  "host", host, "epoch", (json_int_t)epoch, "pid",
                  (json_int_t)(in != NULL ? in->pid : 0), "port",
                  in != NULL ? in->port : 0, "active",
                  in != NULL && in->active);
    if (o != NULL && faults != NULL) {
        json_object_set_new(o, "faults", json_string(faults));
    }
    line = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (line == NULL) {
        die(1, "out of memory");
    }
    snprintf(path, sizeof path, "%s/actions.log", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t len = strlen(line);
        line[len] = '\n'; /* one write: lines never interleave */
        (void)!write(fd, line, len + 1);
        line[len] = '\0';
        close(fd);
    }
    free(line);
}

static void log_action(const char *action,
                       const char *workload,
                       const char *host,
                       uint64_t epoch,
                       const struct instance *in)
{
    log_line(action, workload, host, epoch, in, NULL);
}

/* Is @s a decimal integer (digits only) no larger than @max? */
static bool uint_ok(const char *s, uint64_t max)
{
    uint64_t v = 0;
    if (s[0] == '\0' || strlen(s) > 19) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v <= max;
}

/* Is @s a fraction in 0..1 as augur-demo-app's --fail-rate takes it:
 * digits with an optional decimal part ("1", "0.25", ".5")? */
static bool rate_ok(const char *s)
{
    const char *dot = strchr(s, '.');
    size_t digits = 0;

    if (strlen(s) > 20) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (p != dot) {
            return false;
        }
    }
    if (digits == 0 || (dot != NULL && dot[1] == '\0')) {
        return false;
    }
    return strtod(s, NULL) <= 1.0;
}

/* Read faults/@w@@h into @f (none when the file does not exist).  A file
 * that is too long, or holds anything but the three fault flags with a
 * valid value each, at most once each, ends the action with exit 2 before
 * it does anything. */
static void faults_load(const char *w, const char *h, struct faults *f)
{
    static const char *const flags[] = {"--fail-rate", "--fail-after",
                                        "--delay-ms"};
    char path[PATH_MAX + 300];
    bool seen[3] = {false, false, false};
    size_t len;
    FILE *fp;
    char *save = NULL, *word;

    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, "%s/faults/%s@%s", dir, w, h);
    fp = fopen(path, "r");
    if (fp == NULL) {
        if (errno == ENOENT) {
            return;
        }
        die(1, "cannot read %s: %s", path, strerror(errno));
    }
    len = fread(f->text, 1, sizeof f->text, fp);
    fclose(fp);
    if (len > FAULT_FILE_MAX) {
        die(EXIT_BAD, "fault file %s: longer than %d bytes", path,
            FAULT_FILE_MAX);
    }
    f->text[len] = '\0';
    if (strlen(f->text) != len) {
        die(EXIT_BAD, "fault file %s: holds a NUL byte", path);
    }
    for (word = strtok_r(f->text, " \t\r\n", &save); word != NULL;
         word = strtok_r(NULL, " \t\r\n", &save)) {
        if (f->n == FAULT_ARGS_MAX) {
            die(EXIT_BAD, "fault file %s: too many words (at most %d)", path,
                FAULT_ARGS_MAX);
        }
        f->argv[f->n++] = word;
    }
    for (int i = 0; i < f->n; i += 2) {
        const char *flag = f->argv[i];
        const char *v = i + 1 < f->n ? f->argv[i + 1] : NULL;
        int k = 0;

        while (k < 3 && strcmp(flag, flags[k]) != 0) {
            k++;
        }
        if (k == 3) {
            die(EXIT_BAD,
                "fault file %s: unknown word '%.40s' (only --fail-rate F, "
                "--fail-after N, --delay-ms MS)",
                path, flag);
        }
        if (seen[k]) {
            die(EXIT_BAD, "fault file %s: %s given twice", path, flag);
        }
        seen[k] = true;
        if (v == NULL) {
            die(EXIT_BAD, "fault file %s: %s needs a value", path, flag);
        }
        if ((k == 0 && !rate_ok(v)) || (k == 1 && !uint_ok(v, 1000000000)) ||
            (k == 2 && !uint_ok(v, 60000))) {
            die(EXIT_BAD, "fault file %s: bad value '%.40s' for %s (%s)", path,
                v, flag,
                k == 0   ? "a fraction in 0..1"
                : k == 1 ? "an integer in 0..1000000000"
                         : "milliseconds in 0..60000");
        }
    }
    for (int i = 0; i < f->n; i++) {
        size_t at = strlen(f->joined);
        snprintf(f->joined + at, sizeof f->joined - at, "%s%s",
                 i > 0 ? " " : "", f->argv[i]);
    }
}

static bool pid_alive(long pid)
{
    char path[64], buf[512];
    FILE *f;
    size_t n;
    bool app;

    if (pid <= 0 || kill((pid_t)pid, 0) != 0) {
        return false;
    }
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    {
        char *rp = strrchr(buf, ')');
        if (rp != NULL && rp[1] == ' ' && rp[2] == 'Z') {
            return false; /* a zombie has ended */
        }
    }
    /* A reused pid is not our instance. */
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    app = strstr(buf, "demo-app") != NULL;
    return app;
}

static void inst_path(char *out, size_t size, const char *w, const char *h)
{
    snprintf(out, size, "%s/instances/%s@%s", dir, w, h);
}

static bool inst_load(const char *w, const char *h, struct instance *in)
{
    char path[PATH_MAX + 300];
    FILE *f;
    int n;

    inst_path(path, sizeof path, w, h);
    f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    n = fscanf(f, "%ld %d %" SCNu64 " %d", &in->pid, &in->port, &in->epoch,
               &in->active);
    fclose(f);
    return n == 4;
}

static void inst_save(const char *w, const char *h, const struct instance *in)
{
    char path[PATH_MAX + 300], tmp[PATH_MAX + 310];
    FILE *f;

    inst_path(path, sizeof path, w, h);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        die(1, "cannot write %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "%ld %d %" PRIu64 " %d\n", in->pid, in->port, in->epoch,
            in->active);
    fclose(f);
    if (rename(tmp, path) != 0) {
        die(1, "cannot write %s: %s", path, strerror(errno));
    }
}

static void inst_remove(const char *w, const char *h)
{
    char path[PATH_MAX + 300];
    inst_path(path, sizeof path, w, h);
    unlink(path);
}

/* Stop @in (of @w on @h): SIGTERM, then SIGKILL after 2 s. */
static void inst_stop(const char *w,
                      const char *h,
                      struct instance *in,
                      const char *action,
                      uint64_t epoch)
{
    if (pid_alive(in->pid)) {
        kill((pid_t)in->pid, SIGTERM);
        for (int i = 0; i < 200 && pid_alive(in->pid); i++) {
            sleep_ms(10);
            if (i == 199) {
                kill((pid_t)in->pid, SIGKILL);
            }
        }
        log_action(action, w, h, epoch, in);
    }
    inst_remove(w, h);
}

static void app_path(char *out, size_t size)
{
    const char *env = getenv("AUGUR_DEMO_APP");
    char self[PATH_MAX];
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        snprintf(out, size, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        die(1, "cannot find augur-demo-app (set AUGUR_DEMO_APP)");
    }
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(out, size, "%s/augur-demo-app", self);
}

/* Start an instance of @w on @h, detached, and wait until it listens. */
static void inst_start(const char *w,
                       const char *h,
                       uint64_t epoch,
                       bool warm,
                       const struct faults *faults,
                       struct instance *in)
{
    char app[PATH_MAX + 32], logp[PATH_MAX + 310], ep[32], line[128];
    char *args[10 + FAULT_ARGS_MAX];
    int nargs = 0;
    pid_t pid;
    int port = 0;

    app_path(app, sizeof app);
    snprintf(logp, sizeof logp, "%s/instances/%s@%s.log", dir, w, h);
    snprintf(ep, sizeof ep, "%" PRIu64, epoch);
    args[nargs++] = "augur-demo-app";
    args[nargs++] = "--workload";
    args[nargs++] = (char *)w;
    args[nargs++] = "--host";
    args[nargs++] = (char *)h;
    args[nargs++] = "--epoch";
    args[nargs++] = ep;
    if (warm) {
        args[nargs++] = "--warm";
    }
    for (int i = 0; i < faults->n; i++) {
        args[nargs++] = faults->argv[i];
    }
    args[nargs] = NULL;
    unlink(logp);
    pid = fork();
    if (pid < 0) {
        die(1, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDONLY);
        setsid();
        if (fd < 0 || nul < 0) {
            _exit(127);
        }
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(app, args);
        _exit(127);
    }
    for (int i = 0; i < START_WAIT_MS / 10 && port == 0; i++) {
        FILE *f = fopen(logp, "r");
        if (f != NULL) {
            while (fgets(line, sizeof line, f) != NULL) {
                if (sscanf(line, "listening %d", &port) == 1) {
                    break;
                }
            }
            fclose(f);
        }
        if (port == 0) {
            sleep_ms(10);
        }
    }
    if (port == 0) {
        kill(pid, SIGKILL);
        die(1, "%s did not start listening within %d ms (see %s)", app,
            START_WAIT_MS, logp);
    }
    in->pid = pid;
    in->port = port;
    in->epoch = epoch;
    in->active = !warm;
    inst_save(w, h, in);
    log_line("start", w, h, epoch, in, faults->n > 0 ? faults->joined : NULL);
}

/* Promote a warm instance: POST /activate?epoch=E. */
static bool inst_promote(struct instance *in, uint64_t epoch)
{
    struct sockaddr_in sa;
    char req[128], resp[256];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ssize_t n;

    if (fd < 0) {
        return false;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)in->port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return false;
    }
    n = snprintf(req, sizeof req,
                 "POST /activate?epoch=%" PRIu64
                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                 epoch);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return false;
    }
    n = recv(fd, resp, sizeof resp - 1, MSG_WAITALL);
    close(fd);
    if (n <= 0) {
        return false;
    }
    resp[n] = '\0';
    return strncmp(resp, "HTTP/1.1 200", 12) == 0;
}

static void answer(const char *state,
                   const struct instance *in,
                   int64_t lag,
                   const char *drift)
{
    json_t *o = json_pack("{s:s}", "state", state);
    char *s;
    if (in != NULL) {
        json_object_set_new(o, "port", json_integer(in->port));
        json_object_set_new(o, "pid", json_integer(in->pid));
        json_object_set_new(o, "epoch", json_integer((json_int_t)in->epoch));
    }
    if (lag >= 0) {
        json_object_set_new(o, "lag_ms", json_integer(lag));
    }
    if (drift != NULL) {
        json_object_set_new(o, "drift", json_string(drift));
    }
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

static void mkdir_p(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        die(1, "mkdir %s: %s", path, strerror(errno));
    }
}

/* The highest epoch seen for @w (0: none). */
static uint64_t epoch_load(const char *w)
{
    char path[PATH_MAX + 200];
    uint64_t e = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/epochs/%s", dir, w);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%" SCNu64, &e) != 1) {
            e = 0;
        }
        fclose(f);
    }
    return e;
}

static void epoch_save(const char *w, uint64_t e)
{
    char path[PATH_MAX + 200], tmp[PATH_MAX + 210];
    FILE *f;
    snprintf(path, sizeof path, "%s/epochs/%s", dir, w);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%" PRIu64 "\n", e) < 0 || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        die(1, "cannot record epoch in %s: %s", path, strerror(errno));
    }
}

/* Stop every instance of @w on another host than @h whose epoch is below
 * @epoch: the demo's data-plane fence, before the new one goes active. */
static void fence_others(const char *w, const char *h, uint64_t epoch)
{
    char idir[PATH_MAX + 16];
    size_t wl = strlen(w);
    struct dirent *de;
    DIR *d;

    snprintf(idir, sizeof idir, "%s/instances", dir);
    d = opendir(idir);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        struct instance in;
        if (strncmp(name, w, wl) != 0 || name[wl] != '@' ||
            strchr(name, '.') != NULL) {
            continue;
        }
        if (strcmp(name + wl + 1, h) == 0) {
            continue;
        }
        if (!inst_load(w, name + wl + 1, &in)) {
            continue;
        }
        if (in.epoch < epoch) {
            char other[256];
            snprintf(other, sizeof other, "%s", name + wl + 1);
            inst_stop(w, other, &in, "fence", epoch);
        }
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    static char input[STDIN_MAX + 1];
    const char *env = getenv("AUGUR_DEMO_DIR");
    const char *action, *w, *h;
    json_int_t epoch_in = 0;
    uint64_t epoch, seen;
    char path[PATH_MAX + 64];
    size_t len = 0;
    json_t *req;
    json_error_t jerr;
    struct instance in;
    struct faults faults;
    bool have;
    int lock;

    if (argc > 1 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (env == NULL || env[0] == '\0') {
        die(EXIT_BAD, "AUGUR_DEMO_DIR is not set");
    }
    snprintf(dir, sizeof dir, "%s", env);
    mkdir_p(dir);
    snprintf(path, sizeof path, "%s/instances", dir);
    mkdir_p(path);
    snprintf(path, sizeof path, "%s/epochs", dir);
    mkdir_p(path);
    snprintf(path, sizeof path, "%s/locks", dir);
    mkdir_p(path);
    snprintf(path, sizeof path, "%s/faults", dir);
    mkdir_p(path);

    while (len < STDIN_MAX) {
        ssize_t n = read(0, input + len, STDIN_MAX - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (memchr(input, '\n', len) != NULL) {
            break;
        }
    }
    req = json_loadb(input, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!json_is_object(req)) {
        die(EXIT_BAD, "the request is not a JSON object: %s", jerr.text);
    }
    action = json_string_value(json_object_get(req, "action"));
    w = json_string_value(json_object_get(req, "workload"));
    h = json_string_value(json_object_get(req, "host"));
    if (json_is_integer(json_object_get(req, "epoch"))) {
        epoch_in = json_integer_value(json_object_get(req, "epoch"));
    }
    if (action == NULL || w == NULL || h == NULL || epoch_in < 0) {
        die(EXIT_BAD, "the request needs action, workload, host and epoch");
    }
    epoch = (uint64_t)epoch_in;
    check_id("host", h);
    if (strcmp(action, "remediate") == 0 && w[0] == '\0') {
        /* A host handed to remediation: about no workload (augurd sends
         * it once a failed host holds nothing any more). */
        log_action("remediate", w, h, epoch, NULL);
        answer("remediated", NULL, -1, NULL);
        json_decref(req);
        return 0;
    }
    check_id("workload", w);
    /* Before anything is touched: a bad fault file changes nothing. */
    memset(&faults, 0, sizeof faults);
    if (strcmp(action, "prepare") == 0 || strcmp(action, "provision") == 0 ||
        strcmp(action, "activate") == 0) {
        faults_load(w, h, &faults);
    }

    /* One action per workload at a time. */
    snprintf(path, sizeof path, "%s/locks/%s", dir, w);
    lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        die(1, "lock %s: %s", path, strerror(errno));
    }
    seen = epoch_load(w);
    if (epoch < seen) {
        log_action("refuse", w, h, epoch, NULL);
        die(EXIT_REFUSED, "stale epoch %" PRIu64 " < %" PRIu64, epoch, seen);
    }
    if (epoch > seen) {
        epoch_save(w, epoch);
    }
    have = inst_load(w, h, &in);
    if (have && !pid_alive(in.pid)) {
        inst_remove(w, h); /* a dead pid counts as not running */
        have = false;
    }

    if (strcmp(action, "prepare") == 0 || strcmp(action, "provision") == 0) {
        if (!have) {
            inst_start(w, h, epoch, true, &faults, &in);
        }
        answer(in.active ? "running" : "warm", &in, 0, "");
    } else if (strcmp(action, "activate") == 0) {
        fence_others(w, h, epoch);
        if (have && !inst_promote(&in, epoch)) {
            inst_stop(w, h, &in, "stop", epoch);
            have = false;
        }
        if (have) {
            in.epoch = epoch;
            in.active = 1;
            inst_save(w, h, &in);
            log_action("activate", w, h, epoch, &in);
        } else {
            inst_start(w, h, epoch, false, &faults, &in);
            log_action("activate", w, h, epoch, &in);
        }
        answer("running", &in, 0, "");
    } else if (strcmp(action, "stop") == 0 ||
               strcmp(action, "deprovision") == 0) {
        if (have) {
            inst_stop(w, h, &in, "stop", epoch);
        }
        answer("stopped", NULL, -1, NULL);
    } else if (strcmp(action, "probe") == 0) {
        if (have) {
            char drift[64] = "";
            if (in.epoch != epoch) {
                snprintf(drift, sizeof drift, "epoch %" PRIu64 " != %" PRIu64,
                         in.epoch, epoch);
            }
            answer(in.active ? "running" : "warm", &in, 0, drift);
        } else {
            answer("absent", NULL, -1, NULL);
        }
    } else if (strcmp(action, "remediate") == 0) {
        log_action("remediate", w, h, epoch, have ? &in : NULL);
        answer(have ? (in.active ? "running" : "warm") : "absent",
               have ? &in : NULL, -1, NULL);
    } else {
        die(EXIT_BAD, "unknown action '%.40s'", action);
    }
    json_decref(req);
    close(lock);
    return 0;
}
