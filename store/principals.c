/* Principals: the public keys allowed to talk to the cluster, each with a
 * name and a role.  The server looks keys up here at every handshake. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A principal record is the msgpack array [key hex, role] keyed by name,
 * or [key hex, role, [resource, ...]] for an agent bound to resources (the
 * third element only then: records of other principals, and those written
 * before scopes existed, keep two and decode as before); the reverse index
 * maps the key to the name, so a key names one principal at most. */

static const char *const role_names[STORE_ROLE_COUNT] = {
    [STORE_ROLE_ADMIN] = "admin",
    [STORE_ROLE_OPERATOR] = "operator",
    [STORE_ROLE_AGENT] = "agent",
    [STORE_ROLE_READER] = "reader",
};

int store_role_parse(const char *name, size_t len)
{
    for (int i = 0; i < STORE_ROLE_COUNT; i++) {
        if (strlen(role_names[i]) == len &&
            memcmp(role_names[i], name, len) == 0) {
            return i;
        }
    }
    return -1;
}

const char *store_role_name(int role)
{
    return role >= 0 && role < STORE_ROLE_COUNT ? role_names[role] : NULL;
}

static bool key_hex_valid(const char *key, size_t len)
{
    if (len != STORE_KEY_HEX_SIZE - 1) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int principal_decode(struct store *s,
                            const MDB_val *k,
                            const MDB_val *v,
                            void *out)
{
    struct store__principal *p = out;
    const msgpack_object *list;
    msgpack_object o;
    uint64_t role;

    if (k->mv_size == 0 || k->mv_size >= STORE_ID_SIZE ||
        !store__id_valid(k->mv_data, k->mv_size) ||
        store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY ||
        (o.via.array.size != 2 && o.via.array.size != 3) ||
        store__obj_str(&o.via.array.ptr[0], p->key, sizeof p->key) != 0 ||
        !key_hex_valid(p->key, strlen(p->key)) ||
        store__obj_u64(&o.via.array.ptr[1], &role) != 0 ||
        role >= STORE_ROLE_COUNT) {
        return AUGUR_EMALFORMED;
    }
    memcpy(p->name, k->mv_data, k->mv_size);
    p->name[k->mv_size] = '\0';
    p->role = (int)role;
    p->n_resources = 0;
    if (o.via.array.size == 2) {
        return 0;
    }
    list = &o.via.array.ptr[2];
    if (role != STORE_ROLE_AGENT || list->type != MSGPACK_OBJECT_ARRAY ||
        list->via.array.size == 0 ||
        list->via.array.size > STORE_PRINCIPAL_RESOURCES_MAX) {
        return AUGUR_EMALFORMED;
    }
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        char *id = p->resources[i];
        if (store__obj_str(&list->via.array.ptr[i], id, STORE_ID_SIZE) != 0 ||
            !store__id_valid(id, strlen(id))) {
            return AUGUR_EMALFORMED;
        }
    }
    p->n_resources = list->via.array.size;
    return 0;
}

static void principal_pack(struct store__pack *pk,
                           const struct store__principal *p)
{
    msgpack_pack_map(&pk->pk, p->n_resources > 0 ? 4 : 3);
    store__pack_str(pk, "name");
    store__pack_str(pk, p->name);
    store__pack_str(pk, "key");
    store__pack_str(pk, p->key);
    store__pack_str(pk, "role");
    store__pack_str(pk, role_names[p->role]);
    if (p->n_resources > 0) {
        store__pack_str(pk, "resources");
        msgpack_pack_array(&pk->pk, p->n_resources);
        for (unsigned i = 0; i < p->n_resources; i++) {
            store__pack_str(pk, p->resources[i]);
        }
    }
}

const struct store__record store__principal_record = {
    .db = STORE__DB_PRINCIPALS,
    .what = "principal",
    .decode = principal_decode,
};

static int principal_load(struct store *s,
                          MDB_txn *txn,
                          const char *name,
                          struct store__principal *p)
{
    return store__record_load(s, txn, &store__principal_record, name, p);
}

/* Record @p; refusals for a taken name or key. */
static int principal_insert(struct store *s,
                            MDB_txn *txn,
                            const struct store__principal *p,
                            const char *op)
{
    struct store__principal old;
    struct store__pack pk;
    MDB_val v;
    int rv;

    rv = principal_load(s, txn, p->name, &old);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST, "%s: principal %s already exists",
                             op, p->name);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    rv = store__get(s, txn, STORE__DB_PRINCIPAL_KEYS, p->key, strlen(p->key),
                    &v);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST,
                             "%s: key %.16s... already belongs to principal "
                             "%.*s",
                             op, p->key, (int)v.mv_size,
                             (const char *)v.mv_data);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    s->value.size = 0;
    store__pack_init(&pk, &s->value);
    msgpack_pack_array(&pk.pk, p->n_resources > 0 ? 3 : 2);
    store__pack_str(&pk, p->key);
    msgpack_pack_uint64(&pk.pk, (uint64_t)p->role);
    if (p->n_resources > 0) {
        msgpack_pack_array(&pk.pk, p->n_resources);
        for (unsigned i = 0; i < p->n_resources; i++) {
            store__pack_str(&pk, p->resources[i]);
        }
    }
    if (pk.failed) {
        return AUGUR_ENOMEM;
    }
    rv = store__put(s, txn, STORE__DB_PRINCIPALS, p->name, strlen(p->name),
                    s->value.data, s->value.size);
    if (rv == 0) {
        rv = store__put(s, txn, STORE__DB_PRINCIPAL_KEYS, p->key,
                        strlen(p->key), p->name, strlen(p->name));
    }
    if (rv != 0) {
        return rv;
    }
    s->principals_version++;
    principal_pack(&s->out, p);
    return 0;
}

