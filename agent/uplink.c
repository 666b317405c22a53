/* The agent's link to the cluster: telemetry.report and .heartbeat over
 * libaugur, with a bounded backlog of encoded batches while no node
 * answers, and the count of samples lost to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "api/augur.h"
#include "common/log.h"
#include "common/ops.h"

/* One call's bound: a report that waits longer than an interval holds up
 * the next collection, and the backlog keeps it meanwhile. */
#define UPLINK_TIMEOUT_MS 2000
#define UPLINK_CONNECT_TIMEOUT_MS 500

struct agent_uplink_item
{
    msgpack_sbuffer buf; /* the encoded batch */
    uint64_t samples;    /* its samples plus its "d": lost if dropped */
    uint64_t own;        /* its samples alone (dropped_total counts these:
                            the "d" it carries was counted already) */
};

int agent_uplink_open(struct agent_uplink *u,
                      const char *endpoints,
                      const char *key_file,
                      const char *cluster_key_file,
                      unsigned backlog_max)
{
    struct augur_options opt;
    int rv;

    memset(u, 0, sizeof *u);
    u->backlog_max = backlog_max > 0 ? backlog_max : 1;
    u->items = calloc(u->backlog_max, sizeof *u->items);
    if (u->items == NULL) {
        snprintf(u->errmsg, sizeof u->errmsg, "out of memory");
        return AUGUR_ENOMEM;
    }
    augur_options_init(&opt);
    opt.timeout_ms = UPLINK_TIMEOUT_MS;
    opt.connect_timeout_ms = UPLINK_CONNECT_TIMEOUT_MS;
    opt.key_file = key_file;
    opt.cluster_key_file = cluster_key_file;
    rv = augur_client_open(endpoints, &opt, &u->client, u->errmsg);
    if (rv != 0) {
        free(u->items);
        u->items = NULL;
        return rv;
    }
    u->up = true; /* until a call says otherwise: no "reconnected" line */
    return 0;
}

void agent_uplink_close(struct agent_uplink *u)
{
    if (u->items != NULL) {
        for (unsigned i = 0; i < u->backlog_max; i++) {
            msgpack_sbuffer_destroy(&u->items[i].buf);
        }
        free(u->items);
        u->items = NULL;
    }
    augur_client_close(u->client);
    u->client = NULL;
}

/* Outcomes that mean "no node answered for now": keep the batch. */
static bool transient(int rv)
{
    return rv == AUGUR_ECONNECT || rv == AUGUR_ETIMEOUT ||
           rv == AUGUR_ENOLEADER || rv == AUGUR_ENOTLEADER ||
           rv == AUGUR_ESHUTDOWN || rv == AUGUR_EINDETERMINATE ||
           rv == AUGUR_EPROTO || rv == AUGUR_EBUSY;
}

/* Note the outcome of a call for the reconnect log lines. */
static void link_state(struct agent_uplink *u, int rv)
{
    if (rv == 0 || !transient(rv)) {
        if (!u->up) {
            LOG(LOG_LEVEL_INFO,
                "reconnected to the cluster at %s after %lld ms; %u "
                "batches backlogged, %llu samples dropped meanwhile",
                augur_client_endpoint(u->client),
                (long long)(agent_mono_ms() - u->down_since_ms), u->n,
                (unsigned long long)u->lost);
            u->reconnects++;
        }
        u->up = true;
        return;
    }
    if (u->up) {
        LOG(LOG_LEVEL_WARN, "no node answers (%s): keeping up to %u batches",
            augur_client_errmsg(u->client), u->backlog_max);
        u->down_since_ms = agent_mono_ms();
    }
    u->up = false;
}

static void pop(struct agent_uplink *u)
{
    u->items[u->head].buf.size = 0;
    u->head = (u->head + 1) % u->backlog_max;
    u->n--;
}

int agent_uplink_report(struct agent_uplink *u, struct telemetry_batch *b)
{
    struct agent_uplink_item *it;
    int rv;

    if (u->n == u->backlog_max) {
        /* The oldest goes: the freshest telemetry matters most, and the
         * next batch says how much was lost ("d"). */
        u->lost += u->items[u->head].samples;
        u->dropped_total += u->items[u->head].own;
        pop(u);
    }
    b->dropped = u->lost;
    it = &u->items[(u->head + u->n) % u->backlog_max];
    it->buf.size = 0;
    rv = telemetry_encode(b, &it->buf);
    if (rv != 0) {
        snprintf(u->errmsg, sizeof u->errmsg, "cannot encode the batch: %s",
                 augur_strerror(rv));
        return rv;
    }
    it->samples = b->n + u->lost;
    it->own = b->n;
    u->lost = 0;
    u->n++;
    return agent_uplink_flush(u);
}

