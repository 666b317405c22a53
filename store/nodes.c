/* Control-plane nodes: the addresses each node recorded (node.set), so that
 * any node can point a client at the leader, and the membership operators
 * asked for (the role), which Raft's configuration must follow. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A node record is the msgpack array [raft_address, client_address, role]
 * keyed by the BE node id; records written before roles were recorded have
 * only the two addresses (role ""). */

bool store_node_role_valid(const char *role)
{
    static const char *const roles[] = {"", "voter", "standby", "spare",
                                        "removed"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(role, roles[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int node_decode(struct store *s,
                       const MDB_val *k,
                       const MDB_val *v,
                       void *out)
{
    struct store_node *n = out;
    msgpack_object o;

    n->role[0] = '\0';
    if (k->mv_size != 8 || store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY ||
        (o.via.array.size != 2 && o.via.array.size != 3) ||
        store__obj_str(&o.via.array.ptr[0], n->raft_address,
                       sizeof n->raft_address) != 0 ||
        store__obj_str(&o.via.array.ptr[1], n->client_address,
                       sizeof n->client_address) != 0 ||
        (o.via.array.size == 3 &&
         (store__obj_str(&o.via.array.ptr[2], n->role, sizeof n->role) != 0 ||
          !store_node_role_valid(n->role)))) {
        return AUGUR_EMALFORMED;
    }
    n->id = store__be64_get(k->mv_data);
    return 0;
}

static void node_pack(struct store__pack *p, const struct store_node *n)
{
    msgpack_pack_map(&p->pk, n->role[0] != '\0' ? 4 : 3);
    store__pack_str(p, "id");
    msgpack_pack_uint64(&p->pk, n->id);
    store__pack_str(p, "raft_address");
    store__pack_str(p, n->raft_address);
    store__pack_str(p, "client_address");
    store__pack_str(p, n->client_address);
    if (n->role[0] != '\0') {
        store__pack_str(p, "role");
        store__pack_str(p, n->role);
    }
}

int store__node_set(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    unsigned char key[8];
    struct store__pack p;
    struct store_node n;
    int rv;

    memset(&n, 0, sizeof n);
    n.id = cmd->u.node.id;
    store__be64_put(key, n.id);
    /* What the command leaves out (no role, no client address) the record
     * keeps. */
    {
        MDB_val k = {.mv_size = sizeof key, .mv_data = key};
        MDB_val v;
        rv = store__get(s, txn, STORE__DB_NODES, key, sizeof key, &v);
        if (rv == 0 && node_decode(s, &k, &v, &n) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the record of node %" PRIu64 " is corrupt", n.id);
            return AUGUR_EIO;
        }
        if (rv != 0 && rv != AUGUR_ENOTFOUND) {
            return rv;
        }
    }
    memcpy(n.raft_address, cmd->u.node.raft_address, sizeof n.raft_address);
    if (cmd->u.node.client_address[0] != '\0') {
        memcpy(n.client_address, cmd->u.node.client_address,
               sizeof n.client_address);
    }
    if (cmd->u.node.role[0] != '\0') {
        memcpy(n.role, cmd->u.node.role, sizeof n.role);
    }
    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, n.role[0] != '\0' ? 3 : 2);
    store__pack_str(&p, n.raft_address);
    store__pack_str(&p, n.client_address);
    if (n.role[0] != '\0') {
        store__pack_str(&p, n.role);
    }
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    rv = store__put(s, txn, STORE__DB_NODES, key, sizeof key, s->value.data,
                    s->value.size);
    if (rv != 0) {
        return rv;
    }
    node_pack(&s->out, &n);
    return 0;
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    struct store_node n;

    (void)txn;
    (void)ctx;
    if (node_decode(s, k, v, &n) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "a node record is corrupt");
        return AUGUR_EIO;
    }
    node_pack(&s->list, &n);
    return 0;
}

int store__node_list(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    /* A handful of nodes: one page holds them all. */
    struct store__scan sc = {
        .db = STORE__DB_NODES,
        .limit = STORE_LIST_LIMIT_MAX,
        .item = list_item,
    };
    int rv;

    (void)cmd;
    rv = store__scan_page(s, txn, &sc);
    if (rv != 0) {
        return rv;
    }
    return store__list_finish(s, sc.n, NULL);
}

int store_node_client_address(struct store *s, uint64_t id, char *out)
{
    unsigned char key[8];
    struct store_node n;
    MDB_val k = {.mv_size = sizeof key, .mv_data = key};
    MDB_val v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    store__be64_put(key, id);
    rv = store__get(s, s->rtxn, STORE__DB_NODES, key, sizeof key, &v);
    if (rv == 0 && node_decode(s, &k, &v, &n) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the record of node %" PRIu64 " is corrupt", id);
        rv = AUGUR_EIO;
    }
    if (rv == 0 && n.client_address[0] == '\0') {
        rv = AUGUR_ENOTFOUND; /* recorded from Raft's configuration */
    }
    if (rv == 0) {
        memcpy(out, n.client_address, STORE_ADDR_SIZE);
    }
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store_node_records(struct store *s,
                       struct store_node *out,
                       size_t max,
                       size_t *n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, rv = 0;

    *n = 0;
    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rc = mdb_cursor_open(s->rtxn, s->dbi[STORE__DB_NODES], &cur);
    if (rc != 0) {
        rv = store__mdb_fail(s, rc, "mdb_cursor_open");
        goto out;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && *n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (node_decode(s, &k, &v, &out[*n]) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "a node record is corrupt");
            rv = AUGUR_EIO;
            break;
        }
        (*n)++;
    }
    if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND) {
        rv = store__mdb_fail(s, rc, "mdb_cursor_get");
    }
    mdb_cursor_close(cur);
out:
    mdb_txn_reset(s->rtxn);
    return rv;
}

const struct store__record store__node_record = {
    .db = STORE__DB_NODES,
    .what = "node",
    .decode = node_decode,
};
