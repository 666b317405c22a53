/* The command codec's writing half: commands and error answers encoded as
 * msgpack, in the form store/codec.c decodes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

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

/* The entries a field writes into the argument map: a page writes up to
 * three (after, its filter, limit), a field marked OMIT none when empty. */
static size_t field_entries(const struct store__field *f,
                            const struct store_cmd *cmd)
{
    const char *m = (const char *)cmd + f->off;

    switch (f->type) {
        case STORE__T_LIST:
        case STORE__T_LIST_PRINCIPALS:
            return (size_t)(cmd->u.list.after[0] != 0) +
                   (cmd->u.list.limit != 0);
        case STORE__T_LIST_EDGES:
        case STORE__T_LIST_CLAIMS:
            return (size_t)(cmd->u.list.after[0] != 0) +
                   (cmd->u.list.filter[0] != 0) + (cmd->u.list.limit != 0);
        case STORE__T_RESOURCES:
            return cmd->u.principal.n_resources != 0;
        case STORE__T_LIST_WORKFLOWS:
            return (size_t)(cmd->u.list.after[0] != 0) +
                   (cmd->u.list.filter[0] != 0) + (cmd->u.list.limit != 0);
        case STORE__T_LIST_PAIRS:
            return (size_t)(cmd->u.list.after[0] != 0) +
                   (cmd->u.list.limit != 0);
        case STORE__T_WF_STRATEGY:
            return cmd->u.workflow.has_strategy;
        case STORE__T_WF_REASON:
            return cmd->u.workflow.has_reason;
        default:
            break;
    }
    if (!(f->flags & STORE__F_OMIT)) {
        return 1;
    }
    switch (f->type) {
        case STORE__T_U64:
            return *(const uint64_t *)m != 0;
        case STORE__T_CONF:
            return cmd->u.score.has_confidence;
        case STORE__T_REASONS:
            return cmd->u.score.n_reasons != 0;
        case STORE__T_LIMIT:
            return *(const unsigned *)m != 0;
        case STORE__T_STRATEGY:
            return *(const int *)m != STORE_STRATEGY_LIVE;
        case STORE__T_BOOL:
        case STORE__T_APPROVED:
            return *(const bool *)m;
        default:
            return m[0] != '\0';
    }
}

