/* Unit tests of store/'s claims: acquire (named and auto-picked), transfer
 * and release, fencing epochs, capacity accounting, claim reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

static uint64_t used_cpu(struct fx *f, const char *host)
{
    assert_int_equal(get_resource(f, host), 0);
    return obj_u64(obj_get(ans_result(f), "used"), "cpu");
}

static uint64_t used_mem(struct fx *f, const char *host)
{
    assert_int_equal(get_resource(f, host), 0);
    return obj_u64(obj_get(ans_result(f), "used"), "mem_mb");
}

/* Assert the last answer's result is the claim (workload, host, epoch). */
static void assert_claim(struct fx *f,
                         const char *workload,
                         const char *host,
                         uint64_t epoch)
{
    const msgpack_object *c = ans_result(f);

    assert_non_null(c);
    assert_int_equal(c->via.map.size, 4);
    assert_obj_str(c, "kind", "active");
    assert_obj_str(c, "workload", workload);
    assert_obj_str(c, "host", host);
    assert_int_equal(obj_u64(c, "epoch"), epoch);
}

/* Acquire for @workload with the store's pick; assert the host. */
static void assert_picks(struct fx *f, const char *workload, const char *host)
{
    assert_int_equal(acquire(f, workload, NULL), 0);
    assert_obj_str(ans_result(f), "host", host);
}

static void digest(struct fx *f, unsigned char *out)
{
    assert_int_equal(store_digest(f->s, out), 0);
}

static void assert_digest(struct fx *f, const unsigned char *want)
{
    unsigned char got[32];
    digest(f, got);
    assert_memory_equal(got, want, 32);
}

/* ---- acquire on a named host ------------------------------------------ */

static void claim_acquire_grants_epoch_one_and_charges_the_host(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 1024), 0);
    assert_int_equal(add_workload(f, "w1", 3, 100), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_claim(f, "w1", "h1", 1);
    assert_int_equal(ans_rev(f), 3);
    assert_int_equal(used_cpu(f, "h1"), 3);
    assert_int_equal(used_mem(f, "h1"), 100);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_claim(f, "w1", "h1", 1);
}

static void claim_acquire_refuses_unknown_workload_and_host(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 1024), 0);
    assert_int_equal(acquire(f, "w9", "h1"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no workload named w9");
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h9"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named h9");
    assert_int_equal(store_revision(f->s), 2);
    assert_int_equal(get_claim(f, "w1"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "workload w1 holds no claim");
}

static void claim_acquire_refuses_a_held_workload_naming_the_holder(
    void **state)
{
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "h1", 8, 1024), 0);
    assert_int_equal(add_host(f, "h2", 8, 1024), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h2"), 0);
    digest(f, before);
    assert_int_equal(acquire(f, "w1", "h1"), AUGUR_ECONFLICT);
    assert_string_equal(ans_error(f), "workload w1 is held by h2 at epoch 1");
    assert_claim(f, "w1", "h2", 1);
    assert_int_equal(acquire(f, "w1", NULL), AUGUR_ECONFLICT);
    assert_digest(f, before);
}

static void claim_acquire_refuses_a_resource_that_is_no_host(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_resource(f, "psu-1", "psu", 100, 100), 0);
    assert_int_equal(add_resource(f, "vm-1", "vm", 1, 1), 0);
    assert_int_equal(add_resource(f, "ct-1", "container", 1, 1), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "psu-1"), AUGUR_EINVAL);
    assert_non_null(strstr(ans_error(f), "psu-1 is a psu"));
    assert_int_equal(acquire(f, "w1", "vm-1"), 0);
    assert_int_equal(acquire(f, "w2", "ct-1"), 0);
}

static void claim_acquire_refuses_a_host_that_is_not_active(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 1024), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    for (int st = 0; st < STORE_STATE_COUNT; st++) {
        if (st == STORE_STATE_ACTIVE) {
            continue;
        }
        assert_int_equal(set_state(f, "h1", st), 0);
        assert_int_equal(acquire(f, "w1", "h1"), AUGUR_EUNAVAILABLE);
        assert_non_null(strstr(ans_error(f), store_state_name(st)));
    }
    assert_int_equal(set_state(f, "h1", STORE_STATE_ACTIVE), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
}

