/* Control-plane nodes: the addresses each node recorded (node.set), so that
 * any node can point a client at the leader. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/store_int.h"

/* A node record is the msgpack array [raft_address, client_address] keyed
 * by the BE node id. */

struct node
{
    uint64_t id;
    char raft_address[STORE_ADDR_SIZE];
    char client_address[STORE_ADDR_SIZE];
};

static int node_decode(struct store *s,
                       const MDB_val *k,
                       const MDB_val *v,
                       struct node *n)
{
    msgpack_object o;

    if (k->mv_size != 8 || store__unpack(s, v->mv_data, v->mv_size, &o) != 0 ||
        o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
        store__obj_str(&o.via.array.ptr[0], n->raft_address,
                       sizeof n->raft_address) != 0 ||
        store__obj_str(&o.via.array.ptr[1], n->client_address,
                       sizeof n->client_address) != 0) {
        return AUGUR_EMALFORMED;
    }
    n->id = store__be64_get(k->mv_data);
    return 0;
}

static void node_pack(struct store__pack *p, const struct node *n)
{
    msgpack_pack_map(&p->pk, 3);
    store__pack_str(p, "id");
    msgpack_pack_uint64(&p->pk, n->id);
    store__pack_str(p, "raft_address");
    store__pack_str(p, n->raft_address);
    store__pack_str(p, "client_address");
    store__pack_str(p, n->client_address);
}

int store__node_set(struct store *s, MDB_txn *txn, const struct store_cmd *cmd)
{
    unsigned char key[8];
    struct store__pack p;
    struct node n;
    int rv;

    memset(&n, 0, sizeof n);
    n.id = cmd->u.node.id;
    memcpy(n.raft_address, cmd->u.node.raft_address, sizeof n.raft_address);
    memcpy(n.client_address, cmd->u.node.client_address,
           sizeof n.client_address);
    s->value.size = 0;
    store__pack_init(&p, &s->value);
    msgpack_pack_array(&p.pk, 2);
    store__pack_str(&p, n.raft_address);
    store__pack_str(&p, n.client_address);
    if (p.failed) {
        return AUGUR_ENOMEM;
    }
    store__be64_put(key, n.id);
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
    struct node n;

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
    struct node n;
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
    if (rv == 0) {
        memcpy(out, n.client_address, STORE_ADDR_SIZE);
    }
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store__node_entry_check(struct store *s, const MDB_val *k, const MDB_val *v)
{
    struct node n;
    return node_decode(s, k, v, &n);
}
