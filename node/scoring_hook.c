/* The leader's scoring hook, a no-op until leader-side scoring lands:
 * replaced by node/scoring.c (issue 13, scoring). */
#include "node/node.h"

void node__scoring_observe(struct node *n, const struct telemetry_batch *b)
{
    (void)n;
    (void)b;
}
