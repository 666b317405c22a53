/* The store object, top layer: open and close the LMDB environment, apply
 * (one write transaction per command, dispatched through common/ops.h) and
 * read, answers and the revision. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* The map is sparse: only written pages take disk space. */
#define STORE_MAPSIZE ((size_t)64 << 30)

/* ---- open and close --------------------------------------------------- */

/* Ask for the map in 2 MiB pages where the kernel can (transparent huge
 * pages on a file whose file system keeps large folios: ext4 and xfs on
 * Linux 6.x).  The B-trees are touched at random pages all over the map;
 * in 4 KiB pages each first touch is a fault and each later one a TLB
 * miss, which under a hypervisor's shadow or nested paging costs
 * microseconds: a random touch of a 256 MiB map measured 0.45 us in 4 KiB
 * pages and 0.02 us in 2 MiB ones on our test machines.  Advice only:
 * where the kernel refuses, the map works as before. */
static void map_advise(MDB_env *env)
{
#ifdef MADV_HUGEPAGE
    /* LMDB does not tell where its map is (mdb_env_info's me_mapaddr is
     * the MDB_FIXEDMAP address, NULL here): find the mapping of the data
     * file's inode in /proc/self/maps. */
    unsigned long lo, hi, off, ino;
    unsigned dev_major, dev_minor;
    char line[512];
    struct stat st;
    FILE *f;
    int fd;

    if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0) {
        return;
    }
    f = fopen("/proc/self/maps", "r");
    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off,
                   &dev_major, &dev_minor, &ino) != 6 ||
            ino != (unsigned long)st.st_ino || off != 0 ||
            makedev(dev_major, dev_minor) != st.st_dev) {
            continue;
        }
        if (madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0) {
            LOG(LOG_LEVEL_DEBUG, "store: madvise(MADV_HUGEPAGE): %s",
                strerror(errno));
        }
        break;
    }
    fclose(f);
#else
    (void)env;
#endif
}

static int remove_state(const char *dir, char *errmsg)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (n < 0 || (size_t)n >= sizeof path) {
            snprintf(errmsg, STORE_ERRMSG_SIZE,
                     "state directory path is too "
                     "long");
            return AUGUR_EIO;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(errmsg, STORE_ERRMSG_SIZE, "unlink %.180s: %s", path,
                     strerror(errno));
            return AUGUR_EIO;
        }
    }
    return 0;
}

static int mdb_open_fail(char *errmsg,
                         int rc,
                         const char *what,
                         const char *dir)
{
    snprintf(errmsg, STORE_ERRMSG_SIZE, "%s %s: %s", what, dir,
             mdb_strerror(rc));
    return rc == ENOMEM ? AUGUR_ENOMEM : AUGUR_EIO;
}

