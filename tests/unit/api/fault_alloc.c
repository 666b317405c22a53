/* The failing allocator of the allocation-failure sweeps (fault_alloc.h). */
#include "fault_alloc.h"

#include <stddef.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

/* Per thread, so that the fake server's thread never fails or counts. */
static _Thread_local int fault_armed;
static _Thread_local long fault_countdown; /* allocations left to succeed */
static _Thread_local int fault_hit;

static int fault_should_fail(void)
{
    if (!fault_armed) {
        return 0;
    }
    if (fault_countdown == 0) {
        fault_hit = 1;
        fault_armed = 0; /* one failure per run: the retry must recover */
        return 1;
    }
    fault_countdown--;
    return 0;
}

void *__wrap_malloc(size_t size)
{
    return fault_should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fault_should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fault_should_fail() ? NULL : __real_realloc(p, size);
}

void fault_arm(long countdown)
{
    fault_countdown = countdown;
    fault_hit = 0;
    fault_armed = 1;
}

int fault_disarm(void)
{
    fault_armed = 0;
    return fault_hit;
}