static void claim_acquire_refuses_a_host_without_room(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 4, 100), 0);
    assert_int_equal(add_workload(f, "big-cpu", 5, 1), 0);
    assert_int_equal(add_workload(f, "big-mem", 1, 101), 0);
    assert_int_equal(add_workload(f, "exact", 4, 100), 0);
    assert_int_equal(add_workload(f, "one-more", 0, 1), 0);
    assert_int_equal(add_workload(f, "nothing", 0, 0), 0);
    assert_int_equal(acquire(f, "big-cpu", "h1"), AUGUR_ENOCAPACITY);
    assert_non_null(strstr(ans_error(f),
                           "host h1 has no room for workload "
                           "big-cpu"));
    assert_int_equal(acquire(f, "big-mem", "h1"), AUGUR_ENOCAPACITY);
    assert_int_equal(acquire(f, "exact", "h1"), 0);
    assert_int_equal(acquire(f, "one-more", "h1"), AUGUR_ENOCAPACITY);
    assert_int_equal(acquire(f, "nothing", "h1"), 0);
    assert_int_equal(used_cpu(f, "h1"), 4);
    assert_int_equal(used_mem(f, "h1"), 100);
}

/* ---- the auto-pick ---------------------------------------------------- */

static void claim_acquire_picks_the_lowest_failure_probability(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 100, 100), 0);
    assert_int_equal(add_host(f, "h2", 10, 10), 0);
    assert_int_equal(add_host(f, "h3", 100, 100), 0);
    assert_int_equal(set_score(f, "h1", 0.3), 0);
    assert_int_equal(set_score(f, "h2", 0.1), 0);
    assert_int_equal(set_score(f, "h3", 0.2), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_picks(f, "w1", "h2");
    /* A host without a score counts as p = 0. */
    assert_int_equal(add_host(f, "h4", 1, 1), 0);
    assert_picks(f, "w2", "h4");
}

static void claim_acquire_pick_breaks_ties_by_cpu_memory_then_id(void **state)
{
    struct fx *f = *state;

    /* Equal p (none): most free cpu wins, then most free memory, then the
     * smallest id. */
    assert_int_equal(add_host(f, "hb", 8, 100), 0);
    assert_int_equal(add_host(f, "ha", 8, 100), 0);
    assert_int_equal(add_host(f, "hc", 8, 200), 0);
    assert_int_equal(add_host(f, "hd", 4, 999), 0);
    for (int i = 0; i < 6; i++) {
        char w[8];
        snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(add_workload(f, w, 4, 50), 0);
    }
    assert_picks(f, "w0", "hc"); /* 8 cpu, 200 mem */
    /* hc: 4 cpu left; ha and hb: 8 cpu, 100 mem each: the smaller id. */
    assert_picks(f, "w1", "ha");
    assert_picks(f, "w2", "hb");
    /* All have 4 cpu left; hd has the most memory (999). */
    assert_picks(f, "w3", "hd");
    /* hc 150 mem, ha 50, hb 50 (hd is full of cpu). */
    assert_picks(f, "w4", "hc");
    assert_picks(f, "w5", "ha");
}

static void claim_acquire_pick_never_grants_failed_or_draining_hosts(
    void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 100, 100), 0);
    assert_int_equal(add_host(f, "h2", 100, 100), 0);
    assert_int_equal(add_host(f, "h3", 1, 1), 0);
    assert_int_equal(set_state(f, "h1", STORE_STATE_FAILED), 0);
    assert_int_equal(set_state(f, "h2", STORE_STATE_DRAINING), 0);
    for (int i = 0; i < 3; i++) {
        char w[8];
        snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(add_workload(f, w, 1, 1), 0);
    }
    assert_picks(f, "w0", "h3");
    /* h3 is full: nothing active has room. */
    assert_int_equal(acquire(f, "w1", NULL), AUGUR_ENOCAPACITY);
    assert_non_null(strstr(ans_error(f), "no active host has room"));
    /* Back to active: grantable again. */
    assert_int_equal(set_state(f, "h2", STORE_STATE_ACTIVE), 0);
    assert_picks(f, "w1", "h2");
    assert_int_equal(set_state(f, "h2", STORE_STATE_DEGRADED), 0);
    assert_int_equal(acquire(f, "w2", NULL), AUGUR_ENOCAPACITY);
}

