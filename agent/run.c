/* augur-agent run: collect this host every interval, report each batch to
 * the cluster, send heartbeats between reports, stop cleanly on SIGTERM
 * or SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/log.h"

/* Wait @ms for SIGTERM or SIGINT (blocked by the caller, so they wait as
 * pending signals while libaugur's calls run).  Returns true when one came.
 * No handler, no global flag: the signal is taken synchronously. */
static bool signal_wait(const sigset_t *set, int64_t ms)
{
    struct timespec ts;
    int sig;

    if (ms < 0) {
        ms = 0;
    }
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000;
    do {
        sig = sigtimedwait(set, NULL, &ts);
    } while (sig < 0 && errno == EINTR);
    return sig > 0;
}

bool agent_signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    return sigprocmask(SIG_BLOCK, set, NULL) == 0;
}

bool agent_signal_wait(const sigset_t *set, int64_t ms)
{
    return signal_wait(set, ms);
}

/* One collection into @b: the kernel's figures, SMART when due, probes. */
static int collect(struct agent *a,
                   const struct agent_run_options *o,
                   struct agent_readings *prev,
                   struct agent_readings *cur,
                   bool *have_prev,
                   int64_t *next_smart_ms,
                   struct telemetry_batch *b)
{
    struct agent_readings tmp;
    int64_t now = agent_mono_ms();
    int rv;

    telemetry_batch_reset(b);
    rv = agent_collect_kernel(a, cur);
    b->t_ms = agent_now_ms();
    rv = rv ? rv : telemetry_batch_resource(b, o->resource);
    if (rv == 0 && a->smart_enabled && now >= *next_smart_ms) {
        rv = agent_smart_collect(a, cur);
        *next_smart_ms = now + (int64_t)AGENT_SMART_INTERVAL_S * 1000;
    }
    rv = rv ? rv : agent_probes_collect(a, cur);
    rv =
        rv ? rv
           : agent_readings_to_batch(*have_prev ? prev : NULL, cur, b->t_ms, b);
    /* This read is the base of the next one's deltas. */
    tmp = *prev;
    *prev = *cur;
    *cur = tmp;
    *have_prev = true;
    return rv;
}

bool agent_notice_handle(struct agent_uplink *u,
                         const struct agent_run_options *o,
                         pid_t *hook_pid)
{
    uint64_t wf = u->notice_workflow;
    char wf_s[32], dl_s[32];
    pid_t pid;

    if (*hook_pid > 0 && waitpid(*hook_pid, NULL, WNOHANG) == *hook_pid) {
        *hook_pid = 0;
    }
    if (wf == 0 || wf == u->ack) {
        return false;
    }
    LOG(LOG_LEVEL_WARN,
        "prepare-shutdown notice for %s: workflow %llu, deadline in %llu ms%s",
        o->resource, (unsigned long long)wf,
        (unsigned long long)u->notice_deadline_ms,
        o->on_shutdown != NULL ? "; running the --on-shutdown hook" : "");
    u->ack = wf; /* acknowledged from the next heartbeat on */
    if (o->on_shutdown == NULL) {
        return true;
    }
    snprintf(wf_s, sizeof wf_s, "%llu", (unsigned long long)wf);
    snprintf(dl_s, sizeof dl_s, "%llu",
             (unsigned long long)u->notice_deadline_ms);
    pid = fork();
    if (pid < 0) {
        LOG(LOG_LEVEL_WARN, "cannot run the --on-shutdown hook: fork: %s",
            strerror(errno));
        return true;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setenv("AUGUR_SHUTDOWN_WORKFLOW", wf_s, 1);
        setenv("AUGUR_SHUTDOWN_DEADLINE_MS", dl_s, 1);
        setenv("AUGUR_RESOURCE", o->resource, 1);
        execl("/bin/sh", "sh", "-c", o->on_shutdown, (char *)NULL);
        _exit(127);
    }
    if (*hook_pid > 0) {
        (void)waitpid(*hook_pid, NULL, WNOHANG);
    }
    *hook_pid = pid;
    return true;
}

int agent_run(struct agent *a,
              struct agent_uplink *u,
              const struct agent_run_options *o,
              char *errmsg)
{
    struct agent_readings prev;
    struct agent_readings cur;
    struct telemetry_batch b;
    int64_t next_smart_ms = 0;
    pid_t hook_pid = 0;
    bool have_prev = false;
    sigset_t set;
    int rv = 0;

    if (!agent_signals_block(&set)) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE, "sigprocmask: %s", strerror(errno));
        return AUGUR_EIO;
    }
    agent_readings_init(&prev);
    agent_readings_init(&cur);
    telemetry_batch_init(&b);
    LOG(LOG_LEVEL_INFO,
        "reporting %s every %u ms, heartbeats every %u ms, backlog of %u "
        "batches",
        o->resource, o->interval_ms, o->heartbeat_ms, u->backlog_max);
    for (;;) {
        int64_t start = agent_mono_ms();
        int64_t next = start + o->interval_ms;
        int64_t beat;

        rv = collect(a, o, &prev, &cur, &have_prev, &next_smart_ms, &b);
        if (rv != 0) {
            snprintf(errmsg, AGENT_ERRMSG_SIZE, "collect: %s",
                     augur_strerror(rv));
            break;
        }
        rv = agent_uplink_report(u, &b);
        (void)agent_notice_handle(u, o, &hook_pid);
        if (rv != 0) {
            snprintf(errmsg, AGENT_ERRMSG_SIZE,
                     "report for %.64s refused: %.160s", o->resource,
                     u->errmsg);
            break;
        }
        /* Heartbeats until the next report is due; each renews the lease
         * the report renewed, and a backlog left by a node that did not
         * answer goes out with the first that gets through. */
        for (beat = start + o->heartbeat_ms; beat < next;
             beat += o->heartbeat_ms) {
            if (signal_wait(&set, beat - agent_mono_ms())) {
                goto stopped;
            }
            rv = u->n > 0 ? agent_uplink_flush(u)
                          : agent_uplink_heartbeat(u, o->resource);
            (void)agent_notice_handle(u, o, &hook_pid);
            if (rv != 0) {
                snprintf(errmsg, AGENT_ERRMSG_SIZE,
                         "heartbeat for %.64s refused: %.160s", o->resource,
                         u->errmsg);
                goto out;
            }
        }
        if (signal_wait(&set, next - agent_mono_ms())) {
            goto stopped;
        }
    }
    goto out;
stopped:
    LOG(LOG_LEVEL_INFO,
        "stopping: %llu batches sent, %u left in the backlog, %llu samples "
        "dropped",
        (unsigned long long)u->sent, u->n,
        (unsigned long long)(u->dropped_total));
    rv = 0;
out:
    telemetry_batch_close(&b);
    agent_readings_close(&prev);
    agent_readings_close(&cur);
    return rv;
}
