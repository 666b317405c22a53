/* The replicated policy: the orchestrator's thresholds, limits and budgets
 * (policy.set, policy.get), each key with its default and its checks
 * (docs/ORCHESTRATOR.md "Policy"). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/ops.h"
#include "store/pack.h"
#include "store/store_int.h"

/* A value in the policy database is one msgpack object: a float for a
 * probability or a ratio, an unsigned integer, a boolean, or a string for
 * a step list, as its key says. */
enum key_type
{
    KEY_PROB,
    KEY_U64,     /* 0 allowed */
    KEY_U64_POS, /* must be positive: 0 makes no sense */
    KEY_BOOL,
    KEY_RATIO, /* a float in [1, 100]: a latency ratio */
    KEY_STEPS, /* text: a shift_steps list (store_shift_steps_parse) */
};

#define LEASE_MS_MIN 100
#define LEASE_MS_MAX 600000

struct key
{
    const char *name;
    enum key_type type;
    size_t off;   /* in struct store_policy */
    uint64_t max; /* integers: the largest value allowed */
};

/* clang-format off */
#define KEY(NAME, TYPE, MAX) {#NAME, TYPE, offsetof(struct store_policy, NAME), MAX}
static const struct key keys[] = {
    KEY(migrate_threshold, KEY_PROB, 0),
    KEY(provision_threshold, KEY_PROB, 0),
    KEY(hysteresis, KEY_PROB, 0),
    KEY(cooldown_s, KEY_U64, UINT64_MAX),
    KEY(host_cooldown_s, KEY_U64, UINT64_MAX),
    KEY(max_concurrent, KEY_U64_POS, UINT64_MAX),
    KEY(max_concurrent_cohort, KEY_U64_POS, UINT64_MAX),
    KEY(rate_per_min, KEY_U64_POS, UINT64_MAX),
    KEY(shadow_budget_cpu, KEY_U64, UINT64_MAX),
    KEY(shadow_budget_mem_mb, KEY_U64, UINT64_MAX),
    /* The bounds of augurd's --lease-ms (node/config.c): a lease of a few
     * ms would declare every host unreachable between two heartbeats. */
    KEY(lease_timeout_ms, KEY_U64_POS, LEASE_MS_MAX),
    KEY(automatic, KEY_BOOL, 0),
    KEY(step_timeout_ms, KEY_U64_POS, UINT64_MAX),
    KEY(max_attempts, KEY_U64_POS, UINT64_MAX),
    KEY(keep_warm_s, KEY_U64, UINT64_MAX),
    KEY(shutdown_deadline_ms, KEY_U64_POS, UINT64_MAX),
    KEY(traffic, KEY_BOOL, 0),
    KEY(shift_steps, KEY_STEPS, 0),
    KEY(shift_dwell_ms, KEY_U64_POS, UINT64_MAX),
    KEY(mirror_ms, KEY_U64_POS, UINT64_MAX),
    KEY(kpi_max_error_rate, KEY_PROB, 0),
    KEY(kpi_max_latency_ratio, KEY_RATIO, 0),
    KEY(target_cooldown_s, KEY_U64, UINT64_MAX),
};
/* clang-format on */
#undef KEY
#define N_KEYS (sizeof keys / sizeof keys[0])
void store_policy_defaults(struct store_policy *p)
{
    memset(p, 0, sizeof *p);
    p->migrate_threshold = 0.8;
    p->provision_threshold = 0.5;
    p->hysteresis = 0.1;
    p->cooldown_s = 300;
    p->host_cooldown_s = 600;
    p->max_concurrent = 16;
    p->max_concurrent_cohort = 1;
    p->rate_per_min = 30;
    p->shadow_budget_cpu = 64;
    p->shadow_budget_mem_mb = 65536;
    p->lease_timeout_ms = 1000;
    p->automatic = true;
    p->step_timeout_ms = 10000;
    p->max_attempts = 3;
    p->keep_warm_s = 60;
    p->shutdown_deadline_ms = 5000;
    p->traffic = false;
    snprintf(p->shift_steps, sizeof p->shift_steps, "%s", "1,5,25,50,100");
    p->shift_dwell_ms = 3000;
    p->mirror_ms = 3000;
    p->kpi_max_error_rate = 0.01;
    p->kpi_max_latency_ratio = 2.0;
    p->target_cooldown_s = 600;
}

