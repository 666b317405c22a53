/* The command codec's writing half: commands and error answers encoded as
 * msgpack, in the form store/codec.c decodes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/pack.h"
#include "store/store_int.h"

/* ---- encoding --------------------------------------------------------- */

static void pack_kv_str(struct store__pack *p, const char *key, const char *val)
{
    store__pack_str(p, key);
    store__pack_str(p, val);
}

static void pack_kv_u64(struct store__pack *p, const char *key, uint64_t v)
{
    store__pack_str(p, key);
    msgpack_pack_uint64(&p->pk, v);
}

static void encode_list(struct store__pack *p,
                        const struct store_cmd *cmd,
                        const char *filter)
{
    bool after = cmd->u.list.after[0] != 0;
    bool filtered = filter != NULL && cmd->u.list.filter[0] != 0;
    bool limit = cmd->u.list.limit != 0;

    msgpack_pack_map(&p->pk, (size_t)after + filtered + limit);
    if (after) {
        pack_kv_str(p, "after", cmd->u.list.after);
    }
    if (filtered) {
        pack_kv_str(p, filter, cmd->u.list.filter);
    }
    if (limit) {
        pack_kv_u64(p, "limit", cmd->u.list.limit);
    }
}

static void encode_args(struct store__pack *p, const struct store_cmd *cmd)
{
    msgpack_packer *k = &p->pk;

    switch (cmd->op) {
        case STORE_OP_RESOURCE_ADD:
            msgpack_pack_map(k, 4);
            pack_kv_str(p, "id", cmd->u.resource_add.id);
            pack_kv_str(p, "kind", cmd->u.resource_add.kind);
            store__pack_str(p, "capacity");
            store__pack_capacity(p, &cmd->u.resource_add.capacity);
            store__pack_str(p, "labels");
            msgpack_pack_map(k, cmd->u.resource_add.n_labels);
            for (unsigned i = 0; i < cmd->u.resource_add.n_labels; i++) {
                pack_kv_str(p, cmd->u.resource_add.labels[i].key,
                            cmd->u.resource_add.labels[i].value);
            }
            break;
        case STORE_OP_RESOURCE_SET_STATE:
            msgpack_pack_map(k, 2);
            pack_kv_str(p, "id", cmd->u.set_state.id);
            pack_kv_str(p, "state", store_state_name(cmd->u.set_state.state));
            break;
        case STORE_OP_WORKLOAD_ADD:
            msgpack_pack_map(k, 3);
            pack_kv_str(p, "id", cmd->u.workload_add.id);
            store__pack_str(p, "demand");
            store__pack_capacity(p, &cmd->u.workload_add.demand);
            store__pack_str(p, "priority");
            msgpack_pack_int64(k, cmd->u.workload_add.priority);
            break;
        case STORE_OP_EDGE_ADD:
            msgpack_pack_map(k, 3);
            pack_kv_str(p, "from", cmd->u.edge.from);
            pack_kv_str(p, "to", cmd->u.edge.to);
            pack_kv_str(p, "kind", store_edge_kind_name(cmd->u.edge.kind));
            break;
        case STORE_OP_EDGE_REMOVE:
            msgpack_pack_map(k, 2);
            pack_kv_str(p, "from", cmd->u.edge.from);
            pack_kv_str(p, "to", cmd->u.edge.to);
            break;
        case STORE_OP_CLAIM_ACQUIRE:
            msgpack_pack_map(k, cmd->u.acquire.host[0] != 0 ? 2 : 1);
            pack_kv_str(p, "workload", cmd->u.acquire.workload);
            if (cmd->u.acquire.host[0] != 0) {
                pack_kv_str(p, "host", cmd->u.acquire.host);
            }
            break;
        case STORE_OP_CLAIM_TRANSFER:
            msgpack_pack_map(k, 3);
            pack_kv_str(p, "workload", cmd->u.transfer.workload);
            pack_kv_str(p, "to", cmd->u.transfer.to);
            pack_kv_u64(p, "epoch", cmd->u.transfer.epoch);
            break;
        case STORE_OP_CLAIM_RELEASE:
            msgpack_pack_map(k, 2);
            pack_kv_str(p, "workload", cmd->u.release.workload);
            pack_kv_u64(p, "epoch", cmd->u.release.epoch);
            break;
        case STORE_OP_SCORE_SET:
            msgpack_pack_map(k, 3);
            pack_kv_str(p, "id", cmd->u.score.id);
            store__pack_str(p, "p");
            msgpack_pack_double(k, cmd->u.score.p);
            pack_kv_u64(p, "window", cmd->u.score.window_s);
            break;
        case STORE_OP_NODE_SET:
            /* No "role" key when none is set: such commands encode as they
             * did before roles were recorded. */
            msgpack_pack_map(k, cmd->u.node.role[0] != '\0' ? 4 : 3);
            pack_kv_u64(p, "id", cmd->u.node.id);
            pack_kv_str(p, "raft_address", cmd->u.node.raft_address);
            pack_kv_str(p, "client_address", cmd->u.node.client_address);
            if (cmd->u.node.role[0] != '\0') {
                pack_kv_str(p, "role", cmd->u.node.role);
            }
            break;
        case STORE_OP_SESSION_EXPIRE:
            msgpack_pack_map(k, 1);
            pack_kv_u64(p, "ttl_ms", cmd->u.expire.ttl_ms);
            break;
        case STORE_OP_PRINCIPAL_ADD:
            msgpack_pack_map(k, 3);
            pack_kv_str(p, "name", cmd->u.principal.name);
            pack_kv_str(p, "key", cmd->u.principal.key);
            pack_kv_str(p, "role", store_role_name(cmd->u.principal.role));
            break;
        case STORE_OP_PRINCIPAL_BOOTSTRAP:
            msgpack_pack_map(k, 2);
            pack_kv_str(p, "name", cmd->u.principal.name);
            pack_kv_str(p, "key", cmd->u.principal.key);
            break;
        case STORE_OP_PRINCIPAL_REMOVE:
            msgpack_pack_map(k, 1);
            pack_kv_str(p, "name", cmd->u.principal.name);
            break;
        case STORE_OP_PRINCIPAL_LIST:
            encode_list(p, cmd, NULL);
            break;
        case STORE_OP_RESOURCE_GET:
        case STORE_OP_WORKLOAD_GET:
            msgpack_pack_map(k, 1);
            pack_kv_str(p, "id", cmd->u.get.id);
            break;
        case STORE_OP_CLAIM_GET:
            msgpack_pack_map(k, 1);
            pack_kv_str(p, "workload", cmd->u.get.id);
            break;
        case STORE_OP_RESOURCE_LIST:
        case STORE_OP_WORKLOAD_LIST:
            encode_list(p, cmd, NULL);
            break;
        case STORE_OP_EDGE_LIST:
            encode_list(p, cmd, "resource");
            break;
        case STORE_OP_CLAIM_LIST:
            encode_list(p, cmd, "host");
            break;
        case STORE_OP_NODE_LIST:
        case STORE_OP_NONE:
            msgpack_pack_map(k, 0);
            break;
        case STORE_OP_EVENTS:
            msgpack_pack_map(k, cmd->u.events.limit != 0 ? 2 : 1);
            pack_kv_u64(p, "from", cmd->u.events.from);
            if (cmd->u.events.limit != 0) {
                pack_kv_u64(p, "limit", cmd->u.events.limit);
            }
            break;
    }
}

