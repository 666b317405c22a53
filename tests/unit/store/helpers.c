/* Shared fixtures of store/'s unit tests. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

void fx_open(struct fx *f)
{
    char errmsg[STORE_ERRMSG_SIZE];

    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/augur-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(store_open(f->dir, STORE_OPEN_RESET, &f->s, errmsg), 0);
    msgpack_sbuffer_init(&f->answer);
    msgpack_unpacked_init(&f->u);
    f->time_ms = 1700000000000;
}

void fx_close(struct fx *f)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[128];

    store_close(f->s);
    f->s = NULL;
    msgpack_sbuffer_destroy(&f->answer);
    msgpack_unpacked_destroy(&f->u);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(f->dir), 0);
}

void fx_raw_put(struct fx *f,
                const char *db,
                const void *key,
                size_t klen,
                const void *val,
                size_t vlen)
{
    char errmsg[STORE_ERRMSG_SIZE];
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    store_close(f->s);
    f->s = NULL;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t)64 << 30), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(store_open(f->dir, 0, &f->s, errmsg), 0);
}

int fx_setup(void **state)
{
    struct fx *f = malloc(sizeof *f);

    assert_non_null(f);
    fx_open(f);
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    struct fx *f = *state;

    fx_close(f);
    free(f);
    return 0;
}

static void unpack_answer(struct fx *f)
{
    size_t off = 0;

    assert_int_equal(
        msgpack_unpack_next(&f->u, f->answer.data, f->answer.size, &off),
        MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, f->answer.size);
    assert_int_equal(f->u.data.type, MSGPACK_OBJECT_MAP);
}

int fx_apply(struct fx *f, struct store_cmd *cmd)
{
    if (cmd->time_ms == 0) {
        cmd->time_ms = f->time_ms;
    }
    f->answer.size = 0;
    assert_int_equal(store_apply(f->s, cmd, &f->answer), 0);
    unpack_answer(f);
    return ans_status(f);
}

int fx_read(struct fx *f, const struct store_cmd *cmd)
{
    f->answer.size = 0;
    assert_int_equal(store_read(f->s, cmd, &f->answer), 0);
    unpack_answer(f);
    return ans_status(f);
}

int fx_apply_raw(struct fx *f, const void *buf, size_t len)
{
    f->answer.size = 0;
    assert_int_equal(store_apply_raw(f->s, buf, len, &f->answer), 0);
    unpack_answer(f);
    return ans_status(f);
}

const msgpack_object *obj_get(const msgpack_object *map, const char *key)
{
    size_t klen = strlen(key);

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR &&
            kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0) {
            return &kv->val;
        }
    }
    return NULL;
}

uint64_t obj_u64(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = obj_get(map, key);

    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return o->via.u64;
}

bool obj_is_nil(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = obj_get(map, key);

    assert_non_null(o);
    return o->type == MSGPACK_OBJECT_NIL;
}

void assert_obj_str(const msgpack_object *map,
                    const char *key,
                    const char *want)
{
    const msgpack_object *o = obj_get(map, key);
    char got[512];

    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_true(o->via.str.size < sizeof got);
    memcpy(got, o->via.str.ptr, o->via.str.size);
    got[o->via.str.size] = 0;
    assert_string_equal(got, want);
}

uint32_t obj_len(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = obj_get(map, key);

    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
    return o->via.array.size;
}

int ans_status(const struct fx *f)
{
    const msgpack_object *o = obj_get(&f->u.data, "status");

    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return (int)o->via.u64;
}

uint64_t ans_rev(const struct fx *f)
{
    return obj_u64(&f->u.data, "rev");
}

const char *ans_error(const struct fx *f)
{
    static char msg[STORE_ERRMSG_SIZE];
    const msgpack_object *o = obj_get(&f->u.data, "error");

    msg[0] = 0;
    if (o != NULL) {
        assert_int_equal(o->type, MSGPACK_OBJECT_STR);
        assert_true(o->via.str.size < sizeof msg);
        memcpy(msg, o->via.str.ptr, o->via.str.size);
        msg[o->via.str.size] = 0;
    }
    return msg;
}

const msgpack_object *ans_result(const struct fx *f)
{
    return obj_get(&f->u.data, "result");
}

/* ---- builders --------------------------------------------------------- */

static void copy(char *dst, size_t size, const char *src)
{
    assert_true(strlen(src) < size);
    memcpy(dst, src, strlen(src) + 1);
}

void cmd_resource_add(struct store_cmd *c,
                      const char *id,
                      const char *kind,
                      uint64_t cpu,
                      uint64_t mem)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_RESOURCE_ADD;
    copy(c->u.resource_add.id, sizeof c->u.resource_add.id, id);
    copy(c->u.resource_add.kind, sizeof c->u.resource_add.kind, kind);
    c->u.resource_add.capacity.cpu = cpu;
    c->u.resource_add.capacity.mem_mb = mem;
}

