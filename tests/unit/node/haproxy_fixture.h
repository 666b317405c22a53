/* The parts of a real HAProxy world that node_haproxy_test and
 * node_traffic_test share: loopback ports, blocking GETs, child processes
 * that print "listening PORT" (augur-demo-app, python3), a haproxy started
 * on a config written here, and the answers of node/haproxy.c's calls. */
#ifndef AUGUR_TESTS_NODE_HAPROXY_FIXTURE_H
#define AUGUR_TESTS_NODE_HAPROXY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "node/haproxy.h"

/* Exits the test with 77 (skipped) when haproxy is not installed. */
void hfx_require_haproxy(void);

/* A fresh directory /tmp/augur-@nameXXXXXX in @dir (@size bytes);
 * 0, or -1 when it cannot be made. */
int hfx_tmpdir(char *dir, size_t size, const char *name);

/* Removes @dir and all below it; 0, or -1. */
int hfx_rmdir(const char *dir);

void hfx_sleep_ms(long ms);

/* A loopback TCP port free at the time of the call, or -1. */
int hfx_free_port(void);

/* One blocking HTTP/1.0 GET / to 127.0.0.1:@port (5 s at most for the
 * answer); returns the status code (-1: no answer) and the body in @body
 * (may be NULL; "" when there is no answer). */
int hfx_http_get(int port, char *body, size_t size);

/* Forks and execs @argv (found on PATH) with its stdout on a pipe; the
 * child is killed when the test dies.  Reads "listening PORT" from it into
 * @port.  Returns the pid, or -1 (the child, if any, killed and reaped). */
pid_t hfx_spawn_listening(char *const argv[], int *port);

/* An augur-demo-app ($AUGUR_DEMO_APP) serving @workload as @host at
 * @epoch on a port of its choice, in @port; @warm: started warm, as the
 * actuator's prepare does (/healthz 503 until promoted).  The pid, or -1
 * (also when AUGUR_DEMO_APP is not set). */
pid_t hfx_start_app(const char *workload,
                    const char *host,
                    const char *epoch,
                    bool warm,
                    int *port);

/* Creates the haproxy config @path and writes its global section (the
 * admin socket @sock, one thread, @lua loaded unless NULL) and defaults
 * (HTTP, short timeouts, redispatch, 2 retries).  Returns the open file,
 * which the caller ends with fclose, or NULL. */
FILE *hfx_config_begin(const char *path, const char *sock, const char *lua);

/* Appends frontend fe_@name on 127.0.0.1:@port and its backend be_@name
 * (round robin, health checks on GET /healthz); @backend_lines (NULL for
 * none) go first in the backend, each line ending with a newline. */
void hfx_config_proxy(FILE *f,
                      const char *name,
                      int port,
                      const char *backend_lines);

/* Starts haproxy in the foreground on the config @cfg (stdout to
 * /dev/null); the child is killed when the test dies.  The pid, or -1. */
pid_t hfx_start_haproxy(const char *cfg);

/* Waits (10 s at most) until the admin socket @sock exists and the
 * frontend on @fe_port answers (503 with no server).  0, or -1. */
int hfx_wait_ready(const char *sock, int fe_port);

/* SIGTERM to *@pid and reaps it, then *@pid = 0; nothing if *@pid <= 0. */
void hfx_stop(pid_t *pid);

/* ---- answers of node/haproxy.c's calls ---- */

struct hfx_answer
{
    unsigned calls;
    int status;
    char message[HAPROXY_ERRMSG_SIZE];
    char answer[512]; /* the raw answer, "" when there is none */
    size_t n;
    struct haproxy_server_stat servers[8];
};

/* A haproxy_cb: counts the call and copies the result into @data, a
 * struct hfx_answer. */
void hfx_on_answer(void *data, const struct haproxy_result *res);

/* Runs @loop until @a has been answered. */
void hfx_run_until_answered(uv_loop_t *loop, struct hfx_answer *a);

/* The line of server @name in @a's show stat, or NULL. */
const struct haproxy_server_stat *hfx_find(const struct hfx_answer *a,
                                           const char *name);

#endif
