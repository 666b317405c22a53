/* augurd's configuration: defaults, then a key = value file, then flags. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "node/node.h"

static const char usage[] =
    "usage: augurd --id N --data-dir DIR --raft-address HOST:PORT\n"
    "              --client-address HOST:PORT [options]\n"
    "\n"
    "Runs one node of an augur cluster: a member of the Raft group that holds\n"
    "the fleet model, serving clients on --client-address.\n"
    "\n"
    "options:\n"
    "  --config FILE             read 'key = value' lines (keys are these\n"
    "                            flags without dashes); flags override it\n"
    "  --id N                    this node's id (1..2^63), unique in the "
    "cluster\n"
    "  --data-dir DIR            Raft log, snapshots and state (created; keep "
    "it\n"
    "                            off tmpfs: libraft uses O_DIRECT)\n"
    "  --raft-address HOST:PORT  where peers reach this node\n"
    "  --client-address HOST:PORT  where clients reach this node\n"
    "  --bootstrap ID=HOST:PORT,...  the initial voters (Raft addresses); "
    "used\n"
    "                            only when DIR holds no Raft state yet. "
    "Without\n"
    "                            it an empty node waits for 'augur member "
    "add'\n"
    "  --node-key FILE           this node's own private key (augur keygen):\n"
    "                            proves this node to clients and peers\n"
    "  --node-cert FILE          the cluster's certificate for that key and "
    "id\n"
    "                            (augur node certify); required with "
    "--node-key\n"
    "  --cluster-key FILE        the cluster's public key (FILE.pub), to "
    "check\n"
    "                            peers' certificates; required.  Without\n"
    "                            --node-key: the cluster's private key, and\n"
    "                            the node certifies itself (not recommended:\n"
    "                            a stolen node then yields the cluster key)\n"
    "  --admin-key PUBFILE       the first admin's public key: recorded as\n"
    "                            principal 'admin' when the cluster starts\n"
    "                            (used once; counts only with --bootstrap:\n"
    "                            give it to every initial node)\n"
    "  --log-level LEVEL         error, warn, info (default), debug, trace\n"
    "                            (also AUGUR_LOG_LEVEL; trace includes "
    "libraft's)\n"
    "  --election-timeout MS     Raft election timeout (default 300)\n"
    "  --heartbeat-timeout MS    Raft heartbeat interval (default 50)\n"
    "  --pre-vote on|off         Raft pre-vote (default on)\n"
    "  --member-reconcile on|off  the leader repairs a Raft configuration "
    "that\n"
    "                            differs from the recorded membership "
    "(default\n"
    "                            on); off: it only reports the difference\n"
    "  --snapshot-threshold N    log entries between snapshots at most "
    "(default\n"
    "                            1048576); one is taken sooner once the log "
    "since\n"
    "                            the last holds more bytes than the state "
    "(64 MiB\n"
    "                            at least)\n"
    "  --snapshot-trailing N     entries kept after a snapshot (default 4096)\n"
    "  --session-ttl SECONDS     forget idle client sessions after (default "
    "600)\n"
    "  -h, --help                this text\n"
    "  --version                 print the version\n";

/* The limits, a second string: C99 promises string literals of 4095 bytes
 * only. */