__attribute__((format(printf, 4, 5))) static int steps_refuse(
    struct store_shift_steps *out,
    char *why,
    size_t why_size,
    const char *fmt,
    ...)
{
    va_list ap;

    memset(out, 0, sizeof *out);
    if (why != NULL && why_size > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return AUGUR_EINVAL;
}

/* A step list: the one parser of shift_steps (docs/ORCHESTRATOR.md). */
int store_shift_steps_parse(const char *s,
                            struct store_shift_steps *out,
                            char *why,
                            size_t why_size)
{
    const char *p = s;

    memset(out, 0, sizeof *out);
    if (why != NULL && why_size > 0) {
        why[0] = '\0';
    }
    if (s == NULL || *s == '\0') {
        return steps_refuse(out, why, why_size, "steps: empty list");
    }
    for (;;) {
        unsigned long v = 0;
        bool digits = false;

        while (*p == ' ') {
            p++;
        }
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (unsigned long)(*p - '0');
            if (v > 1000) {
                v = 1000; /* large enough to be refused below */
            }
            digits = true;
            p++;
        }
        while (*p == ' ') {
            p++;
        }
        if (!digits) {
            return steps_refuse(out, why, why_size,
                                "steps: expected a number at step %lu",
                                (unsigned long)out->n + 1);
        }
        if (v < 1 || v > 100) {
            return steps_refuse(out, why, why_size,
                                "steps: %lu is outside 1..100", v);
        }
        if (out->n > 0 && v <= out->pct[out->n - 1]) {
            return steps_refuse(out, why, why_size,
                                "steps: %lu does not increase", v);
        }
        if (out->n == STORE_SHIFT_STEPS_MAX) {
            return steps_refuse(out, why, why_size, "steps: more than %lu",
                                (unsigned long)STORE_SHIFT_STEPS_MAX);
        }
        out->pct[out->n++] = (unsigned)v;
        if (*p == '\0') {
            break;
        }
        if (*p != ',') {
            return steps_refuse(out, why, why_size,
                                "steps: unexpected character after step %lu",
                                (unsigned long)out->n);
        }
        p++;
    }
    if (out->pct[out->n - 1] != 100) {
        return steps_refuse(out, why, why_size,
                            "steps: the last step is %lu, not 100",
                            (unsigned long)out->pct[out->n - 1]);
    }
    return 0;
}

static bool u64_ok(const struct key *k, uint64_t v)
{
    uint64_t min = k->type == KEY_U64_POS ? 1 : 0;

    if (strcmp(k->name, "lease_timeout_ms") == 0) {
        min = LEASE_MS_MIN;
    }
    return v >= min && v <= k->max;
}

static const struct key *key_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strlen(keys[i].name) == len &&
            memcmp(keys[i].name, name, len) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

/* A value of the key's type, checked, into its field of @p. */
union value
{
    double d;
    uint64_t u;
    bool b;
    char t[STORE_SHIFT_STEPS_SIZE];
};

static void value_put(struct store_policy *p,
                      const struct key *k,
                      const union value *v)
{
    char *f = (char *)p + k->off;

    switch (k->type) {
        case KEY_PROB:
            memcpy(f, &v->d, sizeof v->d);
            break;
        case KEY_U64:
        case KEY_U64_POS:
            memcpy(f, &v->u, sizeof v->u);
            break;
        case KEY_BOOL:
            memcpy(f, &v->b, sizeof v->b);
            break;
        case KEY_RATIO:
            memcpy(f, &v->d, sizeof v->d);
            break;
        case KEY_STEPS:
            memcpy(f, v->t, sizeof v->t);
            break;
    }
}

static void value_get(const struct store_policy *p,
                      const struct key *k,
                      union value *v)
{
    const char *f = (const char *)p + k->off;