int store__principal_add(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    struct store__principal p;

    memset(&p, 0, sizeof p);
    memcpy(p.name, cmd->u.principal.name, sizeof p.name);
    memcpy(p.key, cmd->u.principal.key, sizeof p.key);
    p.role = cmd->u.principal.role;
    p.n_resources = cmd->u.principal.n_resources;
    memcpy(p.resources, cmd->u.principal.resources, sizeof p.resources);
    return principal_insert(s, txn, &p, store_op_name(STORE_OP_PRINCIPAL_ADD));
}

int store__principal_bootstrap(struct store *s,
                               MDB_txn *txn,
                               const struct store_cmd *cmd)
{
    struct store__principal p;
    bool done;
    int rv;

    rv = store__meta_auth_get(s, txn, &done);
    if (rv != 0) {
        return rv;
    }
    if (done) {
        return store__refuse(s, AUGUR_EEXIST,
                             "principal.bootstrap: the first admin was "
                             "recorded already");
    }
    memset(&p, 0, sizeof p);
    memcpy(p.name, cmd->u.principal.name, sizeof p.name);
    memcpy(p.key, cmd->u.principal.key, sizeof p.key);
    p.role = STORE_ROLE_ADMIN;
    rv = principal_insert(s, txn, &p,
                          store_op_name(STORE_OP_PRINCIPAL_BOOTSTRAP));
    if (rv == 0 && s->status == 0) {
        rv = store__meta_auth_put(s, txn);
    }
    return rv;
}