static const char usage_limits[] =
    "\n"
    "limits on parked reads and answers (see docs/PROTOCOL.md):\n"
    "  --wait-max MS             longest wait of an 'events' long poll; a "
    "longer\n"
    "                            wait_ms is cut to it (default 60000)\n"
    "  --waiters-per-conn N      long polls parked at once per connection\n"
    "                            (default 64); more are refused with EBUSY\n"
    "  --waiters-per-principal N  ... per principal, over all its "
    "connections\n"
    "                            (default 1024)\n"
    "  --waiters-max N           ... on this node in all (default 16384)\n"
    "  --page-bytes N            a list or events page ends before its "
    "items\n"
    "                            pass N bytes, with 'next' to go on "
    "(default\n"
    "                            1048576); an answer over the frame limit "
    "is\n"
    "                            refused with ETOOBIG\n"
    "\n"
    "connection limits (see docs/PROTOCOL.md, \"Limits\"):\n"
    "  --client-unauth-max N     client connections still in their handshake\n"
    "                            (default 256; over it the oldest is closed)\n"
    "  --client-unauth-per-source N  the same from one address (default 16;\n"
    "                            over it a new connection is closed at once)\n"
    "  --peer-unauth-max N       the same on the Raft port (default 64)\n"
    "  --peer-unauth-per-source N  the same from one address (default 8)\n"
    "  --fd-reserve N            descriptors kept for peers and files: the\n"
    "                            client port accepts at most the descriptor\n"
    "                            limit minus this, minus --peer-unauth-max\n"
    "                            (default 128)\n"
    "  --conn-pending-high BYTES  a client connection holding more (answers\n"
    "                            not yet written, calls in flight) is not "
    "read\n"
    "                            until it holds a quarter of it (default "
    "262144)\n"
    "  --conn-calls-max N        calls in flight per client connection; at "
    "it\n"
    "                            the connection is not read (default 1024)\n"
    "  --peer-buffer-max BYTES   bytes queued on a Raft link toward the peer\n"
    "                            or libraft before that link stops reading\n"
    "                            (default 4194304)\n"
    "\n"
    "example:\n"
    "  augurd --id 1 --data-dir /var/lib/augur/1 \\\n"
    "    --raft-address 10.0.0.1:7101 --client-address 10.0.0.1:7001 \\\n"
    "    --node-key /etc/augur/node.key --node-cert /etc/augur/node.cert \\\n"
    "    --cluster-key /etc/augur/cluster.key.pub "
    "--admin-key /etc/augur/admin.key.pub \\\n"
    "    --bootstrap 1=10.0.0.1:7101,2=10.0.0.2:7101,3=10.0.0.3:7101\n";

/* The telemetry options, printed after the others: one string each keeps
 * under C's portable string length. */
static const char usage_telemetry[] =
    "\ntelemetry (the leader's, docs/AGENT.md):\n"
    "  --lease-ms MS             a host whose agent has not reported or\n"
    "                            sent a heartbeat for MS is marked "
    "unreachable\n"
    "                            by the leader (default 1000)\n"
    "  --telemetry-ring N        telemetry batches the leader keeps per\n"
    "                            resource (default 4)\n"
    "  --telemetry-resources N   resources the leader tracks telemetry "
    "for;\n"
    "                            reports for more are dropped (default "
    "20000)\n"
    "  (config keys: lease-ms, telemetry-ring, telemetry-resources)\n";

/* The actuator options (docs/ORCHESTRATOR.md, "Actuator protocol"). */
static const char usage_actuator[] =
    "\nactuators (the leader's, docs/ORCHESTRATOR.md):\n"
    "  --actuator SPEC           how the leader acts on hosts: "
    "'exec:/path/prog\n"
    "                            [args]' (the request as JSON on its "
    "stdin) or\n"
    "                            'webhook:http://host:port/path' (POSTed); "
    "none\n"
    "                            by default\n"
    "  --actuator-max N          actuator calls running at once (default "
    "64);\n"
    "                            as many more may wait\n"
    "  --orchestrator on|off     as the leader, drive workflows, fail over "
    "and\n"
    "                            move workloads (default on; off leaves "
    "every\n"
    "                            workflow where it is, for tests and "
    "maintenance)\n"
    "  --haproxy-socket PATH     HAProxy's admin socket (level admin): the "
    "leader\n"
    "                            mirrors and shifts traffic through it "
    "during\n"
    "                            workflows and keeps its servers on the "
    "claims\n"
    "                            (docs/ORCHESTRATOR.md, \"Traffic "
    "driving\"); none\n"
    "                            by default\n"
    "  --haproxy-backend-prefix P  backend of workload W is PW (default "
    "be_)\n";