    switch (k->type) {
        case KEY_PROB:
            memcpy(&v->d, f, sizeof v->d);
            break;
        case KEY_U64:
        case KEY_U64_POS:
            memcpy(&v->u, f, sizeof v->u);
            break;
        case KEY_BOOL:
            memcpy(&v->b, f, sizeof v->b);
            break;
        case KEY_RATIO:
            memcpy(&v->d, f, sizeof v->d);
            break;
        case KEY_STEPS:
            memcpy(v->t, f, sizeof v->t);
            break;
    }
}

/* A stored value: 0 or AUGUR_EMALFORMED. */
static int value_decode(struct store *s,
                        const struct key *k,
                        const MDB_val *v,
                        union value *out)
{
    msgpack_object o;

    if (store__unpack(s, v->mv_data, v->mv_size, &o) != 0) {
        return AUGUR_EMALFORMED;
    }
    switch (k->type) {
        case KEY_PROB:
            if (o.type != MSGPACK_OBJECT_FLOAT64 ||
                !(o.via.f64 >= 0.0 && o.via.f64 <= 1.0)) {
                return AUGUR_EMALFORMED;
            }
            out->d = o.via.f64 + 0.0;
            return 0;
        case KEY_U64:
        case KEY_U64_POS:
            if (store__obj_u64(&o, &out->u) != 0 || !u64_ok(k, out->u)) {
                return AUGUR_EMALFORMED;
            }
            return 0;
        case KEY_BOOL:
            if (o.type != MSGPACK_OBJECT_BOOLEAN) {
                return AUGUR_EMALFORMED;
            }
            out->b = o.via.boolean;
            return 0;
        case KEY_RATIO:
            if (o.type != MSGPACK_OBJECT_FLOAT64 ||
                !(o.via.f64 >= 1.0 && o.via.f64 <= 100.0)) {
                return AUGUR_EMALFORMED;
            }
            out->d = o.via.f64;
            return 0;
        case KEY_STEPS: {
            struct store_shift_steps st;

            if (o.type != MSGPACK_OBJECT_STR ||
                o.via.str.size >= sizeof out->t ||
                memchr(o.via.str.ptr, 0, o.via.str.size) != NULL) {
                return AUGUR_EMALFORMED;
            }
            memset(out->t, 0, sizeof out->t);
            memcpy(out->t, o.via.str.ptr, o.via.str.size);
            if (store_shift_steps_parse(out->t, &st, NULL, 0) != 0) {
                return AUGUR_EMALFORMED;
            }
            return 0;
        }
    }
    return AUGUR_EMALFORMED;
}

static void value_pack(struct store__pack *p,
                       const struct key *k,
                       const union value *v)
{
    switch (k->type) {
        case KEY_PROB:
            msgpack_pack_double(&p->pk, v->d);
            break;
        case KEY_U64:
        case KEY_U64_POS:
            msgpack_pack_uint64(&p->pk, v->u);
            break;
        case KEY_BOOL:
            if (v->b) {
                msgpack_pack_true(&p->pk);
            } else {
                msgpack_pack_false(&p->pk);
            }
            break;
        case KEY_RATIO:
            msgpack_pack_double(&p->pk, v->d);
            break;
        case KEY_STEPS:
            store__pack_str(p, v->t);
            break;
    }
}

/* Parse @text as a value of @k: 0, or a refusal's reason in @why (@buf
 * holds it when it is built). */
