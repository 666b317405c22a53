/* raft/rollback.c: libraft's configuration decoded as libraft encodes it,
 * the in-memory log read as libraft lays it out, and the rollback that
 * libraft 0.15 gets wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raft/replica.h"
#include "raft/rollback.h"

/* rollback.c's wrapper of libraft's membershipRollback (ld --wrap). */
int __wrap_membershipRollback(struct raft *r);
int __real_membershipRollback(struct raft *r);

/* libraft traces through r->tracer, which raft_init would set. */
static struct raft_tracer quiet = {.enabled = false};

static void conf_make(struct raft_configuration *c, unsigned n, int role3)
{
    raft_configuration_init(c);
    assert_int_equal(raft_configuration_add(c, 1, "127.0.0.1:7101", RAFT_VOTER),
                     0);
    if (n >= 2) {
        assert_int_equal(raft_configuration_add(c, 2, "10.0.0.2:7", RAFT_VOTER),
                         0);
    }
    if (n >= 3) {
        assert_int_equal(
            raft_configuration_add(c, 0x1122334455667788ull, "h3:65535", role3),
            0);
    }
}

static void assert_conf_equal(const struct raft_configuration *a,
                              const struct raft_configuration *b)
{
    assert_int_equal(a->n, b->n);
    for (unsigned i = 0; i < a->n; i++) {
        assert_int_equal(a->servers[i].id, b->servers[i].id);
        assert_string_equal(a->servers[i].address, b->servers[i].address);
        assert_int_equal(a->servers[i].role, b->servers[i].role);
    }
}

static void conf_decode_reads_what_libraft_encodes(void **state)
{
    struct raft_configuration c, d;
    struct raft_buffer buf;
    (void)state;

    for (unsigned n = 1; n <= 3; n++) {
        conf_make(&c, n, RAFT_SPARE);
        assert_int_equal(raft_configuration_encode(&c, &buf), 0);
        assert_int_equal(replica__conf_decode(&buf, &d), 0);
        assert_conf_equal(&c, &d);
        raft_configuration_close(&d);
        raft_free(buf.base);
        raft_configuration_close(&c);
    }
}

static void conf_decode_refuses_truncated_and_foreign_input(void **state)
{
    struct raft_configuration c, d;
    struct raft_buffer buf, cut;
    uint8_t bad[16] = {2};
    (void)state;

    conf_make(&c, 3, RAFT_VOTER);
    assert_int_equal(raft_configuration_encode(&c, &buf), 0);
    /* Every prefix that cuts a server short is refused, not read past. */
    for (size_t len = 0; len < 9 + 8 + 15 + 1 + 8 + 11 + 1 + 8 + 9 + 1; len++) {
        cut.base = buf.base;
        cut.len = len;
        assert_int_equal(replica__conf_decode(&cut, &d), RAFT_MALFORMED);
        assert_int_equal(d.n, 0);
    }
    cut.base = bad; /* another format version */
    cut.len = sizeof bad;
    assert_int_equal(replica__conf_decode(&cut, &d), RAFT_MALFORMED);
    raft_free(buf.base);
    raft_configuration_close(&c);
}

/* A log of entries @first..@last laid out as libraft does, wrapping around
 * the end of its circular buffer. */
struct test_log
{
    struct raft_log log;
    struct raft_entry slots[8];
};

static void log_make(struct test_log *t, raft_index first, raft_index last)
{
    size_t n = (size_t)(last - first + 1);
    memset(t, 0, sizeof *t);
    t->log.entries = t->slots;
    t->log.size = 8;
    t->log.front = 5; /* so that the entries wrap */
    t->log.back = (t->log.front + n) % t->log.size;
    t->log.offset = first - 1;
    for (size_t i = 0; i < n; i++) {
        struct raft_entry *e = &t->slots[(t->log.front + i) % t->log.size];
        e->term = first + i; /* the index, to check the lookup */
        e->type = RAFT_COMMAND;
    }
}

static void log_entry_finds_indexes_across_the_wrap(void **state)
{
    struct test_log t;
    (void)state;

    log_make(&t, 11, 16);
    for (raft_index i = 11; i <= 16; i++) {
        const struct raft_entry *e = replica__log_entry(&t.log, i);
        assert_non_null(e);
        assert_int_equal(e->term, i);
    }
    assert_null(replica__log_entry(&t.log, 10)); /* compacted */
    assert_null(replica__log_entry(&t.log, 17)); /* not yet */
    assert_null(replica__log_entry(&t.log, 0));
    memset(&t.log, 0, sizeof t.log); /* libraft's empty log */
    assert_null(replica__log_entry(&t.log, 1));
}