/* The HTTP options (docs/HTTP.md). */
static const char usage_http[] =
    "\nHTTP (docs/HTTP.md):\n"
    "  --http-address HOST:PORT  serve HTTP there (IPV4:PORT or "
    "[IPV6]:PORT):\n"
    "                            GET /healthz, /readyz and /metrics; none "
    "by\n"
    "                            default.  Bound where given: keep it on\n"
    "                            127.0.0.1 or a private network\n"
    "  --metrics-public [on|off] serve /metrics without a token (bearer "
    "tokens\n"
    "                            are not supported yet: without this flag\n"
    "                            /metrics answers 401)\n"
    "  --http-max-conns N        HTTP connections at once (default 256)\n"
    "  --http-header-bytes N     memory per HTTP connection for the "
    "request\n"
    "                            line and headers (default 32768)\n"
    "  --http-body-max N         request body bytes; more is refused with "
    "413\n"
    "                            (default 1048576)\n"
    "  --http-timeout SECONDS    close an idle or slow HTTP connection "
    "after\n"
    "                            (default 10)\n"
    "  --http-cert FILE          serve HTTPS, not HTTP, with this PEM "
    "certificate\n"
    "                            (chain) ...\n"
    "  --http-key FILE           ... and its unencrypted PEM private key; "
    "both\n"
    "                            or neither.  An unreadable file or a key "
    "that is\n"
    "                            not the certificate's is refused at start\n";

/* The scoring options (the leader's, docs/PREDICTOR.md "Live scoring"). */
static const char usage_scoring[] =
    "\nscoring (the leader's, docs/PREDICTOR.md):\n"
    "  --score-interval-ms MS    the leader scores every reporting "
    "resource\n"
    "                            this often (default 1000)\n"
    "  --score-step P            commit a score that moved by more than P\n"
    "                            since the last commit (default 0.05)\n"
    "  --score-enter P, --score-leave P  the hysteresis band: commit when "
    "p\n"
    "                            rises to ENTER or falls below LEAVE, never\n"
    "                            inside [LEAVE, ENTER) (default 0.5, 0.4)\n"
    "  --score-warm N            reports a leader needs from a resource "
    "before\n"
    "                            it scores it; until then its committed "
    "score\n"
    "                            stands (default 20)\n";

static int parse_switch(const char *key,
                        const char *value,
                        bool *out,
                        char *errmsg)
{
    if (strcmp(value, "on") == 0 || strcmp(value, "true") == 0) {
        *out = true;
    } else if (strcmp(value, "off") == 0 || strcmp(value, "false") == 0) {
        *out = false;
    } else {
        snprintf(errmsg, NODE_ERRMSG_SIZE, "%s: expected on or off, got '%s'",
                 key, value);
        return AUGUR_EINVAL;
    }
    return 0;
}

static int parse_uint(const char *key,
                      const char *value,
                      unsigned long long max,
                      unsigned long long *out,
                      char *errmsg)
{
    char *end;
    errno = 0;
    if (value[0] == '-' || value[0] == '\0') {
        goto bad;
    }
    *out = strtoull(value, &end, 10);
    if (errno != 0 || *end != '\0' || *out > max) {
        goto bad;
    }
    return 0;
bad:
    snprintf(errmsg, NODE_ERRMSG_SIZE,
             "%s: expected a number up to %llu, got '%s'", key, max, value);
    return AUGUR_EINVAL;
}

static int copy_str(const char *key,
                    const char *value,
                    char *out,
                    size_t size,
                    char *errmsg)
{
    if (value[0] == '\0' || strlen(value) >= size) {
        snprintf(errmsg, NODE_ERRMSG_SIZE, "%s: empty or longer than %zu bytes",
                 key, size - 1);
        return AUGUR_EINVAL;
    }
    memcpy(out, value, strlen(value) + 1);
    return 0;
}

