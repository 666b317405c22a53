/* The Raft log entry format: a committed entry's framing checked against its
 * version, and its commands applied to the store. */
#include "raft/entry.h"
#include "raft/replica.h"

#include <stdbool.h>

_Static_assert(REPLICA__ENTRY_BATCH_COUNT_MAX <= REPLICA_ENTRY_COUNT_MAX,
               "the answers of an entry of version 2 must fit in ends[]");

static uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* A well-formed batch (version 2) holds a count of commands within the
 * version's limits, each a length and as many bytes, inside the body. */
static bool batch_framing_valid(const uint8_t *body, size_t len)
{
    uint32_t count;
    size_t off = 4;

    if (len < 4) {
        return false;
    }
    count = be32_get(body);
    if (count == 0 || count > REPLICA__ENTRY_BATCH_COUNT_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (len - off < 4 || len - off - 4 < be32_get(body + off)) {
            return false;
        }
        off += 4 + be32_get(body + off);
    }
    return true;
}

int replica__entry_apply(struct store *store,
                         const void *buf,
                         size_t len,
                         msgpack_sbuffer *answer,
                         size_t *ends,
                         unsigned *n_ends)
{
    const uint8_t *p = buf;
    uint32_t count;
    size_t body;
    size_t off;
    int rv = 0;
    int end;

    answer->size = 0;
    *n_ends = 0;
    if (len < REPLICA__ENTRY_HEADER ||
        (body = be32_get(p)) > len - REPLICA__ENTRY_HEADER) {
        goto malformed;
    }
    switch (p[4]) {
        case REPLICA__ENTRY_SINGLE:
            rv =
                store_apply_raw(store, p + REPLICA__ENTRY_HEADER, body, answer);
            ends[(*n_ends)++] = answer->size;
            return rv;
        case REPLICA__ENTRY_BATCH:
            break;
        default:
            goto malformed;
    }
    p += REPLICA__ENTRY_HEADER;
    /* Check the framing whole before applying anything. */
    if (!batch_framing_valid(p, body)) {
        goto malformed;
    }
    count = be32_get(p);
    off = 4;
    /* The commands share write transactions (store_batch_begin): a failure
     * stops the node, whose state is rebuilt from the log at its next
     * start, so nothing needs the per-command commits. */
    rv = store_batch_begin(store);
    for (uint32_t i = 0; i < count && rv == 0; i++) {
        uint32_t n = be32_get(p + off);
        rv = store_apply_raw(store, p + off + 4, n, answer);
        ends[(*n_ends)++] = answer->size;
        off += 4 + n;
    }
    end = store_batch_end(store);
    return rv != 0 ? rv : end;

malformed:
    answer->size = 0;
    *n_ends = 0;
    rv = store_answer_error(answer, AUGUR_EMALFORMED,
                            "log entry: bad framing (%zu bytes)", len);
    ends[(*n_ends)++] = answer->size;
    return rv;
}
