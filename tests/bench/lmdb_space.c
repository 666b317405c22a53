/* augur-lmdb-space: how much of an LMDB file is live data, for
 * tests/bench/scale.  Opens the environment read-only next to the augurd that
 * writes it (LMDB readers in another process are safe) and prints one JSON
 * object: the file's size on disk (its blocks: with MDB_WRITEMAP the file is
 * as long as the map, and sparse), the pages the map has used (last_pgno +
 * 1), and
 * the live data, the pages that hold the named databases, the main database
 * and the free list (branch + leaf + overflow pages of each).  The rest of
 * the file is free pages kept for reuse. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

static uint64_t stat_pages(const MDB_stat *st)
{
    return (uint64_t)st->ms_branch_pages + st->ms_leaf_pages +
           st->ms_overflow_pages;
}

int main(int argc, char **argv)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_envinfo info;
    MDB_stat st;
    MDB_val key, val;
    MDB_dbi main_dbi;
    uint64_t live_pages = 0, free_pages = 0;
    char path[4096];
    struct stat sb;
    int rc;

    if (argc != 2 || strcmp(argv[1], "-h") == 0) {
        fprintf(stderr, "usage: augur-lmdb-space DIR (holding data.mdb)\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/data.mdb", argv[1]);
    if (stat(path, &sb) != 0) {
        perror(path);
        return 1;
    }
    rc = mdb_env_create(&env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(env, 64);
    }
    if (rc == 0) {
        rc = mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOTLS, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], mdb_strerror(rc));
        return 1;
    }
    mdb_env_info(env, &info);
    /* The free list (database 0) and the main database (1), which names the
     * others. */
    if (mdb_stat(txn, 0, &st) == 0) {
        live_pages += stat_pages(&st);
    }
    rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc == 0 && mdb_stat(txn, main_dbi, &st) == 0) {
        live_pages += stat_pages(&st);
    }
    if (rc == 0 && mdb_cursor_open(txn, main_dbi, &cur) == 0) {
        while (mdb_cursor_get(cur, &key, &val, MDB_NEXT) == 0) {
            char name[256];
            MDB_dbi dbi;
            if (key.mv_size == 0 || key.mv_size >= sizeof name) {
                continue;
            }
            memcpy(name, key.mv_data, key.mv_size);
            name[key.mv_size] = '\0';
            if (mdb_dbi_open(txn, name, 0, &dbi) == 0 &&
                mdb_stat(txn, dbi, &st) == 0) {
                live_pages += stat_pages(&st);
            }
        }
        mdb_cursor_close(cur);
    }
    /* Free pages: each free-list record is a page-number list whose first
     * word is its length (mdb_stat -f does the same). */
    if (mdb_cursor_open(txn, 0, &cur) == 0) {
        while (mdb_cursor_get(cur, &key, &val, MDB_NEXT) == 0) {
            size_t n;
            memcpy(&n, val.mv_data, sizeof n);
            free_pages += n;
        }
        mdb_cursor_close(cur);
    }
    mdb_env_stat(env, &st);
    printf("{\"file_bytes\": %" PRIu64 ", \"used_bytes\": %" PRIu64
           ", \"live_bytes\": %" PRIu64 ", \"free_bytes\": %" PRIu64 "}\n",
           (uint64_t)sb.st_blocks * 512,
           (uint64_t)(info.me_last_pgno + 1) * st.ms_psize,
           live_pages * st.ms_psize, free_pages * st.ms_psize);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