/* The follower of issue 10: the committed configuration (index 3, three
 * voters) was compacted away by a snapshot, and an uncommitted one without
 * server 2 at index 14 is being truncated.  libraft 0.15 dereferenced NULL
 * here; the wrapper restores the copy rollback.c kept. */
static void rollback_uses_the_kept_copy_when_the_log_lost_the_entry(
    void **state)
{
    struct replica rep;
    struct test_log t;
    struct raft_configuration committed, uncommitted;
    (void)state;

    memset(&rep, 0, sizeof rep);
    log_make(&t, 11, 16);
    rep.raft.log = t.log;
    rep.raft.data = &rep;
    rep.raft.tracer = &quiet;
    rep.raft.state = RAFT_FOLLOWER;
    conf_make(&committed, 3, RAFT_VOTER);
    conf_make(&uncommitted, 1, RAFT_VOTER);
    rep.committed = committed;
    rep.committed_index = 3;
    rep.raft.configuration = uncommitted;
    rep.raft.configuration_index = 3;
    rep.raft.configuration_uncommitted_index = 14;

    assert_int_equal(__wrap_membershipRollback(&rep.raft), 0);
    assert_int_equal(rep.raft.configuration_uncommitted_index, 0);
    assert_int_equal(rep.raft.configuration_index, 3);
    assert_conf_equal(&rep.raft.configuration, &rep.committed);
    raft_configuration_close(&rep.raft.configuration);
    raft_configuration_close(&rep.committed);
}

/* The defect itself: the same state handed to libraft 0.15's own rollback
 * kills the process (in a child, so that the suite goes on). */
static void libraft_alone_crashes_when_the_log_lost_the_entry(void **state)
{
    struct replica rep;
    struct test_log t;
    struct raft_configuration uncommitted;
    int status = 0;
    pid_t pid;
    (void)state;

    memset(&rep, 0, sizeof rep);
    log_make(&t, 11, 16);
    rep.raft.log = t.log;
    rep.raft.tracer = &quiet;
    rep.raft.state = RAFT_FOLLOWER;
    conf_make(&uncommitted, 1, RAFT_VOTER);
    rep.raft.configuration = uncommitted;
    rep.raft.configuration_index = 3;
    rep.raft.configuration_uncommitted_index = 14;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(__real_membershipRollback(&rep.raft) == 0 ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* SIGSEGV, or a sanitizer's report and a failing exit. */
    assert_true(WIFSIGNALED(status) ||
                (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
                 WEXITSTATUS(status) != 3));
    raft_configuration_close(&rep.raft.configuration);
}

/* When the committed entry is still in the log, libraft's own rollback runs
 * and decodes it. */
static void rollback_reads_the_log_when_it_holds_the_entry(void **state)
{
    struct replica rep;
    struct test_log t;
    struct raft_configuration committed, uncommitted;
    struct raft_entry *e;
    (void)state;

    memset(&rep, 0, sizeof rep);
    log_make(&t, 11, 16);
    conf_make(&committed, 3, RAFT_STANDBY);
    conf_make(&uncommitted, 2, RAFT_VOTER);
    e = (struct raft_entry *)replica__log_entry(&t.log, 12);
    e->type = RAFT_CHANGE;
    assert_int_equal(raft_configuration_encode(&committed, &e->buf), 0);
    rep.raft.log = t.log;
    rep.raft.data = &rep;
    rep.raft.tracer = &quiet;
    rep.raft.state = RAFT_FOLLOWER;
    raft_configuration_init(&rep.committed);
    rep.raft.configuration = uncommitted;
    rep.raft.configuration_index = 12;
    rep.raft.configuration_uncommitted_index = 15;

    assert_int_equal(__wrap_membershipRollback(&rep.raft), 0);
    assert_int_equal(rep.raft.configuration_uncommitted_index, 0);
    assert_conf_equal(&rep.raft.configuration, &committed);
    raft_configuration_close(&rep.raft.configuration);
    raft_configuration_close(&committed);
    raft_free(e->buf.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conf_decode_reads_what_libraft_encodes),
        cmocka_unit_test(conf_decode_refuses_truncated_and_foreign_input),
        cmocka_unit_test(log_entry_finds_indexes_across_the_wrap),
        cmocka_unit_test(
            rollback_uses_the_kept_copy_when_the_log_lost_the_entry),
        cmocka_unit_test(libraft_alone_crashes_when_the_log_lost_the_entry),
        cmocka_unit_test(rollback_reads_the_log_when_it_holds_the_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
