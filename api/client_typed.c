/* libaugur's typed helpers: the claim, resource, workload and events calls
 * packed for the caller, and the readers of msgpack maps they use. */
#include "api/client_int.h"
#include "common/ops.h"

#include <stdio.h>
#include <string.h>

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Typed helpers refuse before packing when memory runs out. */
static int helper_nomem(struct augur_client *c,
                        msgpack_sbuffer *args,
                        const char *op)
{
    char reason[AUGUR_ERRMSG_SIZE];

    msgpack_sbuffer_destroy(args);
    snprintf(reason, sizeof reason, "%s: out of memory", op);
    client__seterr(c, AUGUR_ENOMEM, reason);
    return AUGUR_ENOMEM;
}

int augur_events(struct augur_client *c,
                 uint64_t from,
                 unsigned limit,
                 unsigned wait_ms,
                 unsigned flags,
                 struct augur_reply *reply)
{
    msgpack_sbuffer args;
    msgpack_packer pk;
    int status;

    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, limit != 0 ? 2 : 1) != 0 ||
        pack_cstr(&pk, "from") != 0 || msgpack_pack_uint64(&pk, from) != 0 ||
        (limit != 0 && (pack_cstr(&pk, "limit") != 0 ||
                        msgpack_pack_unsigned_int(&pk, limit) != 0))) {
        memset(reply, 0, sizeof *reply);
        reply->status = helper_nomem(c, &args, "events");
        snprintf(reply->error, sizeof reply->error, "events: out of memory");
        return reply->status;
    }
    status = client__call(c, "events", args.data, args.size, flags,
                          (uint32_t)wait_ms, reply);
    msgpack_sbuffer_destroy(&args);
    return status;
}

/* Fill @out from a claim object.  AUGUR_EPROTO when it is not one. */
static int claim_parse(const msgpack_object *o, struct augur_claim *out)
{
    struct augur_claim claim;

    memset(&claim, 0, sizeof claim);
    if (o == NULL ||
        augur_map_str(o, "workload", claim.workload, sizeof claim.workload) !=
            0 ||
        augur_map_str(o, "host", claim.host, sizeof claim.host) != 0 ||
        augur_map_u64(o, "epoch", &claim.epoch) != 0) {
        return AUGUR_EPROTO;
    }
    if (out != NULL) {
        *out = claim;
    }
    return 0;
}

/* Call a claim op with the packed @args (consumed) and read the claim of its
 * answer into @out, on success and on a conflict (the holder). */
static int claim_call(struct augur_client *c,
                      const char *op,
                      msgpack_sbuffer *args,
                      unsigned flags,
                      struct augur_claim *out)
{
    struct augur_reply reply;
    int status;

    status = augur_call(c, op, args->data, args->size, flags, &reply);
    msgpack_sbuffer_destroy(args);
    if ((status == 0 || status == AUGUR_ECONFLICT) &&
        claim_parse(reply.result, out) != 0 && status == 0) {
        char reason[AUGUR_ERRMSG_SIZE];

        snprintf(reason, sizeof reason, "%s: the answer carries no claim", op);
        client__seterr(c, AUGUR_EPROTO, reason);
        status = AUGUR_EPROTO;
    }
    augur_reply_free(&reply);
    return status;
}

static int refuse_null(struct augur_client *c, const char *op, const char *what)
{
    char reason[AUGUR_ERRMSG_SIZE];

    snprintf(reason, sizeof reason, "%s: no %s given", op, what);
    client__seterr(c, AUGUR_EINVAL, reason);
    return AUGUR_EINVAL;
}

int augur_claim_acquire(struct augur_client *c,
                        const char *workload,
                        const char *host,
                        struct augur_claim *out)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_ACQUIRE);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (workload == NULL) {
        return refuse_null(c, op, "workload");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, host != NULL ? 2 : 1) != 0 ||
        pack_cstr(&pk, "workload") != 0 || pack_cstr(&pk, workload) != 0 ||
        (host != NULL &&
         (pack_cstr(&pk, "host") != 0 || pack_cstr(&pk, host) != 0))) {
        return helper_nomem(c, &args, op);
    }
    return claim_call(c, op, &args, 0, out);
}

int augur_claim_transfer(struct augur_client *c,
                         const char *workload,
                         const char *to,
                         uint64_t epoch,
                         struct augur_claim *out)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_TRANSFER);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (workload == NULL || to == NULL) {
        return refuse_null(c, op, workload == NULL ? "workload" : "target");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "workload") != 0 ||
        pack_cstr(&pk, workload) != 0 || pack_cstr(&pk, "to") != 0 ||
        pack_cstr(&pk, to) != 0 || pack_cstr(&pk, "epoch") != 0 ||
        msgpack_pack_uint64(&pk, epoch) != 0) {
        return helper_nomem(c, &args, op);
    }
    return claim_call(c, op, &args, 0, out);
}