/* Set one option by its name (without dashes). */
static int config_set(struct node_config *cfg,
                      const char *key,
                      const char *value,
                      char *errmsg)
{
    unsigned long long n;
    int rv;

    if (strcmp(key, "id") == 0) {
        rv = parse_uint(key, value, INT64_MAX, &n, errmsg);
        if (rv != 0) {
            return rv;
        }
        if (n == 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "id: must be at least 1");
            return AUGUR_EINVAL;
        }
        cfg->id = n;
        return 0;
    }
    if (strcmp(key, "data-dir") == 0) {
        return copy_str(key, value, cfg->data_dir, sizeof cfg->data_dir,
                        errmsg);
    }
    if (strcmp(key, "raft-address") == 0) {
        return copy_str(key, value, cfg->raft_address, sizeof cfg->raft_address,
                        errmsg);
    }
    if (strcmp(key, "http-address") == 0) {
        /* "" is allowed: no HTTP.  The form is checked here, before any
         * data is touched; whether it can be bound, when the server
         * starts. */
        if (value[0] != '\0') {
            char err[NODE_HTTP_ERRMSG_SIZE];
            if (node_http_address_check(value, err) != 0) {
                snprintf(errmsg, NODE_ERRMSG_SIZE, "%s", err);
                return AUGUR_EINVAL;
            }
        }
        return copy_str(key, value, cfg->http_address, sizeof cfg->http_address,
                        errmsg);
    }
    if (strcmp(key, "metrics-public") == 0) {
        return parse_switch(key, value, &cfg->metrics_public, errmsg);
    }
    if (strcmp(key, "http-cert") == 0 || strcmp(key, "http-key") == 0) {
        /* Both PATH_MAX bytes. */
        return copy_str(key, value,
                        key[5] == 'c' ? cfg->http_cert : cfg->http_key,
                        sizeof cfg->http_cert, errmsg);
    }
    if (strcmp(key, "client-address") == 0) {
        return copy_str(key, value, cfg->client_address,
                        sizeof cfg->client_address, errmsg);
    }
    if (strcmp(key, "cluster-key") == 0) {
        return copy_str(key, value, cfg->cluster_key, sizeof cfg->cluster_key,
                        errmsg);
    }
    if (strcmp(key, "node-key") == 0) {
        return copy_str(key, value, cfg->node_key, sizeof cfg->node_key,
                        errmsg);
    }
    if (strcmp(key, "node-cert") == 0) {
        return copy_str(key, value, cfg->node_cert, sizeof cfg->node_cert,
                        errmsg);
    }
    if (strcmp(key, "admin-key") == 0) {
        return copy_str(key, value, cfg->admin_key, sizeof cfg->admin_key,
                        errmsg);
    }
    if (strcmp(key, "bootstrap") == 0) {
        return copy_str(key, value, cfg->bootstrap, sizeof cfg->bootstrap,
                        errmsg);
    }
    if (strcmp(key, "log-level") == 0) {
        cfg->log_level = log_level_parse(value);
        if (cfg->log_level < 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE,
                     "log-level: expected error, warn, info, debug or trace, "
                     "got '%s'",
                     value);
            return AUGUR_EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "score-step") == 0 || strcmp(key, "score-enter") == 0 ||
        strcmp(key, "score-leave") == 0) {
        char *end = NULL;
        double d = strtod(value, &end);
        if (end == value || *end != '\0' || !(d > 0.0 && d < 1.0)) {
            snprintf(errmsg, NODE_ERRMSG_SIZE,
                     "%s: expected a probability in (0, 1), got '%s'", key,
                     value);
            return AUGUR_EINVAL;
        }
        *(key[6] == 's'   ? &cfg->score_step
          : key[6] == 'e' ? &cfg->score_enter
                          : &cfg->score_leave) = d;
        return 0;
    }
    if (strcmp(key, "actuator") == 0) {
        /* "" is allowed: no actuator. */
        if (strlen(value) >= sizeof cfg->actuator) {
            snprintf(errmsg, NODE_ERRMSG_SIZE,
                     "actuator: longer than %zu bytes",
                     sizeof cfg->actuator - 1);
            return AUGUR_EINVAL;
        }
        /* The kind is checked here, before any data is touched; the
         * rest when the actuator is made (node_start). */
        if (value[0] != '\0' && strncmp(value, "exec:/", 6) != 0 &&
            strncmp(value, "webhook:http://", 15) != 0 &&
            strncmp(value, "webhook:https://", 16) != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE,
                     "actuator: expected exec:/PATH [ARGS] or "
                     "webhook:http(s)://HOST:PORT/PATH, got '%.200s'",
                     value);
            return AUGUR_EINVAL;
        }
        memcpy(cfg->actuator, value, strlen(value) + 1);
        return 0;
    }
    if (strcmp(key, "haproxy-socket") == 0 ||
        strcmp(key, "haproxy-backend-prefix") == 0) {
        bool sock = key[8] == 's';
        char *dst = sock ? cfg->haproxy_socket : cfg->haproxy_prefix;
        size_t size =
            sock ? sizeof cfg->haproxy_socket : sizeof cfg->haproxy_prefix;
        /* A unix socket's path fits sun_path (108 bytes). */
        size_t max = sock ? 107 : size - 1;
        if (strlen(value) > max) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "%s: longer than %zu bytes", key,
                     max);
            return AUGUR_EINVAL;
        }
        for (const char *q = value; !sock && *q != '\0'; q++) {
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  (*q >= '0' && *q <= '9') || strchr("._:-", *q) != NULL)) {
                snprintf(errmsg, NODE_ERRMSG_SIZE,
                         "%s: only letters, digits and ._:- are allowed, "
                         "got '%.40s'",
                         key, value);
                return AUGUR_EINVAL;
            }
        }
        memcpy(dst, value, strlen(value) + 1);
        return 0;
    }
    if (strcmp(key, "pre-vote") == 0) {
        return parse_switch(key, value, &cfg->pre_vote, errmsg);
    }
    if (strcmp(key, "member-reconcile") == 0) {
        return parse_switch(key, value, &cfg->member_reconcile, errmsg);
    }
    if (strcmp(key, "orchestrator") == 0) {
        return parse_switch(key, value, &cfg->orchestrator, errmsg);
    }
    static const struct
    {
        const char *key;
        size_t offset;
        unsigned long long min, max;
    } numbers[] = {
        {"election-timeout", offsetof(struct node_config, election_timeout_ms),
         50, 60000},
        {"heartbeat-timeout",
         offsetof(struct node_config, heartbeat_timeout_ms), 10, 10000},
        {"snapshot-threshold", offsetof(struct node_config, snapshot_threshold),
         2, 1u << 30},
        {"snapshot-trailing", offsetof(struct node_config, snapshot_trailing),
         1, 1u << 30},
        {"session-ttl", offsetof(struct node_config, session_ttl_s), 10,
         86400 * 30},
        {"wait-max", offsetof(struct node_config, wait_max_ms), 100, 3600000},
        {"waiters-per-conn", offsetof(struct node_config, waiters_per_conn), 1,
         1u << 20},
        {"waiters-per-principal",
         offsetof(struct node_config, waiters_per_principal), 1, 1u << 20},
        {"waiters-max", offsetof(struct node_config, waiters_max), 1, 1u << 20},
        {"page-bytes", offsetof(struct node_config, page_bytes), 1024,
         64u << 20},
        {"score-interval-ms", offsetof(struct node_config, score_interval_ms),
         50, 3600000},
        {"score-warm", offsetof(struct node_config, score_warm), 1, 100000},
        {"client-unauth-max", offsetof(struct node_config, client_unauth_max),
         1, 1u << 20},
        {"client-unauth-per-source",
         offsetof(struct node_config, client_unauth_per_source), 1, 1u << 20},
        {"peer-unauth-max", offsetof(struct node_config, peer_unauth_max), 1,
         1u << 20},
        {"peer-unauth-per-source",
         offsetof(struct node_config, peer_unauth_per_source), 1, 1u << 20},
        {"fd-reserve", offsetof(struct node_config, fd_reserve), 16, 1u << 20},
        {"conn-pending-high", offsetof(struct node_config, conn_pending_high),
         4096, 1u << 30},
        {"conn-calls-max", offsetof(struct node_config, conn_calls_max), 1,
         1u << 20},
        {"peer-buffer-max", offsetof(struct node_config, peer_buffer_max),
         65536, 1u << 30},
        {"lease-ms", offsetof(struct node_config, lease_ms), 100, 600000},
        {"http-max-conns", offsetof(struct node_config, http_max_conns), 1,
         65536},
        {"http-header-bytes", offsetof(struct node_config, http_header_bytes),
         4096, 1u << 20},
        {"http-body-max", offsetof(struct node_config, http_body_max), 1024,
         64u << 20},
        {"http-timeout", offsetof(struct node_config, http_timeout_s), 1, 3600},
        {"telemetry-ring", offsetof(struct node_config, telemetry_ring), 1, 64},
        {"actuator-max", offsetof(struct node_config, actuator_max), 1, 4096},
        {"telemetry-resources",
         offsetof(struct node_config, telemetry_resources), 1, 1u << 22},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (strcmp(key, numbers[i].key) == 0) {
            rv = parse_uint(key, value, numbers[i].max, &n, errmsg);
            if (rv == 0 && n < numbers[i].min) {
                snprintf(errmsg, NODE_ERRMSG_SIZE, "%s: must be at least %llu",
                         key, numbers[i].min);
                rv = AUGUR_EINVAL;
            }
            if (rv == 0) {
                *(unsigned *)((char *)cfg + numbers[i].offset) = (unsigned)n;
            }
            return rv;
        }
    }
    snprintf(errmsg, NODE_ERRMSG_SIZE,
             "unknown option '%s' (see augurd --help)", key);
    return AUGUR_EINVAL;
}