int store_open(const char *dir,
               unsigned flags,
               struct store **out,
               char *errmsg)
{
    unsigned env_flags = MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS;
    struct store *s;
    MDB_txn *txn;
    int rc;
    int rv;

    if ((flags & STORE_OPEN_RESET) != 0) {
        /* A state rebuilt from the Raft log at every start need not survive
         * a crash at all: write through the map, no write() per page. */
        env_flags |= MDB_WRITEMAP | MDB_MAPASYNC;
        rv = remove_state(dir, errmsg);
        if (rv != 0) {
            return rv;
        }
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
        return AUGUR_ENOMEM;
    }
    if (!msgpack_zone_init(&s->zone, 8192)) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
        rv = AUGUR_ENOMEM;
        goto err_after_alloc;
    }
    s->page_bytes = STORE_PAGE_BYTES_DEFAULT;
    msgpack_sbuffer_init(&s->result);
    msgpack_sbuffer_init(&s->items);
    msgpack_sbuffer_init(&s->value);
    msgpack_sbuffer_init(&s->event);
    store__pack_init(&s->out, &s->result);

    rc = mdb_env_create(&s->env);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_env_create", dir);
        goto err_after_zone_init;
    }
    rc = mdb_env_set_maxdbs(s->env, STORE__DB_COUNT);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(s->env, STORE_MAPSIZE);
    }
    if (rc == 0) {
        rc = mdb_env_open(s->env, dir, env_flags, 0600);
    }
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_env_open", dir);
        goto err_after_env_create;
    }
    map_advise(s->env);

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_txn_begin", dir);
        goto err_after_env_create;
    }
    for (int i = 0; i < STORE__DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, store__db_names[i], MDB_CREATE, &s->dbi[i]);
        if (rc != 0) {
            rv = mdb_open_fail(errmsg, rc, "mdb_dbi_open", store__db_names[i]);
            goto err_after_txn_begin;
        }
    }
    rv = store__meta_rev(s, txn, &s->rev);
    if (rv != 0) {
        snprintf(errmsg, STORE_ERRMSG_SIZE, "%s", s->errmsg);
        goto err_after_txn_begin;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_txn_commit", dir);
        goto err_after_env_create;
    }

    /* One read transaction, renewed for each read: no allocation and no
     * reader-slot lookup per read.  MDB_NOTLS lets it outlive a thread. */
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc != 0) {
        rv = mdb_open_fail(errmsg, rc, "mdb_txn_begin", dir);
        goto err_after_env_create;
    }
    mdb_txn_reset(s->rtxn);
    *out = s;
    return 0;

err_after_txn_begin:
    mdb_txn_abort(txn);
err_after_env_create:
    mdb_env_close(s->env);
err_after_zone_init:
    msgpack_zone_destroy(&s->zone);
err_after_alloc:
    free(s);
    return rv;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->batch != NULL) {
        mdb_txn_abort(s->batch);
    }
    mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    msgpack_sbuffer_destroy(&s->result);
    msgpack_sbuffer_destroy(&s->items);
    msgpack_sbuffer_destroy(&s->value);
    msgpack_sbuffer_destroy(&s->event);
    msgpack_zone_destroy(&s->zone);
    store__walk_close(&s->walk);
    free(s);
}

uint64_t store_revision(struct store *s)
{
    return s->rev;
}

void store_page_bytes_set(struct store *s, size_t bytes)
{
    s->page_bytes = bytes != 0 ? bytes : STORE_PAGE_BYTES_DEFAULT;
}

/* ---- apply ------------------------------------------------------------ */

static void op_begin(struct store *s)
{
    s->result.size = 0;
    s->status = 0;
    s->errmsg[0] = 0;
    store__pack_init(&s->out, &s->result);
}

/* One case per row of common/ops.h: ACCESS W rows in dispatch_write, R rows
 * in dispatch_read. */
#define DISPATCH__W(ID, HANDLER) \
    case STORE_OP_##ID:          \
        return HANDLER(s, txn, cmd);
#define DISPATCH__R(ID, HANDLER)
#define DISPATCH_CASE(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    DISPATCH__##ACCESS(ID, HANDLER)

static int dispatch_write(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    switch (cmd->op) {
        AUGUR_STORE_OPS(DISPATCH_CASE)
        default:
            break;
    }
    return store__refuse(s, AUGUR_EINVAL, "%s is not a write",
                         store_op_name(cmd->op));
}

#undef DISPATCH__W
#undef DISPATCH__R
#define DISPATCH__W(ID, HANDLER)
#define DISPATCH__R(ID, HANDLER) \
    case STORE_OP_##ID:          \
        return HANDLER(s, txn, cmd);

static int dispatch_read(struct store *s,
                         MDB_txn *txn,
                         const struct store_cmd *cmd)
{
    switch (cmd->op) {
        AUGUR_STORE_OPS(DISPATCH_CASE)
        default:
            break;
    }
    return store__refuse(s, AUGUR_EINVAL,
                         "%s is a write: it goes through "
                         "the log",
                         store_op_name(cmd->op));
}

