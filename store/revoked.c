/* Revoked node keys: node keys the cluster no longer accepts from a peer,
 * whatever certificate they show (node.revoke).  The peer transport asks
 * here at every handshake, and the node closes the links of a key as soon
 * as its revocation applies. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* An entry is key hex (64 lowercase digits) -> the BE u64 id of the node
 * it was certified for (what the operator said when revoking it). */

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

static void revoked_pack(struct store__pack *p,
                         uint64_t id,
                         const char *key,
                         size_t key_len)
{
    msgpack_pack_map(&p->pk, 2);
    store__pack_str(p, "id");
    msgpack_pack_uint64(&p->pk, id);
    store__pack_str(p, "key");
    msgpack_pack_str_with_body(&p->pk, key, key_len);
}

int store__node_revoke(struct store *s,
                       MDB_txn *txn,
                       const struct store_cmd *cmd)
{
    const char *key = cmd->u.revoke.key;
    unsigned char id[8];
    MDB_val v;
    int rv;

    rv = store__get(s, txn, STORE__DB_REVOKED, key, strlen(key), &v);
    if (rv == 0) {
        return store__refuse(s, AUGUR_EEXIST,
                             "node.revoke: key %.16s... was revoked already",
                             key);
    }
    if (rv != AUGUR_ENOTFOUND) {
        return rv;
    }
    store__be64_put(id, cmd->u.revoke.id);
    rv = store__put(s, txn, STORE__DB_REVOKED, key, strlen(key), id, sizeof id);
    if (rv != 0) {
        return rv;
    }
    s->revoked_version++;
    revoked_pack(&s->out, cmd->u.revoke.id, key, strlen(key));
    return 0;
}

static int list_item(struct store *s,
                     MDB_txn *txn,
                     const MDB_val *k,
                     const MDB_val *v,
                     void *ctx)
{
    (void)txn;
    (void)ctx;
    if (store__revoked_entry_check(s, k, v) != 0) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "a revoked node key record is corrupt");
        return AUGUR_EIO;
    }
    revoked_pack(&s->list, store__be64_get(v->mv_data), k->mv_data, k->mv_size);
    return 0;
}

int store__node_revoked_list(struct store *s,
                             MDB_txn *txn,
                             const struct store_cmd *cmd)
{
    /* A handful of keys: one page holds them all. */
    struct store__scan sc = {
        .db = STORE__DB_REVOKED,
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

int store_node_key_revoked(struct store *s, const char *key_hex)
{
    MDB_val v;
    int rc;
    int rv;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        store__mdb_fail(s, rc, "mdb_txn_renew");
        return 1;
    }
    rv =
        store__get(s, s->rtxn, STORE__DB_REVOKED, key_hex, strlen(key_hex), &v);
    mdb_txn_reset(s->rtxn);
    return rv != AUGUR_ENOTFOUND;
}

unsigned store_node_revoked_count(struct store *s, uint64_t id)
{
    MDB_cursor *cur;
    MDB_val k, v;
    unsigned n = 0;
    int rc;

    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return 0;
    }
    if (store__cursor(s, s->rtxn, STORE__DB_REVOKED, &cur) == 0) {
        for (rc = store__step(s, cur, MDB_FIRST, &k, &v); rc == 0;
             rc = store__step(s, cur, MDB_NEXT, &k, &v)) {
            n += v.mv_size == 8 && store__be64_get(v.mv_data) == id;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_reset(s->rtxn);
    return n;
}

uint64_t store_revoked_version(struct store *s)
{
    return s->revoked_version;
}

int store__revoked_entry_check(struct store *s,
                               const MDB_val *k,
                               const MDB_val *v)
{
    (void)s;
    if (!key_hex_valid(k->mv_data, k->mv_size) || v->mv_size != 8 ||
        store__be64_get(v->mv_data) == 0) {
        return AUGUR_EMALFORMED;
    }
    return 0;
}