/* --http-cert and --http-key: both or neither, with --http-address, and
 * a pair that HTTPS can use (read and checked here, before any data is
 * touched; node_start reads them again). */
static int config_check_https(const struct node_config *cfg, char *errmsg)
{
    struct node_http_tls tls;
    char err[NODE_HTTP_TLS_ERRMSG_SIZE];
    int rv;

    if ((cfg->http_cert[0] == '\0') != (cfg->http_key[0] == '\0')) {
        snprintf(errmsg, NODE_ERRMSG_SIZE,
                 "--http-cert and --http-key go together (HTTPS needs the "
                 "certificate and its private key)");
        return AUGUR_EINVAL;
    }
    if (cfg->http_cert[0] == '\0') {
        return 0;
    }
    if (cfg->http_address[0] == '\0') {
        snprintf(errmsg, NODE_ERRMSG_SIZE,
                 "--http-cert and --http-key serve HTTPS on --http-address: "
                 "give it too");
        return AUGUR_EINVAL;
    }
    rv = node_http_tls_load(&tls, cfg->http_cert, cfg->http_key, err);
    if (rv != 0) {
        snprintf(errmsg, NODE_ERRMSG_SIZE, "%s", err);
        return AUGUR_EINVAL;
    }
    node_http_tls_close(&tls);
    return 0;
}