#undef DISPATCH__W
#undef DISPATCH__R
#undef DISPATCH_CASE

/* Append the answer of the current op: its result on success, its refusal
 * (and the result it may carry) otherwise. */
static int answer_pack(struct store *s, msgpack_sbuffer *answer, uint64_t rev)
{
    struct store__pack p;

    if (s->out.failed) {
        return AUGUR_ENOMEM;
    }
    store__pack_init(&p, answer);
    if (s->status == 0) {
        msgpack_pack_map(&p.pk, 3);
        store__pack_str(&p, "status");
        msgpack_pack_int(&p.pk, 0);
        store__pack_str(&p, "rev");
        msgpack_pack_uint64(&p.pk, rev);
        store__pack_str(&p, "result");
        store__pack_raw(&p, s->result.data, s->result.size);
    } else {
        msgpack_pack_map(&p.pk, s->result.size > 0 ? 3 : 2);
        store__pack_str(&p, "status");
        msgpack_pack_int(&p.pk, s->status);
        store__pack_str(&p, "error");
        store__pack_str(&p, s->errmsg);
        if (s->result.size > 0) {
            store__pack_str(&p, "result");
            store__pack_raw(&p, s->result.data, s->result.size);
        }
    }
    return p.failed ? AUGUR_ENOMEM : 0;
}

/* What no principal's command may look like, whatever its op: without a
 * client id there is no session to keep it at most once, and a sequence
 * of 0 is not one (session.open alone may go without: it is idempotent). */
static int principal_session_check(const struct store_cmd *cmd, char *errmsg)
{
    if (!cmd->has_principal) {
        return 0;
    }
    if (cmd->client == 0) {
        snprintf(errmsg, STORE_ERRMSG_SIZE,
                 "%s: a client's write needs a client id",
                 store_op_name(cmd->op));
        return AUGUR_EINVAL;
    }
    if (cmd->seq == 0 && cmd->op != STORE_OP_SESSION_OPEN) {
        snprintf(errmsg, STORE_ERRMSG_SIZE,
                 "%s: a write needs a sequence number from 1",
                 store_op_name(cmd->op));
        return AUGUR_EINVAL;
    }
    return 0;
}

/* Refused before anything was written: the answer only (the caller drops
 * its own transaction; a batch's stays open). */
static int apply_refused(struct store *s, msgpack_sbuffer *answer, size_t start)
{
    int rv = answer_pack(s, answer, s->rev);

    if (rv != 0) {
        answer->size = start;
    }
    return rv;
}

/* Whether the applied @cmd is one the orchestrator must look at (see
 * store_orch_version).  A claim's check reads its workload's cohort and
 * its host in the same transaction; a failed read counts as relevant. */
static bool orch_relevant(struct store *s,
                          MDB_txn *txn,
                          const struct store_cmd *cmd)
{
    char cohort[STORE_ID_SIZE];
    struct store_policy pol;
    struct store__resource r;
    struct store__claim c;
    const char *workload;

    switch (cmd->op) {
        case STORE_OP_CLAIM_ACQUIRE:
            workload = cmd->u.acquire.workload;
            break;
        case STORE_OP_CLAIM_TRANSFER:
            workload = cmd->u.transfer.workload;
            break;
        case STORE_OP_CLAIM_RELEASE:
            workload = cmd->u.release.workload;
            break;
        /* A new resource or workload asks nothing of the orchestrator
         * (it takes hosts as targets, and acts on claims, when something
         * else asks it to). */
        case STORE_OP_RESOURCE_ADD:
        case STORE_OP_WORKLOAD_ADD:
        case STORE_OP_NODE_SET:
        case STORE_OP_SESSION_EXPIRE:
        case STORE_OP_SESSION_OPEN:
        case STORE_OP_PRINCIPAL_ADD:
        case STORE_OP_PRINCIPAL_REMOVE:
        case STORE_OP_PRINCIPAL_BOOTSTRAP:
        case STORE_OP_NODE_REVOKE:
        case STORE_OP_MODEL_CHUNK:
        case STORE_OP_MODEL_COMMIT:
        case STORE_OP_MODEL_ACTIVATE:
            return false;
        default:
            return true;
    }
    if (store__cohort_of(s, txn, workload, cohort) != 0 || cohort[0] != 0) {
        return true;
    }
    if (cmd->op == STORE_OP_CLAIM_RELEASE) {
        return false;
    }
    if (store__claim_load(s, txn, workload, &c) != 0 ||
        store__resource_load(s, txn, c.host, &r) != 0) {
        return true;
    }
    if (r.state != STORE_STATE_ACTIVE) {
        return true;
    }
    /* The policy only for a host with a score: ordinary claim traffic on
     * unscored hosts costs two reads here, not the policy's keys too. */
    if (!r.has_score) {
        return false;
    }
    if (store__policy_load(s, txn, &pol) != 0) {
        return true;
    }
    return r.p >= pol.provision_threshold;
}