void cmd_set_state(struct store_cmd *c, const char *id, int state)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_RESOURCE_SET_STATE;
    copy(c->u.set_state.id, sizeof c->u.set_state.id, id);
    c->u.set_state.state = state;
}

void cmd_workload_add(struct store_cmd *c,
                      const char *id,
                      uint64_t cpu,
                      uint64_t mem)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_WORKLOAD_ADD;
    copy(c->u.workload_add.id, sizeof c->u.workload_add.id, id);
    c->u.workload_add.demand.cpu = cpu;
    c->u.workload_add.demand.mem_mb = mem;
}

void cmd_edge(struct store_cmd *c,
              enum store_op op,
              const char *from,
              const char *to,
              int kind)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    copy(c->u.edge.from, sizeof c->u.edge.from, from);
    copy(c->u.edge.to, sizeof c->u.edge.to, to);
    c->u.edge.kind = kind;
}

void cmd_acquire(struct store_cmd *c, const char *workload, const char *host)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_CLAIM_ACQUIRE;
    copy(c->u.acquire.workload, sizeof c->u.acquire.workload, workload);
    if (host != NULL) {
        copy(c->u.acquire.host, sizeof c->u.acquire.host, host);
    }
}

void cmd_transfer(struct store_cmd *c,
                  const char *workload,
                  const char *to,
                  uint64_t epoch)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_CLAIM_TRANSFER;
    copy(c->u.transfer.workload, sizeof c->u.transfer.workload, workload);
    copy(c->u.transfer.to, sizeof c->u.transfer.to, to);
    c->u.transfer.epoch = epoch;
}

void cmd_release(struct store_cmd *c, const char *workload, uint64_t epoch)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_CLAIM_RELEASE;
    copy(c->u.release.workload, sizeof c->u.release.workload, workload);
    c->u.release.epoch = epoch;
}

void cmd_score(struct store_cmd *c, const char *id, double p)
{
    memset(c, 0, sizeof *c);
    c->op = STORE_OP_SCORE_SET;
    copy(c->u.score.id, sizeof c->u.score.id, id);
    c->u.score.p = p;
    c->u.score.window_s = 3600;
}

void cmd_get(struct store_cmd *c, enum store_op op, const char *id)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    copy(c->u.get.id, sizeof c->u.get.id, id);
}

void cmd_list(struct store_cmd *c,
              enum store_op op,
              const char *after,
              const char *filter,
              unsigned limit)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    if (after != NULL) {
        copy(c->u.list.after, sizeof c->u.list.after, after);
    }
    if (filter != NULL) {
        copy(c->u.list.filter, sizeof c->u.list.filter, filter);
    }
    c->u.list.limit = limit;
}

/* ---- one-line writes -------------------------------------------------- */

int add_resource(struct fx *f,
                 const char *id,
                 const char *kind,
                 uint64_t cpu,
                 uint64_t mem)
{
    struct store_cmd c;
    cmd_resource_add(&c, id, kind, cpu, mem);
    return fx_apply(f, &c);
}

int add_host(struct fx *f, const char *id, uint64_t cpu, uint64_t mem)
{
    return add_resource(f, id, "host", cpu, mem);
}

int add_workload(struct fx *f, const char *id, uint64_t cpu, uint64_t mem)
{
    struct store_cmd c;
    cmd_workload_add(&c, id, cpu, mem);
    return fx_apply(f, &c);
}

int set_state(struct fx *f, const char *id, int state)
{
    struct store_cmd c;
    cmd_set_state(&c, id, state);
    return fx_apply(f, &c);
}

int set_score(struct fx *f, const char *id, double p)
{
    struct store_cmd c;
    cmd_score(&c, id, p);
    return fx_apply(f, &c);
}

int add_edge(struct fx *f, const char *from, const char *to)
{
    struct store_cmd c;
    cmd_edge(&c, STORE_OP_EDGE_ADD, from, to, STORE_EDGE_POWER);
    return fx_apply(f, &c);
}

int acquire(struct fx *f, const char *workload, const char *host)
{
    struct store_cmd c;
    cmd_acquire(&c, workload, host);
    return fx_apply(f, &c);
}

int transfer(struct fx *f, const char *workload, const char *to, uint64_t epoch)
{
    struct store_cmd c;
    cmd_transfer(&c, workload, to, epoch);
    return fx_apply(f, &c);
}

int release(struct fx *f, const char *workload, uint64_t epoch)
{
    struct store_cmd c;
    cmd_release(&c, workload, epoch);
    return fx_apply(f, &c);
}

int get_resource(struct fx *f, const char *id)
{
    struct store_cmd c;
    cmd_get(&c, STORE_OP_RESOURCE_GET, id);
    return fx_read(f, &c);
}

int get_claim(struct fx *f, const char *workload)
{
    struct store_cmd c;
    cmd_get(&c, STORE_OP_CLAIM_GET, workload);
    return fx_read(f, &c);
}
