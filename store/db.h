/* store/, above pack.h: LMDB at the edge (errors translated once), the meta
 * database, paged scans, refusals and list answers (db.c). */
#ifndef AUGUR_STORE_DB_H
#define AUGUR_STORE_DB_H

#include "store/pack.h"
#include "store/store_int.h"

/* ---- LMDB at the edge, refusals ---------------------------------------- */

/* Translate an LMDB error: log it, keep "@what: message" in s->errmsg and
 * return AUGUR_ENOMEM or AUGUR_EIO. */
int store__mdb_fail(struct store *s, int rc, const char *what);

/* Point lookups and updates.  store__get returns 0, AUGUR_ENOTFOUND or a
 * translated failure; @val is valid until the next write in @txn.
 * store__del returns AUGUR_ENOTFOUND for a missing key. */
int store__get(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen,
               MDB_val *val);
int store__put(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen,
               const void *val,
               size_t vlen);
int store__del(struct store *s,
               MDB_txn *txn,
               enum store__db db,
               const void *key,
               size_t klen);

/* Open a cursor on @db; the caller closes it with mdb_cursor_close. */
int store__cursor(struct store *s,
                  MDB_txn *txn,
                  enum store__db db,
                  MDB_cursor **cur);
/* Position @cur on the first key >= @key (MDB_SET_RANGE) or move it
 * (@op).  Returns 0, AUGUR_ENOTFOUND at the end, or a failure. */
int store__seek(struct store *s,
                MDB_cursor *cur,
                const void *key,
                size_t klen,
                MDB_val *k,
                MDB_val *v);
int store__step(struct store *s,
                MDB_cursor *cur,
                MDB_cursor_op op,
                MDB_val *k,
                MDB_val *v);

/* Refuse the current op: the answer carries @status and the message, and
 * nothing changes.  Returns 0 so that handlers can `return` it. */
int store__refuse(struct store *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The effective page size of a list. */
unsigned store__list_limit(unsigned limit);

/* Pack the list result {"items": [@n_items packed in s->items], "next":
 * @next or nil} as the current op's result. */
int store__list_finish(struct store *s, size_t n_items, const char *next);

/* One page of a list over the keys of @db that start with @prefix, from
 * the first key after prefix + @after (exclusive).  @item packs one item
 * into s->list; it sees the key without the prefix.  On return @n is the
 * number of items, @more tells whether another key follows, and @last
 * holds the last item's key (without the prefix): the next page's
 * cursor. */
struct store__scan
{
    enum store__db db;
    const void *prefix;
    size_t prefix_len;
    const void *after;
    size_t after_len;
    unsigned limit;
    int (*item)(struct store *s,
                MDB_txn *txn,
                const MDB_val *k,
                const MDB_val *v,
                void *ctx);
    void *ctx;
    size_t n;
    bool more;
    unsigned char last[STORE__KEY_MAX];
    size_t last_len;
};
int store__scan_page(struct store *s, MDB_txn *txn, struct store__scan *sc);
/* Finish a list whose cursor is the last key itself (an id). */
int store__scan_finish(struct store *s, const struct store__scan *sc);
/* The whole list op over @db keyed by id (no prefix, no context): one page
 * from cmd->u.list.after, finished with the last id as the cursor. */
int store__list_ids(struct store *s,
                    MDB_txn *txn,
                    const struct store_cmd *cmd,
                    enum store__db db,
                    int (*item)(struct store *s,
                                MDB_txn *txn,
                                const MDB_val *k,
                                const MDB_val *v,
                                void *ctx));

/* ---- records (struct store__record) ----------------------------------- */

/* Look up @key (NUL-terminated) in @r's database and decode it into @out.
 * 0, AUGUR_ENOTFOUND, or AUGUR_EIO when the value does not decode ("<what>
 * is corrupt" in s->errmsg). */
int store__record_load(struct store *s,
                       MDB_txn *txn,
                       const struct store__record *r,
                       const char *key,
                       void *out);
/* Whether a stored entry of @r's database decodes: 0 or AUGUR_EMALFORMED
 * (the snapshot's check of what it restores). */
int store__record_check(struct store *s,
                        const struct store__record *r,
                        const MDB_val *k,
                        const MDB_val *v);

/* ---- meta ------------------------------------------------------------- */

int store__meta_entry_check(struct store *s,
                            const MDB_val *k,
                            const MDB_val *v);
/* Read the revision recorded in @txn (0 when none). */
int store__meta_rev(struct store *s, MDB_txn *txn, uint64_t *rev);

/* Record @rev in @txn. */
int store__meta_rev_put(struct store *s, MDB_txn *txn, uint64_t rev);
/* Whether the first admin was recorded (principal.bootstrap). */
int store__meta_auth_get(struct store *s, MDB_txn *txn, bool *set);
int store__meta_auth_put(struct store *s, MDB_txn *txn);

#endif