/* How many admins there are, counting up to @enough at most. */
static int admins_count(struct store *s,
                        MDB_txn *txn,
                        unsigned enough,
                        unsigned *n)
{
    struct store__principal p;
    MDB_cursor *cur;
    MDB_val k, v;
    int rv;

    *n = 0;
    rv = store__cursor(s, txn, STORE__DB_PRINCIPALS, &cur);
    if (rv != 0) {
        return rv;
    }
    for (rv = store__step(s, cur, MDB_FIRST, &k, &v); rv == 0 && *n < enough;
         rv = store__step(s, cur, MDB_NEXT, &k, &v)) {
        if (principal_decode(s, &k, &v, &p) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "a principal record is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        *n += p.role == STORE_ROLE_ADMIN;
    }
    mdb_cursor_close(cur);
    return rv == AUGUR_ENOTFOUND ? 0 : rv;
}

int store__principal_remove(struct store *s,
                            MDB_txn *txn,
                            const struct store_cmd *cmd)
{
    unsigned admins;
    struct store__principal p;
    int rv;

    rv = principal_load(s, txn, cmd->u.principal.name, &p);
    if (rv == AUGUR_ENOTFOUND) {
        return store__refuse(s, AUGUR_ENOTFOUND,
                             "principal.remove: no principal %s",
                             cmd->u.principal.name);
    }
    if (rv != 0) {
        return rv;
    }
    /* Without an admin nobody could add one again: the cluster would be
     * locked out for good. */
    if (p.role == STORE_ROLE_ADMIN) {
        rv = admins_count(s, txn, 2, &admins);
        if (rv != 0) {
            return rv;
        }
        if (admins < 2) {
            return store__refuse(s, AUGUR_EINVAL,
                                 "principal.remove: %s is the last admin: add "
                                 "another admin first",
                                 p.name);
        }
    }
    rv = store__del(s, txn, STORE__DB_PRINCIPALS, p.name, strlen(p.name));
    if (rv == 0) {
        rv = store__del(s, txn, STORE__DB_PRINCIPAL_KEYS, p.key, strlen(p.key));
    }
    if (rv != 0) {
        return rv == AUGUR_ENOTFOUND ? AUGUR_EIO : rv;
    }
    s->principals_version++;
    principal_pack(&s->out, &p);
    return 0;
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store__principal p;

    (void)txn;
    (void)ctx;
    if (principal_decode(s, k, v, &p) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a principal record is corrupt");
        return AUGUR_EIO;
    }
    principal_pack(&s->list, &p);
    return 0;
}

int store__principal_list(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    return store__list_ids(s, txn, cmd, STORE__DB_PRINCIPALS, list_item);
}

/* The principal holding @key_hex in @txn: 0, AUGUR_ENOTFOUND or AUGUR_EIO
 * (a corrupt index or record, an LMDB error). */
static int principal_by_key(struct store *s,
                            MDB_txn *txn,
                            const char *key_hex,
                            struct store__principal *p)
{
    char n[STORE_ID_SIZE];
    MDB_val v;
    int rv;

    rv = store__get(s, txn, STORE__DB_PRINCIPAL_KEYS, key_hex, strlen(key_hex),
                    &v);
    if (rv != 0) {
        return rv == AUGUR_ENOTFOUND ? rv : AUGUR_EIO;
    }
    if (v.mv_size == 0 || v.mv_size >= sizeof n) {
        return AUGUR_EIO;
    }
    memcpy(n, v.mv_data, v.mv_size);
    n[v.mv_size] = '\0';
    rv = principal_load(s, txn, n, p);
    if (rv == AUGUR_ENOTFOUND) {
        return AUGUR_EIO; /* the index points nowhere */
    }
    if (rv != 0) {
        return AUGUR_EIO;
    }
    return strcmp(p->key, key_hex) == 0 ? 0 : AUGUR_EIO;
}

int store_principal_find(struct store *s,
                         const char *key_hex,
                         char *name,
                         int *role)
{
    struct store__principal p;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = principal_by_key(s, s->rtxn, key_hex, &p);
    if (rv == 0) {
        memcpy(name, p.name, STORE_ID_SIZE);
        *role = p.role;
    }
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store_principal_scope(struct store *s,
                          const char *key_hex,
                          const char *resource)
{
    struct store__principal p;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = principal_by_key(s, s->rtxn, key_hex, &p);
    mdb_txn_reset(s->rtxn);
    if (rv != 0) {
        return rv;
    }
    if (p.role == STORE_ROLE_READER) {
        return AUGUR_EPERM; /* reads only: reporting is a kind of write */
    }
    if (p.role != STORE_ROLE_AGENT) {
        return 0;
    }
    for (unsigned i = 0; i < p.n_resources; i++) {
        if (strcmp(p.resources[i], resource) == 0) {
            return 0;
        }
    }
    return AUGUR_EPERM;
}

enum augur_role_rank store_role_rank(int role)
{
    switch (role) {
        case STORE_ROLE_ADMIN:
            return AUGUR_ROLE_ADMIN;
        case STORE_ROLE_OPERATOR:
            return AUGUR_ROLE_OPERATOR;
        case STORE_ROLE_READER:
            return AUGUR_ROLE_READER;
        default:
            /* agent: telemetry of the resources it is bound to (the
             * node's report handler checks which). */
            return AUGUR_ROLE_AGENT;
    }
}

/* The op's row in common/ops.h, by store op. */
static enum augur_role_rank op_role(enum store_op op)
{
    switch (op) {
#define OP_ROLE__CASE(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    case STORE_OP_##ID:                                           \
        return AUGUR_ROLE_##ROLE;
        AUGUR_STORE_OPS(OP_ROLE__CASE)
#undef OP_ROLE__CASE
        default:
            return AUGUR_ROLE_INTERNAL;
    }
}

int store__principal_check(struct store *s,
                           MDB_txn *txn,
                           const struct store_cmd *cmd)
{
    char hex[STORE_KEY_HEX_SIZE];
    struct store__principal p;
    int rv;

    s->principal[0] = '\0';
    if (!cmd->has_principal) {
        return 0;
    }
    sodium_bin2hex(hex, sizeof hex, cmd->principal, STORE_PK_SIZE);
    rv = principal_by_key(s, txn, hex, &p);
    if (rv == AUGUR_ENOTFOUND) {
        /* Removed after the leader accepted the command, or accepted by a
         * node that had not applied the removal: either way it is not a
         * principal in the state this command applies to. */
        return store__refuse(s, AUGUR_EAUTH,
                             "key %.16s... is not a principal of this "
                             "cluster (any more): nothing applied",
                             hex);
    }
    if (rv != 0) {
        /* Fail closed: a command whose sender cannot be looked up does not
         * apply, and the node cannot go on with a store it cannot read. */
        snprintf(s->errmsg, sizeof s->errmsg,
                 "cannot look up the principal of key %.16s...", hex);
        return AUGUR_EIO;
    }
    if (store_role_rank(p.role) < op_role(cmd->op) ||
        op_role(cmd->op) == AUGUR_ROLE_INTERNAL) {
        return store__refuse(s, AUGUR_EPERM,
                             "principal %s (role %s) may not call '%s': "
                             "nothing applied",
                             p.name, role_names[p.role],
                             store_op_name(cmd->op));
    }
    memcpy(s->principal, p.name, sizeof s->principal);
    return 0;
}

int store_principals_bootstrapped(struct store *s, bool *done)
{
    int rc = mdb_txn_renew(s->rtxn);
    int rv;

    *done = false;
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = store__meta_auth_get(s, s->rtxn, done);
    mdb_txn_reset(s->rtxn);
    return rv;
}

uint64_t store_principals_version(struct store *s)
{
    return s->principals_version;
}

int store__principal_key_entry_check(struct store *s,
                                     const MDB_val *k,
                                     const MDB_val *v)
{
    (void)s;
    if (!key_hex_valid(k->mv_data, k->mv_size) || v->mv_size == 0 ||
        v->mv_size >= STORE_ID_SIZE ||
        !store__id_valid(v->mv_data, v->mv_size)) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}
