/* raft/append_bound.c under libraft's in-memory cluster (raft/fixture.h): a
 * follower that comes back behind a long log tail is sent that tail in
 * bounded messages, each part about once, where libraft 0.15 alone sends
 * the whole tail in one message at every heartbeat until one is answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <raft.h>
#include <raft/fixture.h>

#include "raft/replica.h"
#include "raft/replica_int.h"

#define N_SERVERS 3
/* Four entries to a bounded message.  augurd's bound is 1 MiB; at that
 * scale (256 KiB entries) the test spent 70-100 s in page faults under
 * AddressSanitizer, for the same counts. */
#define ENTRY_BYTES (16u << 10)
#define N_ENTRIES 96
#define BOUND (64u << 10)
#define LATENCY_MS 300 /* three heartbeats (libraft's default, 100 ms) */

/* What the leader sent to the lagging follower (id 3), counted below the
 * bound, as the io sends it. */
struct tally
{
    int (*send)(struct raft_io *io,
                struct raft_io_send *req,
                const struct raft_message *message,
                raft_io_send_cb cb);
    uint64_t messages, bytes, largest;
};

/* The test's state: libraft's fixture gives its io methods no user pointer
 * of their own, so the tally of server 1's io is reached from here. */
static struct
{
    struct raft_fixture f;
    struct raft_fsm fsm[N_SERVERS];
    struct replica rep[N_SERVERS];
    struct tally tally;
} t;

static int fsm_apply(struct raft_fsm *fsm,
                     const struct raft_buffer *buf,
                     void **result)
{
    (void)fsm;
    (void)buf;
    *result = NULL;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm,
                        struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    (void)fsm;
    *bufs = raft_malloc(sizeof **bufs);
    assert_non_null(*bufs);
    (*bufs)[0].len = 8;
    (*bufs)[0].base = raft_calloc(1, 8);
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    (void)fsm;
    raft_free(buf->base);
    return 0;
}

static int tally_send(struct raft_io *io,
                      struct raft_io_send *req,
                      const struct raft_message *message,
                      raft_io_send_cb cb)
{
    if (message->type == RAFT_IO_APPEND_ENTRIES && message->server_id == 3) {
        uint64_t bytes = 0;
        for (unsigned i = 0; i < message->append_entries.n_entries; i++) {
            bytes += message->append_entries.entries[i].buf.len;
        }
        if (bytes > 0) {
            t.tally.messages++;
            t.tally.bytes += bytes;
            if (bytes > t.tally.largest) {
                t.tally.largest = bytes;
            }
        }
    }
    return t.tally.send(io, req, message, cb);
}

static void apply_done(struct raft_apply *req, int status, void *result)
{
    (void)result;
    assert_int_equal(status, 0);
    free(req);
}

static void cluster_start(void)
{
    struct raft_configuration conf;

    memset(&t, 0, sizeof t);
    assert_int_equal(raft_fixture_initialize(&t.f), 0);
    for (unsigned i = 0; i < N_SERVERS; i++) {
        t.fsm[i].version = 1;
        t.fsm[i].apply = fsm_apply;
        t.fsm[i].snapshot = fsm_snapshot;
        t.fsm[i].restore = fsm_restore;
        assert_int_equal(raft_fixture_grow(&t.f, &t.fsm[i]), 0);
    }
    assert_int_equal(raft_fixture_configuration(&t.f, N_SERVERS, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&t.f, &conf), 0);
    raft_configuration_close(&conf);
    /* Server 1 (index 0) leads; its sends are counted, then bounded as
     * the replica bounds them. */
    t.tally.send = t.f.servers[0].io.send;
    t.f.servers[0].io.send = tally_send;
    for (unsigned i = 0; i < N_SERVERS; i++) {
        raft_fixture_get(&t.f, i)->data = &t.rep[i];
        replica__append_bound_install(&t.rep[i], &t.f.servers[i].io, BOUND);
        raft_fixture_set_network_latency(&t.f, i, LATENCY_MS);
    }
    assert_int_equal(raft_fixture_start(&t.f), 0);
    raft_fixture_elect(&t.f, 0);
}

/* Append N_ENTRIES entries of ENTRY_BYTES at the leader; returns the index
 * of the last. */
static raft_index entries_append(void)
{
    struct raft *leader = raft_fixture_get(&t.f, 0);

    for (unsigned i = 0; i < N_ENTRIES; i++) {
        struct raft_apply *req = malloc(sizeof *req);
        struct raft_buffer buf = {.len = ENTRY_BYTES,
                                  .base = raft_malloc(ENTRY_BYTES)};
        assert_non_null(req);
        assert_non_null(buf.base);
        memset(buf.base, (int)i, buf.len);
        assert_int_equal(raft_apply(leader, req, &buf, 1, apply_done), 0);
    }
    return raft_last_index(leader);
}

static void lagging_follower_gets_the_tail_in_bounded_parts_once(void **state)
{
    raft_index last;
    (void)state;

    cluster_start();
    /* Server 3 misses the whole tail; server 2 commits it with the leader. */
    raft_fixture_disconnect(&t.f, 0, 2);
    raft_fixture_disconnect(&t.f, 2, 0);
    last = entries_append();
    assert_true(raft_fixture_step_until_applied(&t.f, 0, last, 60000));
    assert_true(raft_fixture_step_until_applied(&t.f, 1, last, 60000));

    memset(&t.tally.messages, 0,
           sizeof t.tally - offsetof(struct tally, messages));
    raft_fixture_reconnect(&t.f, 0, 2);
    raft_fixture_reconnect(&t.f, 2, 0);
    assert_true(raft_fixture_step_until_applied(&t.f, 2, last, 120000));

    /* No message carries more than the bound (entries of a quarter of it),
     * and the 1.5 MiB tail crossed about once: a probe resent at every
     * heartbeat while the answer is three heartbeats away would be several
     * times that. */
    print_message("messages %llu bytes %llu largest %llu cuts %llu\n",
                  (unsigned long long)t.tally.messages,
                  (unsigned long long)t.tally.bytes,
                  (unsigned long long)t.tally.largest,
                  (unsigned long long)t.rep[0].append_cuts);
    assert_true(t.tally.largest <= BOUND);
    assert_true(t.tally.bytes >= (uint64_t)N_ENTRIES * ENTRY_BYTES);
    assert_true(t.tally.bytes < (uint64_t)N_ENTRIES * ENTRY_BYTES * 2);
    assert_true(t.rep[0].append_cuts > 0);
    raft_fixture_close(&t.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lagging_follower_gets_the_tail_in_bounded_parts_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