int agent_uplink_flush(struct agent_uplink *u)
{
    const char *op = augur_op_wire(AUGUR_OP_TELEMETRY_REPORT);
    struct augur_reply reply;
    int rv;

    while (u->n > 0) {
        struct agent_uplink_item *it = &u->items[u->head];
        rv = augur_call(u->client, op, it->buf.data, it->buf.size, 0, &reply);
        link_state(u, rv);
        if (rv == 0) {
            u->sent++;
            agent_uplink_notice_read(u, reply.result);
            augur_reply_free(&reply);
            pop(u);
            continue;
        }
        snprintf(u->errmsg, sizeof u->errmsg, "%s: %.200s", augur_errname(rv),
                 reply.error[0] != '\0' ? reply.error : augur_strerror(rv));
        augur_reply_free(&reply);
        if (transient(rv)) {
            return 0; /* kept: sent again at the next flush */
        }
        if (rv == AUGUR_EPERM || rv == AUGUR_EAUTH) {
            return rv; /* scope or key: sending again cannot help */
        }
        /* Refused for itself (too old for the leader's window, say): the
         * batch is dropped, the next ones may pass. */
        LOG(LOG_LEVEL_WARN, "a batch was refused and dropped: %s", u->errmsg);
        u->lost += it->samples;
        u->dropped_total += it->own;
        pop(u);
    }
    return 0;
}

/* The map's value for @key, or NULL. */
static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
    size_t len = strlen(key);

    if (m == NULL || m->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
            memcmp(k->via.str.ptr, key, len) == 0) {
            return &m->via.map.ptr[i].val;
        }
    }
    return NULL;
}

void agent_uplink_notice_read(struct agent_uplink *u,
                              const msgpack_object *result)
{
    const msgpack_object *forwarded = map_get(result, "forwarded");
    const msgpack_object *ps = map_get(result, "prepare_shutdown");
    const msgpack_object *wf = map_get(ps, "workflow");
    const msgpack_object *dl = map_get(ps, "deadline_ms");

    if (result == NULL ||
        (forwarded != NULL && forwarded->type == MSGPACK_OBJECT_BOOLEAN &&
         forwarded->via.boolean)) {
        return; /* a follower's answer: it knows no notices */
    }
    if (wf != NULL && wf->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        wf->via.u64 != 0) {
        u->notice_workflow = wf->via.u64;
        u->notice_deadline_ms =
            dl != NULL && dl->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                ? dl->via.u64
                : 0;
        return;
    }
    if (u->notice_workflow != 0) {
        LOG(LOG_LEVEL_INFO,
            "the prepare-shutdown notice of workflow %llu is withdrawn",
            (unsigned long long)u->notice_workflow);
    }
    u->notice_workflow = 0;
    u->notice_deadline_ms = 0;
    u->ack = 0;
}

int agent_uplink_heartbeat(struct agent_uplink *u, const char *resource)
{
    const char *op = augur_op_wire(AUGUR_OP_TELEMETRY_HEARTBEAT);
    struct augur_reply reply;
    msgpack_sbuffer buf;
    msgpack_packer pk;
    int rv;

    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, u->ack != 0 ? 2 : 1);
    msgpack_pack_str_with_body(&pk, "resource", 8);
    msgpack_pack_str_with_body(&pk, resource, strlen(resource));
    if (u->ack != 0) {
        msgpack_pack_str_with_body(&pk, "shutdown_ack", 12);
        msgpack_pack_uint64(&pk, u->ack);
    }
    if (buf.data == NULL) {
        snprintf(u->errmsg, sizeof u->errmsg, "out of memory");
        return AUGUR_ENOMEM;
    }
    rv = augur_call(u->client, op, buf.data, buf.size, 0, &reply);
    msgpack_sbuffer_destroy(&buf);
    link_state(u, rv);
    if (rv == 0) {
        agent_uplink_notice_read(u, reply.result);
    }
    if (rv != 0) {
        snprintf(u->errmsg, sizeof u->errmsg, "%s: %.200s", augur_errname(rv),
                 reply.error[0] != '\0' ? reply.error : augur_strerror(rv));
    }
    augur_reply_free(&reply);
    return transient(rv) ? 0 : rv;
}
