/* Helpers of the agent's unit tests: collecting a fixture tree into a
 * batch and looking samples up by name. */
#ifndef AUGUR_TESTS_AGENT_HELPERS_H
#define AUGUR_TESTS_AGENT_HELPERS_H

#include <stdbool.h>

#include "agent/agent.h"

/* The fixture directory @rel under tests/unit/agent/fixtures, in a static
 * buffer per call site's use (copy it before calling again). */
const char *fixture(const char *rel);

/* The value of the sample named @name in @b; fails the test when absent. */
double sample(const struct telemetry_batch *b, const char *name);
/* True when @b has a sample named @name. */
bool has_sample(const struct telemetry_batch *b, const char *name);

#endif