int store_cmd_encode(const struct store_cmd *cmd, msgpack_sbuffer *out)
{
    char errmsg[STORE_ERRMSG_SIZE];
    struct store__pack p;
    size_t start = out->size;
    int rv;

    /* Only valid commands reach the log. */
    rv = store__cmd_check(cmd, errmsg);
    if (rv != 0) {
        return rv;
    }
    store__pack_init(&p, out);
    msgpack_pack_map(&p.pk, 6);
    pack_kv_str(&p, "op", store_op_name(cmd->op));
    store__pack_str(&p, "args");
    encode_args(&p, cmd);
    pack_kv_u64(&p, "client", cmd->client);
    pack_kv_u64(&p, "seq", cmd->seq);
    pack_kv_u64(&p, "ack", cmd->ack);
    store__pack_str(&p, "time");
    msgpack_pack_int64(&p.pk, cmd->time_ms);
    if (p.failed) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return 0;
}

/* ---- answers ---------------------------------------------------------- */

int store_answer_error(msgpack_sbuffer *out, int status, const char *fmt, ...)
{
    char msg[STORE_ERRMSG_SIZE];
    struct store__pack p;
    size_t start = out->size;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    store__pack_init(&p, out);
    msgpack_pack_map(&p.pk, 2);
    store__pack_str(&p, "status");
    msgpack_pack_int(&p.pk, status);
    pack_kv_str(&p, "error", msg);
    if (p.failed) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return 0;
}
