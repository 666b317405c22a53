/* The failing allocator of the allocation-failure sweeps (api_alloc_test,
 * api_public_alloc_test): a test executable linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc and fault_alloc.c sees its
 * allocations fail once, at a chosen count, on the thread that armed it. */
#ifndef AUGUR_TEST_FAULT_ALLOC_H
#define AUGUR_TEST_FAULT_ALLOC_H

/* Let @countdown allocations of this thread succeed, fail the next one,
 * then succeed again (one failure per run: a retry must recover). */
void fault_arm(long countdown);

/* Stop failing; returns whether the armed failure happened. */
int fault_disarm(void);

#endif