uint64_t store_orch_version(struct store *s)
{
    return s->orch_version;
}

/* The write transaction for the next command: the batch's, or one of its
 * own (*@own set). */
static int txn_for_command(struct store *s, MDB_txn **txn, bool *own)
{
    int rc;

    *own = s->batch == NULL;
    if (!*own) {
        *txn = s->batch;
        return 0;
    }
    rc = mdb_txn_begin(s->env, NULL, 0, txn);
    return rc == 0 ? 0 : store__mdb_fail(s, rc, "mdb_txn_begin");
}

/* A command that wrote nothing is over: its own transaction is dropped;
 * a batch's stays open for the next. */
static void txn_unused(MDB_txn *txn, bool own)
{
    if (own) {
        mdb_txn_abort(txn);
    }
}

/* A failure: the transaction is dropped, and with it an open batch. */
static void txn_failed(struct store *s, MDB_txn *txn, bool own)
{
    mdb_txn_abort(txn);
    if (!own) {
        s->batch = NULL;
    }
}

int store_batch_begin(struct store *s)
{
    int rc;

    assert(s->batch == NULL);
    s->batch_n = 0;
    rc = mdb_txn_begin(s->env, NULL, 0, &s->batch);
    if (rc != 0) {
        s->batch = NULL;
        return store__mdb_fail(s, rc, "mdb_txn_begin");
    }
    return 0;
}

int store_batch_end(struct store *s)
{
    MDB_txn *txn = s->batch;
    int rc;

    if (txn == NULL) {
        return 0; /* ended by a failure, already reported */
    }
    s->batch = NULL;
    rc = mdb_txn_commit(txn);
    return rc == 0 ? 0 : store__mdb_fail(s, rc, "mdb_txn_commit");
}

/* A command of a batch is applied: commit every STORE_BATCH_TXN_MAX, which
 * bounds a transaction's dirty pages whatever the batch holds. */
static int batch_step(struct store *s)
{
    int rv;

    if (++s->batch_n < STORE_BATCH_TXN_MAX) {
        return 0;
    }
    rv = store_batch_end(s);
    return rv != 0 ? rv : store_batch_begin(s);
}