static void encode_field(struct store__pack *p,
                         const struct store__field *f,
                         const struct store_cmd *cmd)
{
    msgpack_packer *k = &p->pk;
    const char *m = (const char *)cmd + f->off;

    if (field_entries(f, cmd) == 0) {
        return;
    }
    switch (f->type) {
        case STORE__T_ID:
        case STORE__T_KIND:
        case STORE__T_ADDR:
        case STORE__T_NODE_ROLE:
        case STORE__T_KEY:
        case STORE__T_DIGEST:
            pack_kv_str(p, f->key, m);
            break;
        case STORE__T_CONF:
            store__pack_str(p, f->key);
            msgpack_pack_double(k, cmd->u.score.confidence);
            break;
        case STORE__T_REASONS:
            store__pack_str(p, f->key);
            msgpack_pack_array(k, cmd->u.score.n_reasons);
            for (unsigned i = 0; i < cmd->u.score.n_reasons; i++) {
                msgpack_pack_map(k, 2);
                pack_kv_str(p, "feature", cmd->u.score.reasons[i].feature);
                store__pack_str(p, "contribution");
                msgpack_pack_double(k, cmd->u.score.reasons[i].contribution);
            }
            break;
        case STORE__T_BYTES: {
            const struct store_bytes *b = (const struct store_bytes *)m;
            store__pack_str(p, f->key);
            msgpack_pack_bin_with_body(k, b->ptr, b->len);
            break;
        }
        case STORE__T_STATE:
            pack_kv_str(p, f->key, store_state_name(*(const int *)m));
            break;
        case STORE__T_EDGE_KIND:
            pack_kv_str(p, f->key, store_edge_kind_name(*(const int *)m));
            break;
        case STORE__T_ROLE:
            pack_kv_str(p, f->key, store_role_name(*(const int *)m));
            break;
        case STORE__T_U64:
        case STORE__T_WINDOW:
        case STORE__T_FROM:
            pack_kv_u64(p, f->key, *(const uint64_t *)m);
            break;
        case STORE__T_LIMIT:
            pack_kv_u64(p, f->key, *(const unsigned *)m);
            break;
        case STORE__T_I64:
            store__pack_str(p, f->key);
            msgpack_pack_int64(k, *(const int64_t *)m);
            break;
        case STORE__T_PROB:
            store__pack_str(p, f->key);
            msgpack_pack_double(k, *(const double *)m);
            break;
        case STORE__T_CAPACITY:
            store__pack_str(p, f->key);
            store__pack_capacity(p, (const struct store_capacity *)m);
            break;
        case STORE__T_LABELS:
            store__pack_str(p, f->key);
            msgpack_pack_map(k, cmd->u.resource_add.n_labels);
            for (unsigned i = 0; i < cmd->u.resource_add.n_labels; i++) {
                pack_kv_str(p, cmd->u.resource_add.labels[i].key,
                            cmd->u.resource_add.labels[i].value);
            }
            break;
        case STORE__T_LIST:
        case STORE__T_LIST_PRINCIPALS:
        case STORE__T_LIST_EDGES:
        case STORE__T_LIST_CLAIMS:
            if (cmd->u.list.after[0] != 0) {
                pack_kv_str(p, "after", cmd->u.list.after);
            }
            if ((f->type == STORE__T_LIST_EDGES ||
                 f->type == STORE__T_LIST_CLAIMS) &&
                cmd->u.list.filter[0] != 0) {
                pack_kv_str(p, f->key, cmd->u.list.filter);
            }
            if (cmd->u.list.limit != 0) {
                pack_kv_u64(p, "limit", cmd->u.list.limit);
            }
            break;
        case STORE__T_STRATEGY:
            pack_kv_str(p, f->key, store_strategy_name(*(const int *)m));
            break;
        case STORE__T_WF_STRATEGY:
            pack_kv_str(p, f->key,
                        store_strategy_name(cmd->u.workflow.strategy));
            break;
        case STORE__T_WF_REASON:
            pack_kv_str(p, f->key,
                        store_wf_reason_name(cmd->u.workflow.reason));
            break;
        case STORE__T_BOOL:
            store__pack_str(p, f->key);
            if (*(const bool *)m) {
                msgpack_pack_true(k);
            } else {
                msgpack_pack_false(k);
            }
            break;
        case STORE__T_APPROVED: /* the member holds its negation */
            store__pack_str(p, f->key);
            if (*(const bool *)m) {
                msgpack_pack_false(k);
            } else {
                msgpack_pack_true(k);
            }
            break;
        case STORE__T_WF_EVENT:
            pack_kv_str(p, f->key, store_wf_event_name(*(const int *)m));
            break;
        case STORE__T_SHADOW_STATE:
            pack_kv_str(p, f->key, store_shadow_state_name(*(const int *)m));
            break;
        case STORE__T_TEXT:
            pack_kv_str(p, f->key, m);
            break;
        case STORE__T_LIST_WORKFLOWS:
        case STORE__T_LIST_PAIRS:
            if (cmd->u.list.after[0] != 0) {
                pack_kv_str(p, "after", cmd->u.list.after);
            }
            if (f->type == STORE__T_LIST_WORKFLOWS &&
                cmd->u.list.filter[0] != 0) {
                pack_kv_str(p, f->key, cmd->u.list.filter);
            }
            if (cmd->u.list.limit != 0) {
                pack_kv_u64(p, "limit", cmd->u.list.limit);
            }
            break;
        case STORE__T_RESOURCES:
            store__pack_str(p, f->key);
            msgpack_pack_array(k, cmd->u.principal.n_resources);
            for (unsigned i = 0; i < cmd->u.principal.n_resources; i++) {
                store__pack_str(p, cmd->u.principal.resources[i]);
            }
            break;
        case STORE__T_WORKLOADS:
            store__pack_str(p, f->key);
            msgpack_pack_array(k, cmd->u.cohort.n_workloads);
            for (unsigned i = 0; i < cmd->u.cohort.n_workloads; i++) {
                store__pack_str(p, cmd->u.cohort.workloads[i]);
            }
            break;
        case STORE__T_SPREAD:
            pack_kv_str(p, f->key, store_spread_name(*(const int *)m));
            break;
        case STORE__T_MIN_RESILIENCE:
            store__pack_str(p, f->key);
            msgpack_pack_double(k, *(const double *)m);
            break;
    }
}

/* The argument map: the op's fields from common/ops.h, in order. */
static void encode_args(struct store__pack *p, const struct store_cmd *cmd)
{
    const struct store__field *f = store__op_fields(cmd->op);
    size_t n = 0;

    for (const struct store__field *g = f; g != NULL && g->key != NULL; g++) {
        n += field_entries(g, cmd);
    }
    msgpack_pack_map(&p->pk, n);
    for (; f != NULL && f->key != NULL; f++) {
        encode_field(p, f, cmd);
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
    msgpack_pack_map(&p.pk, cmd->has_principal ? 7 : 6);
    pack_kv_str(&p, "op", store_op_name(cmd->op));
    store__pack_str(&p, "args");
    encode_args(&p, cmd);
    pack_kv_u64(&p, "client", cmd->client);
    pack_kv_u64(&p, "seq", cmd->seq);
    pack_kv_u64(&p, "ack", cmd->ack);
    store__pack_str(&p, "time");
    msgpack_pack_int64(&p.pk, cmd->time_ms);
    if (cmd->has_principal) {
        store__pack_str(&p, "pk");
        msgpack_pack_bin_with_body(&p.pk, cmd->principal, STORE_PK_SIZE);
    }
    if (p.failed) {
        out->size = start;
        return AUGUR_ENOMEM;
    }
    return 0;
}

int store__cmd_digest(const struct store_cmd *cmd,
                      msgpack_sbuffer *scratch,
                      unsigned char out[STORE__CMD_DIGEST_SIZE])
{
    unsigned char op[2] = {(unsigned char)(cmd->op >> 8),
                           (unsigned char)cmd->op};
    crypto_generichash_state h;
    struct store__pack p;

    scratch->size = 0;
    store__pack_init(&p, scratch);
    encode_args(&p, cmd);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    crypto_generichash_init(&h, NULL, 0, STORE__CMD_DIGEST_SIZE);
    crypto_generichash_update(&h, op, sizeof op);
    crypto_generichash_update(&h, (const unsigned char *)scratch->data,
                              scratch->size);
    crypto_generichash_final(&h, out, STORE__CMD_DIGEST_SIZE);
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
