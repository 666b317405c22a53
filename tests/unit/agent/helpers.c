/* Helpers of the agent's unit tests (see helpers.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/agent/helpers.h"

const char *fixture(const char *rel)
{
    static char path[AGENT_PATH_MAX];

    snprintf(path, sizeof path, "%s/%s", AUGUR_AGENT_FIXTURES, rel);
    return path;
}

bool has_sample(const struct telemetry_batch *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(telemetry_sample_name(b, i), name) == 0) {
            return true;
        }
    }
    return false;
}

double sample(const struct telemetry_batch *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(telemetry_sample_name(b, i), name) == 0) {
            return b->s[i].value;
        }
    }
    fail_msg("no sample named %s", name);
    return 0;
}