static int value_parse(const struct key *k,
                       const char *text,
                       union value *out,
                       const char **why,
                       char *buf,
                       size_t buf_size)
{
    struct store_shift_steps st;
    char reason[64];
    char *end;

    switch (k->type) {
        case KEY_PROB:
            errno = 0;
            out->d = strtod(text, &end);
            if (end == text || *end != '\0' || errno != 0 ||
                !(out->d >= 0.0 && out->d <= 1.0)) {
                *why = "a probability in [0, 1]";
                return AUGUR_EINVAL;
            }
            out->d += 0.0;
            return 0;
        case KEY_U64:
        case KEY_U64_POS:
            *why = strcmp(k->name, "lease_timeout_ms") == 0
                       ? "an integer from 100 to 600000"
                   : k->type == KEY_U64_POS ? "a positive integer"
                                            : "a non-negative integer";
            if (text[0] < '0' || text[0] > '9') {
                return AUGUR_EINVAL;
            }
            errno = 0;
            out->u = strtoull(text, &end, 10);
            if (*end != '\0' || errno != 0 || !u64_ok(k, out->u)) {
                return AUGUR_EINVAL;
            }
            return 0;
        case KEY_BOOL:
            *why = "true or false";
            if (strcmp(text, "true") == 0) {
                out->b = true;
                return 0;
            }
            if (strcmp(text, "false") == 0) {
                out->b = false;
                return 0;
            }
            return AUGUR_EINVAL;
        case KEY_RATIO:
            *why = "a number from 1 to 100";
            errno = 0;
            out->d = strtod(text, &end);
            if (end == text || *end != '\0' || errno != 0 ||
                !(out->d >= 1.0 && out->d <= 100.0)) {
                return AUGUR_EINVAL;
            }
            return 0;
        case KEY_STEPS:
            memset(out->t, 0, sizeof out->t);
            if (strlen(text) >= sizeof out->t) {
                snprintf(buf, buf_size, "at most %zu characters",
                         sizeof out->t - 1);
                *why = buf;
                return AUGUR_EINVAL;
            }
            if (store_shift_steps_parse(text, &st, reason, sizeof reason) !=
                0) {
                snprintf(buf, buf_size, "a step list like 1,5,25,50,100 (%s)",
                         reason);
                *why = buf;
                return AUGUR_EINVAL;
            }
            /* Stored canonical: "10, 50 ,100" is kept as "10,50,100". */
            for (unsigned i = 0, n = 0; i < st.n; i++) {
                n += (unsigned)snprintf(out->t + n, sizeof out->t - n,
                                        i == 0 ? "%u" : ",%u", st.pct[i]);
            }
            return 0;
    }
    return AUGUR_EINVAL;
}

/* The policy of @txn into @p, and which keys were set (@set: N_KEYS
 * entries, or NULL). */
static int policy_load(struct store *s,
                       MDB_txn *txn,
                       struct store_policy *p,
                       bool *set);

int store__policy_load(struct store *s, MDB_txn *txn, struct store_policy *p)
{
    return policy_load(s, txn, p, NULL);
}

static int policy_load(struct store *s,
                       MDB_txn *txn,
                       struct store_policy *p,
                       bool *set)
{
    store_policy_defaults(p);
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        union value v;
        MDB_val val;
        int rv;

        if (set != NULL) {
            set[i] = false;
        }
        rv = store__get(s, txn, STORE__DB_POLICY, k->name, strlen(k->name),
                        &val);
        if (rv == AUGUR_ENOTFOUND) {
            continue;
        }
        if (rv != 0) {
            return rv;
        }
        if (value_decode(s, k, &val, &v) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "the policy value of %s is corrupt", k->name);
            return AUGUR_EIO;
        }
        value_put(p, k, &v);
        if (set != NULL) {
            set[i] = true;
        }
    }
    return 0;
}

/* The checks across keys; NULL when @p holds together. */
static const char *policy_incoherent(const struct store_policy *p)
{
    if (p->provision_threshold > p->migrate_threshold) {
        return "provision_threshold must not exceed migrate_threshold";
    }
    if (p->hysteresis >= p->migrate_threshold) {
        return "hysteresis must be below migrate_threshold";
    }
    return NULL;
}

