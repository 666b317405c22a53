/* Prepare-shutdown notices: a small fixed table, searched linearly (a
 * thousand slots at most, touched once per heartbeat). */
#include <string.h>

#include "common/error.h"
#include "node/notice.h"

void node_notices_init(struct node_notices *t)
{
    memset(t, 0, sizeof *t);
}

static struct node_notice *find(const struct node_notices *t, const char *host)
{
    for (unsigned i = 0; i < NODE_NOTICES_MAX; i++) {
        const struct node_notice *s = &t->slot[i];
        if (s->workflow != 0 && strcmp(s->host, host) == 0) {
            return (struct node_notice *)s;
        }
    }
    return NULL;
}

int node_notices_set(struct node_notices *t,
                     const char *host,
                     uint64_t workflow,
                     uint64_t deadline_ms)
{
    struct node_notice *s;
    size_t len = strlen(host);

    if (len == 0 || len >= STORE_ID_SIZE || workflow == 0) {
        return AUGUR_EINVAL;
    }
    s = find(t, host);
    if (s == NULL) {
        for (unsigned i = 0; i < NODE_NOTICES_MAX && s == NULL; i++) {
            if (t->slot[i].workflow == 0) {
                s = &t->slot[i];
            }
        }
        if (s == NULL) {
            return AUGUR_EBUSY;
        }
        t->n++;
        memcpy(s->host, host, len + 1);
        s->acked = false;
    } else if (s->workflow != workflow) {
        s->acked = false;
    }
    s->workflow = workflow;
    s->deadline_ms = deadline_ms;
    return 0;
}

void node_notices_clear(struct node_notices *t, const char *host)
{
    struct node_notice *s = find(t, host);
    if (s != NULL) {
        memset(s, 0, sizeof *s);
        t->n--;
    }
}

void node_notices_clear_all(struct node_notices *t)
{
    if (t->n > 0) {
        node_notices_init(t);
    }
}

const struct node_notice *node_notices_find(const struct node_notices *t,
                                            const char *host)
{
    return t->n > 0 ? find(t, host) : NULL;
}

bool node_notices_ack(struct node_notices *t,
                      const char *host,
                      uint64_t workflow)
{
    struct node_notice *s = t->n > 0 ? find(t, host) : NULL;
    if (s == NULL || s->workflow != workflow) {
        return false;
    }
    s->acked = true;
    return true;
}

bool node_notices_acked(const struct node_notices *t,
                        const char *host,
                        uint64_t workflow)
{
    const struct node_notice *s = node_notices_find(t, host);
    return s != NULL && s->workflow == workflow && s->acked;
}