int store_apply(struct store *s,
                const struct store_cmd *cmd,
                msgpack_sbuffer *answer)
{
    bool relevant;
    struct store__session sess = {0};
    size_t start = answer->size;
    uint64_t rev = s->rev;
    bool done = false;
    bool own;
    MDB_txn *txn;
    int rc;
    int rv;

    rv = store__cmd_check(cmd, s->errmsg);
    if (rv == 0 && !store_op_is_write(cmd->op)) {
        rv = AUGUR_EINVAL;
        snprintf(s->errmsg, sizeof s->errmsg, "%s is a read, not a write",
                 store_op_name(cmd->op));
    }
    if (rv == 0) {
        rv = principal_session_check(cmd, s->errmsg);
    }
    if (rv != 0) {
        return store_answer_error(answer, rv, "%s", s->errmsg);
    }
    rv = txn_for_command(s, &txn, &own);
    if (rv != 0) {
        return rv;
    }
    /* The sender is checked against this state, not the one the leader
     * saw when it accepted the command: a principal removed (or demoted)
     * in between has no say, on every node alike. */
    op_begin(s);
    rv = store__principal_check(s, txn, cmd);
    if (rv != 0) {
        goto err_after_txn_begin;
    }
    if (s->status != 0) {
        txn_unused(txn, own);
        return apply_refused(s, answer, start);
    }
    if (cmd->client != 0) {
        rv = store__session_check(s, txn, cmd, answer, &sess, &done);
        if (rv != 0 || done) {
            /* A retry or a stale sequence: answered, nothing written. */
            if (rv != 0) {
                txn_failed(s, txn, own);
                answer->size = start;
            } else {
                txn_unused(txn, own);
            }
            return rv;
        }
    }

    op_begin(s);
    rv = dispatch_write(s, txn, cmd);
    if (rv != 0) {
        goto err_after_txn_begin;
    }
    /* session.expire and session.open tidy bookkeeping: they are not
     * changes of the fleet model, so they have no revision and no event. */
    if (s->status == 0 && cmd->op != STORE_OP_SESSION_EXPIRE &&
        cmd->op != STORE_OP_SESSION_OPEN) {
        rev = s->rev + 1;
        rv = store__meta_rev_put(s, txn, rev);
        if (rv == 0) {
            rv = store__event_append(s, txn, rev, cmd);
        }
        if (rv != 0) {
            goto err_after_txn_begin;
        }
    }
    rv = answer_pack(s, answer, rev);
    if (rv != 0) {
        goto err_after_txn_begin;
    }
    if (cmd->client != 0) {
        rv = store__session_record(s, txn, cmd, &sess, answer->data + start,
                                   answer->size - start);
        if (rv != 0) {
            goto err_after_txn_begin;
        }
    }
    relevant = s->status == 0 && orch_relevant(s, txn, cmd);
    if (own) {
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            answer->size = start;
            return store__mdb_fail(s, rc, "mdb_txn_commit");
        }
    }
    s->rev = rev;
    if (relevant) {
        s->orch_version++;
    }
    return own ? 0 : batch_step(s);

err_after_txn_begin:
    txn_failed(s, txn, own);
    answer->size = start;
    return rv;
}

int store_apply_raw(struct store *s,
                    const void *buf,
                    size_t len,
                    msgpack_sbuffer *answer)
{
    char errmsg[STORE_ERRMSG_SIZE];
    int rv;

    rv = store__cmd_decode(s, buf, len, &s->cmd, errmsg);
    if (rv == AUGUR_ENOMEM) {
        /* Decoding allocates in proportion to the entry (see
         * store__msgpack_check): this is a real shortage, not bad input. */
        return rv;
    }
    if (rv != 0) {
        return store_answer_error(answer, rv, "%s", errmsg);
    }
    return store_apply(s, &s->cmd, answer);
}

/* ---- read ------------------------------------------------------------- */

int store_read(struct store *s,
               const struct store_cmd *cmd,
               msgpack_sbuffer *answer)
{
    size_t start = answer->size;
    int rc;
    int rv;

    rv = store__cmd_check(cmd, s->errmsg);
    if (rv != 0) {
        return store_answer_error(answer, rv, "%s", s->errmsg);
    }
    rc = mdb_txn_renew(s->rtxn);
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    op_begin(s);
    rv = dispatch_read(s, s->rtxn, cmd);
    if (rv == 0) {
        rv = answer_pack(s, answer, s->rev);
    }
    mdb_txn_reset(s->rtxn);
    if (rv != 0) {
        answer->size = start;
    }
    return rv;
}