int store__policy_set(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    const char *name = cmd->u.policy.key;
    const char *text = cmd->u.policy.value;
    const struct key *k = key_find(name, strlen(name));
    struct store_policy p;
    struct store__pack pk;
    const char *why = NULL;
    char why_buf[128];
    union value v;
    int rv;

    if (k == NULL) {
        /* The keys do not fit in one error line: the refusal carries them
         * as its result. */
        store__refuse(s, AUGUR_EINVAL,
                      "policy.set: unknown key %.64s (the keys: migrate_"
                      "threshold, provision_threshold, hysteresis, ...; "
                      "all %zu in the answer's 'keys' and in 'augur policy "
                      "get')",
                      name, N_KEYS);
        msgpack_pack_map(&s->out.pk, 1);
        store__pack_str(&s->out, "keys");
        msgpack_pack_array(&s->out.pk, N_KEYS);
        for (size_t i = 0; i < N_KEYS; i++) {
            store__pack_str(&s->out, keys[i].name);
        }
        return 0;
    }
    if (value_parse(k, text, &v, &why, why_buf, sizeof why_buf) != 0) {
        return store__refuse(s, AUGUR_EINVAL,
                             "policy.set: %s must be %s, not '%.60s'", name,
                             why, text);
    }
    rv = policy_load(s, txn, &p, NULL);
    if (rv != 0) {
        return rv;
    }
    value_put(&p, k, &v);
    why = policy_incoherent(&p);
    if (why != NULL) {
        return store__refuse(s, AUGUR_EINVAL, "policy.set: %s=%s: %s", name,
                             text, why);
    }
    s->value.size = 0;
    store__pack_init(&pk, &s->value);
    value_pack(&pk, k, &v);
    if (pk.failed) {
        return AUGUR_ENOMEM;
    }
    rv = store__put(s, txn, STORE__DB_POLICY, k->name, strlen(k->name),
                    s->value.data, s->value.size);
    if (rv != 0) {
        return rv;
    }
    msgpack_pack_map(&s->out.pk, 2);
    store__pack_str(&s->out, "key");
    store__pack_str(&s->out, k->name);
    store__pack_str(&s->out, "value");
    value_pack(&s->out, k, &v);
    return 0;
}

/* {"keys": [{"key", "value", "default"}, ...]} in the table's order. */
int store__policy_get(struct store *s,
                      MDB_txn *txn,
                      const struct store_cmd *cmd)
{
    bool set[N_KEYS];
    struct store_policy p;
    int rv;

    (void)cmd;
    rv = policy_load(s, txn, &p, set);
    if (rv != 0) {
        return rv;
    }
    msgpack_pack_map(&s->out.pk, 1);
    store__pack_str(&s->out, "keys");
    msgpack_pack_array(&s->out.pk, N_KEYS);
    for (size_t i = 0; i < N_KEYS; i++) {
        union value v;

        value_get(&p, &keys[i], &v);
        msgpack_pack_map(&s->out.pk, 3);
        store__pack_str(&s->out, "key");
        store__pack_str(&s->out, keys[i].name);
        store__pack_str(&s->out, "value");
        value_pack(&s->out, &keys[i], &v);
        store__pack_str(&s->out, "default");
        if (set[i]) {
            msgpack_pack_false(&s->out.pk);
        } else {
            msgpack_pack_true(&s->out.pk);
        }
    }
    return 0;
}

int store__policy_entry_check(struct store *s,
                              const MDB_val *k,
                              const MDB_val *v)
{
    const struct key *key = key_find(k->mv_data, k->mv_size);
    union value val;

    if (key == NULL) {
        return AUGUR_EMALFORMED;
    }
    return value_decode(s, key, v, &val);
}

int store_policy_get(struct store *s, struct store_policy *out)
{
    int rc = mdb_txn_renew(s->rtxn);
    int rv;

    if (rc != 0) {
        store_policy_defaults(out);
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = policy_load(s, s->rtxn, out, NULL);
    mdb_txn_reset(s->rtxn);
    return rv;
}

int store_policy_lease_timeout(struct store *s, bool *set, uint64_t *ms)
{
    struct store_policy p;
    bool given[N_KEYS];
    int rc = mdb_txn_renew(s->rtxn);
    int rv;

    *set = false;
    *ms = 0;
    if (rc != 0) {
        return store__mdb_fail(s, rc, "mdb_txn_renew");
    }
    rv = policy_load(s, s->rtxn, &p, given);
    mdb_txn_reset(s->rtxn);
    if (rv != 0) {
        return rv;
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].name, "lease_timeout_ms") == 0 && given[i]) {
            *set = true;
            *ms = p.lease_timeout_ms;
        }
    }
    return 0;
}