static void claim_acquire_pick_skips_hosts_without_room(void **state)
{
    struct fx *f = *state;

    /* The safest hosts are too small; the pick falls through to the first
     * that fits, in both cpu and memory. */
    assert_int_equal(add_host(f, "small-cpu", 1, 1000), 0);
    assert_int_equal(add_host(f, "small-mem", 100, 1), 0);
    assert_int_equal(add_host(f, "risky", 100, 1000), 0);
    assert_int_equal(add_host(f, "riskier", 100, 1000), 0);
    assert_int_equal(set_score(f, "risky", 0.5), 0);
    assert_int_equal(set_score(f, "riskier", 0.9), 0);
    assert_int_equal(add_resource(f, "psu", "psu", 1000, 1000), 0);
    assert_int_equal(add_workload(f, "w1", 2, 2), 0);
    assert_picks(f, "w1", "risky");
    assert_int_equal(add_workload(f, "w2", 99, 999), 0);
    assert_int_equal(add_workload(f, "w3", 99, 999), 0);
    assert_picks(f, "w2", "riskier");
    assert_int_equal(acquire(f, "w3", NULL), AUGUR_ENOCAPACITY);
}

static void claim_acquire_pick_follows_score_changes(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 10, 10), 0);
    assert_int_equal(add_host(f, "h2", 10, 10), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(add_workload(f, "w2", 1, 1), 0);
    assert_int_equal(set_score(f, "h1", 0.8), 0);
    assert_picks(f, "w1", "h2");
    assert_int_equal(set_score(f, "h2", 0.9), 0);
    assert_int_equal(set_score(f, "h1", 0.0), 0);
    assert_picks(f, "w2", "h1");
}

/* ---- transfer --------------------------------------------------------- */

static void claim_transfer_moves_the_claim_and_its_capacity(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_host(f, "h2", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 3, 30), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(transfer(f, "w1", "h2", 1), 0);
    assert_claim(f, "w1", "h2", 2);
    assert_int_equal(used_cpu(f, "h1"), 0);
    assert_int_equal(used_mem(f, "h1"), 0);
    assert_int_equal(used_cpu(f, "h2"), 3);
    assert_int_equal(used_mem(f, "h2"), 30);
    assert_int_equal(transfer(f, "w1", "h1", 2), 0);
    assert_claim(f, "w1", "h1", 3);
    assert_int_equal(used_cpu(f, "h1"), 3);
    assert_int_equal(used_cpu(f, "h2"), 0);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_claim(f, "w1", "h1", 3);
}