int augur_claim_release(struct augur_client *c,
                        const char *workload,
                        uint64_t epoch)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_RELEASE);
    msgpack_sbuffer args;
    msgpack_packer pk;
    struct augur_reply reply;
    int status;

    if (workload == NULL) {
        return refuse_null(c, op, "workload");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 2) != 0 || pack_cstr(&pk, "workload") != 0 ||
        pack_cstr(&pk, workload) != 0 || pack_cstr(&pk, "epoch") != 0 ||
        msgpack_pack_uint64(&pk, epoch) != 0) {
        return helper_nomem(c, &args, op);
    }
    status = augur_call(c, op, args.data, args.size, 0, &reply);
    msgpack_sbuffer_destroy(&args);
    augur_reply_free(&reply);
    return status;
}

int augur_claim_get(struct augur_client *c,
                    const char *workload,
                    unsigned flags,
                    struct augur_claim *out)
{
    const char *op = augur_op_wire(AUGUR_OP_CLAIM_GET);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (workload == NULL) {
        return refuse_null(c, op, "workload");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 1) != 0 || pack_cstr(&pk, "workload") != 0 ||
        pack_cstr(&pk, workload) != 0) {
        return helper_nomem(c, &args, op);
    }
    return claim_call(c, op, &args, flags, out);
}

static int pack_capacity(msgpack_packer *pk,
                         const char *key,
                         uint64_t cpu,
                         uint64_t mem_mb)
{
    return pack_cstr(pk, key) != 0 || msgpack_pack_map(pk, 2) != 0 ||
           pack_cstr(pk, "cpu") != 0 || msgpack_pack_uint64(pk, cpu) != 0 ||
           pack_cstr(pk, "mem_mb") != 0 || msgpack_pack_uint64(pk, mem_mb) != 0;
}

/* Call a write whose result the helper does not return. */
static int plain_call(struct augur_client *c,
                      const char *op,
                      msgpack_sbuffer *args)
{
    struct augur_reply reply;
    int status;

    status = augur_call(c, op, args->data, args->size, 0, &reply);
    msgpack_sbuffer_destroy(args);
    augur_reply_free(&reply);
    return status;
}

int augur_resource_add(struct augur_client *c,
                       const char *id,
                       const char *kind,
                       uint64_t cpu,
                       uint64_t mem_mb)
{
    const char *op = augur_op_wire(AUGUR_OP_RESOURCE_ADD);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (id == NULL || kind == NULL) {
        return refuse_null(c, op, id == NULL ? "id" : "kind");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "id") != 0 ||
        pack_cstr(&pk, id) != 0 || pack_cstr(&pk, "kind") != 0 ||
        pack_cstr(&pk, kind) != 0 ||
        pack_capacity(&pk, "capacity", cpu, mem_mb) != 0) {
        return helper_nomem(c, &args, op);
    }
    return plain_call(c, op, &args);
}

int augur_workload_add(struct augur_client *c,
                       const char *id,
                       uint64_t cpu,
                       uint64_t mem_mb,
                       int64_t priority)
{
    const char *op = augur_op_wire(AUGUR_OP_WORKLOAD_ADD);
    msgpack_sbuffer args;
    msgpack_packer pk;

    if (id == NULL) {
        return refuse_null(c, op, "id");
    }
    msgpack_sbuffer_init(&args);
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, 3) != 0 || pack_cstr(&pk, "id") != 0 ||
        pack_cstr(&pk, id) != 0 ||
        pack_capacity(&pk, "demand", cpu, mem_mb) != 0 ||
        pack_cstr(&pk, "priority") != 0 ||
        msgpack_pack_int64(&pk, priority) != 0) {
        return helper_nomem(c, &args, op);
    }
    return plain_call(c, op, &args);
}

/* Map helpers. */

const msgpack_object *augur_map_get(const msgpack_object *map, const char *key)
{
    size_t n;

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

int augur_map_str(const msgpack_object *map,
                  const char *key,
                  char *out,
                  size_t size)
{
    const msgpack_object *v = augur_map_get(map, key);

    if (v == NULL || v->type != MSGPACK_OBJECT_STR) {
        return AUGUR_ENOTFOUND;
    }
    if (v->via.str.size >= size) {
        if (size > 0) {
            out[0] = '\0';
        }
        return AUGUR_ETOOBIG;
    }
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return 0;
}

int augur_map_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    const msgpack_object *v = augur_map_get(map, key);

    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return AUGUR_ENOTFOUND;
    }
    *out = v->via.u64;
    return 0;
}