static char *trim(char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r')) {
        *--end = '\0';
    }
    return s;
}

static int config_load_file(struct node_config *cfg,
                            const char *path,
                            char *errmsg)
{
    char line[2048];
    char sub[NODE_ERRMSG_SIZE];
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(errmsg, NODE_ERRMSG_SIZE, "config %s: %s", path,
                 strerror(errno));
        return AUGUR_EINVAL;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *key, *value, *eq;
        lineno++;
        key = trim(line);
        if (*key == '#' || *key == '\0') {
            continue;
        }
        eq = strchr(key, '=');
        if (eq == NULL) {
            snprintf(errmsg, NODE_ERRMSG_SIZE,
                     "config %s:%u: expected 'key = value'", path, lineno);
            fclose(f);
            return AUGUR_EINVAL;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);
        for (char *p = key; *p != '\0'; p++) {
            if (*p == '_') {
                *p = '-';
            }
        }
        if (config_set(cfg, key, value, sub) != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE, "config %s:%u: %.400s", path,
                     lineno, sub);
            fclose(f);
            return AUGUR_EINVAL;
        }
    }
    fclose(f);
    return 0;
}

int node_config_parse(struct node_config *cfg,
                      int argc,
                      char **argv,
                      char *errmsg)
{
    const char *env_level = getenv("AUGUR_LOG_LEVEL");
    int rv;

    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->session_ttl_s = 600;
    /* libraft's defaults (1024 / 128) snapshot the whole state every 1024
     * writes: a full copy on the loop thread that dominated write latency.
     * What decides now is the log's bytes against the state's (raft/fsm.c);
     * the count is only a ceiling, high enough that many small writes are
     * not copied out in a whole state every few seconds. */
    cfg->snapshot_threshold = 1u << 20;
    cfg->snapshot_trailing = 4096;
    /* A lost leader is replaced in about 2-3 election timeouts (a survivor
     * that still heard the leader rejects the first candidate); 300 ms
     * keeps that under a second on loopback and a LAN, and a leader whose
     * process died is replaced sooner (replica_leader_gone).  Pre-vote
     * stops a node that was cut off from raising the term when it returns.
     * See README "Failover timing". */
    cfg->election_timeout_ms = 300;
    cfg->heartbeat_timeout_ms = 50;
    cfg->pre_vote = true;
    /* Scores: a round a second; commits only past the band or a step. */
    cfg->score_interval_ms = 1000;
    cfg->score_warm = 20;
    cfg->score_step = 0.05;
    cfg->score_enter = 0.5;
    cfg->score_leave = 0.4;
    cfg->member_reconcile = true;
    /* A parked long poll costs a few hundred bytes (its request is shed):
     * these caps keep a reader that parks and walks away to a few MB. */
    cfg->wait_max_ms = 60000;
    cfg->waiters_per_conn = 64;
    cfg->waiters_per_principal = 1024;
    cfg->waiters_max = 16384;
    cfg->page_bytes = STORE_PAGE_BYTES_DEFAULT;
    /* Connection limits: a stranger gets little (a handshake message's
     * worth, for 10 s), a principal's connection a few hundred KiB of
     * answers and calls before it is not read from. */
    cfg->client_unauth_max = 256;
    cfg->client_unauth_per_source = 16;
    cfg->peer_unauth_max = 64;
    cfg->peer_unauth_per_source = 8;
    cfg->fd_reserve = 128;
    cfg->conn_pending_high = 256u << 10;
    cfg->conn_calls_max = 1024;
    cfg->peer_buffer_max = 4u << 20;
    /* Agents send a heartbeat every 250 ms: a 1 s lease survives three
     * lost ones, and a dead host is known within about 1.1 s (the sweep
     * runs on every 50 ms tick). */
    cfg->lease_ms = 1000;
    cfg->telemetry_ring = 4;
    cfg->telemetry_resources = 20000;
    cfg->actuator_max = 64;
    memcpy(cfg->haproxy_prefix, "be_", 4);
    cfg->orchestrator = true;
    cfg->http_max_conns = 256;
    cfg->http_header_bytes = 32u << 10;
    cfg->http_body_max = 1u << 20;
    cfg->http_timeout_s = 10;
    if (env_level != NULL && log_level_parse(env_level) >= 0) {
        cfg->log_level = log_level_parse(env_level);
    }

    /* --help, --version and --config first: the file is the base layer. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            /* One write: a reader that stops at the first line it wants
             * (grep -q) must not make the rest fail with SIGPIPE. */
            char text[sizeof usage + sizeof usage_limits +
                      sizeof usage_telemetry + sizeof usage_scoring +
                      sizeof usage_actuator + sizeof usage_http];
            size_t len = 0;
            memcpy(text, usage, sizeof usage - 1);
            len += sizeof usage - 1;
            memcpy(text + len, usage_limits, sizeof usage_limits - 1);
            len += sizeof usage_limits - 1;
            memcpy(text + len, usage_telemetry, sizeof usage_telemetry - 1);
            len += sizeof usage_telemetry - 1;
            memcpy(text + len, usage_scoring, sizeof usage_scoring - 1);
            len += sizeof usage_scoring - 1;
            memcpy(text + len, usage_actuator, sizeof usage_actuator - 1);
            len += sizeof usage_actuator - 1;
            memcpy(text + len, usage_http, sizeof usage_http);
            fflush(stdout);
            if (write(STDOUT_FILENO, text, strlen(text)) < 0) {
                return NODE_CONFIG_DONE; /* nobody reads: nothing to say */
            }
            return NODE_CONFIG_DONE;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("augurd %s\n", AUGUR_VERSION);
            return NODE_CONFIG_DONE;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(errmsg, NODE_ERRMSG_SIZE, "--config needs a FILE");
                return AUGUR_EINVAL;
            }
            rv = config_load_file(cfg, argv[i + 1], errmsg);
            if (rv != 0) {
                return rv;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value;
        char key[64];
        const char *eq;

        if (strncmp(arg, "--", 2) != 0) {
            snprintf(errmsg, NODE_ERRMSG_SIZE,
                     "unexpected argument '%s' (see augurd --help)", arg);
            return AUGUR_EINVAL;
        }
        arg += 2;
        eq = strchr(arg, '=');
        if (eq != NULL) { /* --key=value */
            snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
            value = eq + 1;
        } else if (strcmp(arg, "metrics-public") == 0 &&
                   (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            /* The one switch that may stand alone: --metrics-public. */
            snprintf(key, sizeof key, "%s", arg);
            value = "on";
        } else {
            snprintf(key, sizeof key, "%s", arg);
            if (i + 1 >= argc) {
                snprintf(errmsg, NODE_ERRMSG_SIZE, "--%s needs a value", key);
                return AUGUR_EINVAL;
            }
            value = argv[++i];
        }
        if (strcmp(key, "config") == 0) {
            continue;
        }
        rv = config_set(cfg, key, value, errmsg);
        if (rv != 0) {
            return rv;
        }
    }
    if (cfg->id == 0 || cfg->data_dir[0] == '\0' ||
        cfg->raft_address[0] == '\0' || cfg->client_address[0] == '\0') {
        snprintf(errmsg, NODE_ERRMSG_SIZE,
                 "--id, --data-dir, --raft-address and --client-address are "
                 "required (see augurd --help)");
        return AUGUR_EINVAL;
    }
    if (cfg->cluster_key[0] == '\0') {
        snprintf(errmsg, NODE_ERRMSG_SIZE,
                 "--cluster-key FILE is required: the cluster's public key "
                 "(with --node-key and --node-cert) or its private key "
                 "(make one with 'augur keygen --out FILE')");
        return AUGUR_EINVAL;
    }
    if ((cfg->node_key[0] == '\0') != (cfg->node_cert[0] == '\0')) {
        snprintf(errmsg, NODE_ERRMSG_SIZE,
                 "--node-key and --node-cert go together (make a certificate "
                 "with 'augur node certify')");
        return AUGUR_EINVAL;
    }
    return config_check_https(cfg, errmsg);
}