static void claim_transfer_refuses_stale_epoch(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_host(f, "h2", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(transfer(f, "w1", "h2", 1), 0);
    assert_int_equal(transfer(f, "w1", "h1", 2), 0);
    digest(f, before);
    assert_int_equal(transfer(f, "w1", "h2", 2), AUGUR_ECONFLICT);
    assert_string_equal(ans_error(f), "workload w1 is held by h1 at epoch 3");
    assert_claim(f, "w1", "h1", 3);
    /* A future epoch is just as wrong. */
    assert_int_equal(transfer(f, "w1", "h2", 4), AUGUR_ECONFLICT);
    assert_digest(f, before);
}

static void claim_transfer_refuses_what_it_cannot_find(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(transfer(f, "w9", "h1", 1), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no workload named w9");
    assert_int_equal(transfer(f, "w1", "h1", 1), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "workload w1 holds no claim");
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(transfer(f, "w1", "h9", 1), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no resource named h9");
    assert_int_equal(store_revision(f->s), 3);
}

static void claim_transfer_refuses_a_target_that_cannot_take_it(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_host(f, "h2", 8, 100), 0);
    assert_int_equal(add_host(f, "tiny", 1, 100), 0);
    assert_int_equal(add_resource(f, "sw", "switch", 100, 100), 0);
    assert_int_equal(add_workload(f, "w1", 2, 2), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(set_state(f, "h2", STORE_STATE_QUARANTINED), 0);
    digest(f, before);
    assert_int_equal(transfer(f, "w1", "sw", 1), AUGUR_EINVAL);
    assert_int_equal(transfer(f, "w1", "h2", 1), AUGUR_EUNAVAILABLE);
    assert_int_equal(transfer(f, "w1", "tiny", 1), AUGUR_ENOCAPACITY);
    assert_digest(f, before);
    assert_int_equal(used_cpu(f, "h1"), 2);
}

static void claim_transfer_to_the_current_host_refences_it(void **state)
{
    struct fx *f = *state;

    /* The host is full with this very workload: re-fencing needs no room. */
    assert_int_equal(add_host(f, "h1", 2, 2), 0);
    assert_int_equal(add_workload(f, "w1", 2, 2), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(transfer(f, "w1", "h1", 1), 0);
    assert_claim(f, "w1", "h1", 2);
    assert_int_equal(used_cpu(f, "h1"), 2);
    assert_int_equal(transfer(f, "w1", "h1", 1), AUGUR_ECONFLICT);
    /* ... but the host must still be grantable. */
    assert_int_equal(set_state(f, "h1", STORE_STATE_DRAINING), 0);
    assert_int_equal(transfer(f, "w1", "h1", 2), AUGUR_EUNAVAILABLE);
}

/* ---- release ---------------------------------------------------------- */

static void claim_release_answers_the_claim_and_frees_capacity(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 5, 50), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(release(f, "w1", 1), 0);
    assert_claim(f, "w1", "h1", 1);
    assert_int_equal(used_cpu(f, "h1"), 0);
    assert_int_equal(used_mem(f, "h1"), 0);
    assert_int_equal(get_claim(f, "w1"), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "workload w1 holds no claim");
}

static void claim_release_refuses_stale_epoch_and_unheld(void **state)
{
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(release(f, "w9", 1), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "no workload named w9");
    assert_int_equal(release(f, "w1", 1), AUGUR_ENOTFOUND);
    assert_string_equal(ans_error(f), "workload w1 holds no claim");
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(transfer(f, "w1", "h1", 1), 0);
    digest(f, before);
    assert_int_equal(release(f, "w1", 1), AUGUR_ECONFLICT);
    assert_string_equal(ans_error(f), "workload w1 is held by h1 at epoch 2");
    assert_claim(f, "w1", "h1", 2);
    assert_digest(f, before);
}

static void claim_acquire_after_release_continues_the_epoch(void **state)
{
    struct fx *f = *state;

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_host(f, "h2", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    assert_int_equal(transfer(f, "w1", "h2", 1), 0);
    assert_int_equal(transfer(f, "w1", "h1", 2), 0);
    assert_int_equal(release(f, "w1", 3), 0);
    /* The holder fenced off at epoch 3 can never be confused with the next
     * one: the epoch goes on from 3. */
    assert_int_equal(acquire(f, "w1", "h2"), 0);
    assert_claim(f, "w1", "h2", 4);
    assert_int_equal(release(f, "w1", 3), AUGUR_ECONFLICT);
    assert_int_equal(release(f, "w1", 4), 0);
    assert_int_equal(acquire(f, "w1", NULL), 0);
    assert_int_equal(obj_u64(ans_result(f), "epoch"), 5);
}

/* Give @workload's live claim on @host the epoch @epoch, below the store:
 * the claim record [host, epoch] and the host index's epoch, encoded as
 * store/claims.c does.  2^64 - 2 transfers would get there too. */
static void claim_force_epoch(struct fx *f,
                              const char *workload,
                              const char *host,
                              uint64_t epoch)
{
    char key[2 * STORE_ID_SIZE];
    size_t klen = strlen(host) + 1 + strlen(workload);
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, host, strlen(host));
    msgpack_pack_uint64(&pk, epoch);
    fx_raw_put(f, "claims", workload, strlen(workload), sb.data, sb.size);
    sb.size = 0;
    msgpack_pack_uint64(&pk, epoch);
    memcpy(key, host, strlen(host) + 1);
    memcpy(key + strlen(host) + 1, workload, strlen(workload));
    fx_raw_put(f, "host_claims", key, klen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* An epoch at UINT64_MAX has no successor: transfer refuses to make one,
 * and so does the acquire after its release (it would wrap to 0), with the
 * same refusal, changing nothing. */
static void claim_acquire_refuses_exhausted_epochs_as_transfer_does(
    void **state)
{
    static const char exhausted[] = "the epochs of workload w1 are exhausted";
    struct fx *f = *state;
    unsigned char before[32];

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_host(f, "h2", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 3, 10), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    claim_force_epoch(f, "w1", "h1", UINT64_MAX);
    assert_int_equal(get_claim(f, "w1"), 0);
    assert_claim(f, "w1", "h1", UINT64_MAX);

    digest(f, before);
    assert_int_equal(transfer(f, "w1", "h2", UINT64_MAX), AUGUR_EINVAL);
    assert_string_equal(ans_error(f), exhausted);
    assert_int_equal(transfer(f, "w1", "h1", UINT64_MAX), AUGUR_EINVAL);
    assert_string_equal(ans_error(f), exhausted);
    assert_digest(f, before);

    /* Releasing the last epoch is allowed: it fences the holder off. */
    assert_int_equal(release(f, "w1", UINT64_MAX), 0);
    assert_int_equal(used_cpu(f, "h1"), 0);
    digest(f, before);
    assert_int_equal(acquire(f, "w1", "h1"), AUGUR_EINVAL);
    assert_string_equal(ans_error(f), exhausted);
    assert_int_equal(acquire(f, "w1", NULL), AUGUR_EINVAL);
    assert_string_equal(ans_error(f), exhausted);
    assert_digest(f, before);
    assert_int_equal(store_revision(f->s), 5);
    assert_int_equal(get_claim(f, "w1"), AUGUR_ENOTFOUND);
    assert_int_equal(used_cpu(f, "h1"), 0);
    assert_int_equal(used_cpu(f, "h2"), 0);
}

/* ---- reads ------------------------------------------------------------ */

static void workload_get_shows_its_claim(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    const msgpack_object *claim;

    assert_int_equal(add_host(f, "h1", 8, 100), 0);
    assert_int_equal(add_workload(f, "w1", 1, 1), 0);
    assert_int_equal(acquire(f, "w1", "h1"), 0);
    cmd_get(&c, STORE_OP_WORKLOAD_GET, "w1");
    assert_int_equal(fx_read(f, &c), 0);
    claim = obj_get(ans_result(f), "claim");
    assert_obj_str(claim, "host", "h1");
    assert_int_equal(obj_u64(claim, "epoch"), 1);
    assert_int_equal(release(f, "w1", 1), 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_true(obj_is_nil(ans_result(f), "claim"));
}

static void claim_list_filters_by_host_and_pages(void **state)
{
    struct fx *f = *state;
    const msgpack_object *items;
    struct store_cmd c;
    char w[8];

    assert_int_equal(add_host(f, "h1", 100, 100), 0);
    assert_int_equal(add_host(f, "h2", 100, 100), 0);
    for (int i = 0; i < 9; i++) {
        snprintf(w, sizeof w, "w%d", i);
        assert_int_equal(add_workload(f, w, 1, 1), 0);
        assert_int_equal(acquire(f, w, i % 3 == 0 ? "h2" : "h1"), 0);
    }
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, "h2", 0);
    assert_int_equal(fx_read(f, &c), 0);
    items = obj_get(ans_result(f), "items");
    assert_int_equal(items->via.array.size, 3);
    assert_obj_str(&items->via.array.ptr[0], "workload", "w0");
    assert_obj_str(&items->via.array.ptr[1], "workload", "w3");
    assert_obj_str(&items->via.array.ptr[2], "host", "h2");
    assert_int_equal(obj_u64(&items->via.array.ptr[2], "epoch"), 1);

    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, "h1", 4);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 4);
    assert_obj_str(ans_result(f), "next", "w5");
    cmd_list(&c, STORE_OP_CLAIM_LIST, "w5", "h1", 4);
    assert_int_equal(fx_read(f, &c), 0);
    items = obj_get(ans_result(f), "items");
    assert_int_equal(items->via.array.size, 2);
    assert_obj_str(&items->via.array.ptr[0], "workload", "w7");
    assert_true(obj_is_nil(ans_result(f), "next"));

    /* A transfer moves the claim between the host lists. */
    assert_int_equal(transfer(f, "w0", "h1", 1), 0);
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, "h2", 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 2);
    assert_int_equal(release(f, "w3", 1), 0);
    assert_int_equal(fx_read(f, &c), 0);
    assert_int_equal(obj_len(ans_result(f), "items"), 1);

    /* All claims: 8 of them, in workload order. */
    cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, NULL, 0);
    assert_int_equal(fx_read(f, &c), 0);
    items = obj_get(ans_result(f), "items");
    assert_int_equal(items->via.array.size, 8);
    assert_obj_str(&items->via.array.ptr[0], "workload", "w0");
    assert_obj_str(&items->via.array.ptr[0], "host", "h1");
    assert_int_equal(obj_u64(&items->via.array.ptr[0], "epoch"), 2);
    assert_obj_str(&items->via.array.ptr[3], "workload", "w4");
}

/* Not a benchmark: 10,000 acquires fill 100 hosts exactly, the accounting
 * adds up, and one more finds no room. */
static void ten_thousand_acquires_fill_the_fleet_exactly(void **state)
{
    struct fx *f = *state;
    struct store_cmd c;
    char id[16];
    unsigned total = 0;

    for (int h = 0; h < 100; h++) {
        snprintf(id, sizeof id, "host-%03d", h);
        assert_int_equal(add_host(f, id, 100, 100 * 64), 0);
    }
    for (int w = 0; w < 10000; w++) {
        snprintf(id, sizeof id, "wl-%05d", w);
        assert_int_equal(add_workload(f, id, 1, 64), 0);
        /* Half named, half picked. */
        if (w % 2 == 0) {
            char host[16];
            snprintf(host, sizeof host, "host-%03d", (w / 2) % 100);
            assert_int_equal(acquire(f, id, host), 0);
        } else {
            assert_int_equal(acquire(f, id, NULL), 0);
        }
        assert_int_equal(obj_u64(ans_result(f), "epoch"), 1);
    }
    assert_int_equal(store_revision(f->s), 100 + 2 * 10000);
    for (int h = 0; h < 100; h++) {
        snprintf(id, sizeof id, "host-%03d", h);
        assert_int_equal(used_cpu(f, id), 100);
        assert_int_equal(used_mem(f, id), 6400);
        cmd_list(&c, STORE_OP_CLAIM_LIST, NULL, id, 0);
        assert_int_equal(fx_read(f, &c), 0);
        assert_int_equal(obj_len(ans_result(f), "items"), 100);
        total += 100;
    }
    assert_int_equal(total, 10000);
    assert_int_equal(add_workload(f, "one-too-many", 1, 1), 0);
    assert_int_equal(acquire(f, "one-too-many", NULL), AUGUR_ENOCAPACITY);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(claim_acquire_grants_epoch_one_and_charges_the_host),
        T(claim_acquire_refuses_unknown_workload_and_host),
        T(claim_acquire_refuses_a_held_workload_naming_the_holder),
        T(claim_acquire_refuses_a_resource_that_is_no_host),
        T(claim_acquire_refuses_a_host_that_is_not_active),
        T(claim_acquire_refuses_a_host_without_room),
        T(claim_acquire_picks_the_lowest_failure_probability),
        T(claim_acquire_pick_breaks_ties_by_cpu_memory_then_id),
        T(claim_acquire_pick_never_grants_failed_or_draining_hosts),
        T(claim_acquire_pick_skips_hosts_without_room),
        T(claim_acquire_pick_follows_score_changes),
        T(claim_transfer_moves_the_claim_and_its_capacity),
        T(claim_transfer_refuses_stale_epoch),
        T(claim_transfer_refuses_what_it_cannot_find),
        T(claim_transfer_refuses_a_target_that_cannot_take_it),
        T(claim_transfer_to_the_current_host_refences_it),
        T(claim_release_answers_the_claim_and_frees_capacity),
        T(claim_release_refuses_stale_epoch_and_unheld),
        T(claim_acquire_after_release_continues_the_epoch),
        T(claim_acquire_refuses_exhausted_epochs_as_transfer_does),
        T(workload_get_shows_its_claim),
        T(claim_list_filters_by_host_and_pages),
        T(ten_thousand_acquires_fill_the_fleet_exactly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
