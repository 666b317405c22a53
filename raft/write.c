/* Writes: every command proposed during one loop turn goes into one batch,
 * one log entry (see raft/entry.h), proposed just before the loop polls. */
#include "raft/replica.h"
#include "raft/replica_int.h"
#include "raft/entry.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- log entries ------------------------------------------------------ */

/* The log entry format is raft/entry.h's.  The writer's bounds: a batch is
 * flushed early when it grows past either, and it always fits format
 * version 2, whose limits apply checks. */
#define BATCH_BYTES_MAX (256u << 10)
#define BATCH_COUNT_MAX ((unsigned)REPLICA_BATCH_MAX)
_Static_assert(REPLICA_BATCH_MAX <= REPLICA__ENTRY_BATCH_COUNT_MAX,
               "a batch must be an entry format version 2 accepts");

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- writes ----------------------------------------------------------- */

/* Writes proposed during one loop turn go into one batch, proposed as one
 * log entry by the prepare handle just before the loop waits for I/O: one
 * append, one fsync and one replication message for all of them, and no
 * added latency for a lone write. */
struct replica_batch
{
    struct raft_apply apply;
    struct replica *replica;
    uint8_t *buf; /* header, count, then [len][command]... */
    size_t len, cap;
    unsigned n, n_cap;
    struct replica_write **reqs;
};

static void batch_free(struct replica_batch *b)
{
    free(b->buf);
    free(b->reqs);
    free(b);
}

void replica__batch_fail(struct replica_batch *b, int status)
{
    for (unsigned i = 0; i < b->n; i++) {
        b->reqs[i]->cb(b->reqs[i], status, NULL, 0);
    }
    batch_free(b);
}

static void batch_done(struct raft_apply *apply, int status, void *result)
{
    struct replica_batch *b = apply->data;
    struct replica *r = result;
    size_t start = 0;

    if (status != 0) {
        replica__batch_fail(b, replica__err(status));
        return;
    }
    if (r->n_ends != b->n) {
        /* Cannot happen for an entry this node encoded; answer each write
         * with what the entry said as a whole rather than guess. */
        LOG(LOG_LEVEL_ERROR, "batch of %u writes got %u answers", b->n,
            r->n_ends);
        for (unsigned i = 0; i < b->n; i++) {
            b->reqs[i]->cb(b->reqs[i], 0, r->answer.data, r->ends[0]);
        }
        batch_free(b);
        return;
    }
    for (unsigned i = 0; i < b->n; i++) {
        b->reqs[i]->cb(b->reqs[i], 0, r->answer.data + start,
                       r->ends[i] - start);
        start = r->ends[i];
    }
    batch_free(b);
}

/* Propose the open batch, if any. */
static void batch_flush(struct replica *r)
{
    struct replica_batch *b = r->batch;
    struct raft_buffer buf;
    size_t total;
    int rv;

    if (b == NULL) {
        return;
    }
    r->batch = NULL;
    if (!replica_is_leader(r)) {
        replica__batch_fail(
            b, replica_closing(r) ? AUGUR_ESHUTDOWN : AUGUR_ENOTLEADER);
        return;
    }
    total = (b->len + 7) & ~(size_t)7;
    buf.base = raft_malloc(total);
    if (buf.base == NULL) {
        replica__batch_fail(b, AUGUR_ENOMEM);
        return;
    }
    be32_put(b->buf, (uint32_t)(b->len - REPLICA__ENTRY_HEADER));
    b->buf[4] = REPLICA__ENTRY_BATCH;
    be32_put(b->buf + REPLICA__ENTRY_HEADER, b->n);
    memcpy(buf.base, b->buf, b->len);
    memset((uint8_t *)buf.base + b->len, 0, total - b->len);
    buf.len = total;
    b->apply.data = b;
    rv = raft_apply(&r->raft, &b->apply, &buf, 1, batch_done);
    if (rv != 0) {
        raft_free(buf.base);
        LOG(LOG_LEVEL_DEBUG, "raft_apply: %s", raft_errmsg(&r->raft));
        rv = replica__err(rv);
        /* Nothing was appended: the writes are not indeterminate. */
        replica__batch_fail(b,
                            rv == AUGUR_EINDETERMINATE ? AUGUR_ENOTLEADER : rv);
    }
}

/* Once per loop turn with work queued, just before the loop polls: propose
 * the turn's writes as one entry, then one barrier for the reads waiting. */
void replica__prepare_cb(uv_prepare_t *h)
{
    struct replica *r = h->data;
    uv_prepare_stop(h);
    batch_flush(r);
    replica__reads_flush(r);
}

static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
    void **p = pp;
    size_t n = *cap > 0 ? *cap : 16;
    void *q;
    while (n < need) {
        n *= 2;
    }
    if (n == *cap) {
        return 0;
    }
    q = realloc(*p, n * size);
    if (q == NULL) {
        return AUGUR_ENOMEM;
    }
    *p = q;
    *cap = n;
    return 0;
}

int replica_write(struct replica *r,
                  struct replica_write *req,
                  const void *cmd,
                  size_t len,
                  replica_write_cb cb)
{
    struct replica_batch *b = r->batch;
    size_t n_cap;

    if (!replica_is_leader(r)) {
        return AUGUR_ENOTLEADER;
    }
    if (len > BATCH_BYTES_MAX) {
        return AUGUR_ETOOBIG;
    }
    if (b != NULL &&
        (b->len + 4 + len > BATCH_BYTES_MAX || b->n == BATCH_COUNT_MAX)) {
        batch_flush(r);
        b = NULL;
    }
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        if (b == NULL) {
            return AUGUR_ENOMEM;
        }
        b->replica = r;
        b->len = REPLICA__ENTRY_HEADER + 4;
    }
    n_cap = b->n_cap;
    if (grow(&b->buf, &b->cap, b->len + 4 + len, 1) != 0 ||
        grow(&b->reqs, &n_cap, b->n + 1, sizeof *b->reqs) != 0) {
        if (b != r->batch) {
            batch_free(b);
        }
        return AUGUR_ENOMEM;
    }
    b->n_cap = (unsigned)n_cap;
    be32_put(b->buf + b->len, (uint32_t)len);
    memcpy(b->buf + b->len + 4, cmd, len);
    b->len += 4 + len;
    req->cb = cb;
    b->reqs[b->n++] = req;
    if (r->batch == NULL) {
        r->batch = b;
        uv_prepare_start(&r->batch_prepare, replica__prepare_cb);
    }
    return 0;
}

void replica__batch_fail_open(struct replica *r, int status)
{
    struct replica_batch *b = r->batch;
    if (b != NULL) {
        r->batch = NULL;
        replica__batch_fail(b, status);
    }
}
