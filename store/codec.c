/* The command codec's reading half: op, state and kind names, validation,
 * and the msgpack decoding of commands (encode.c writes them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "store/pack.h"
#include "store/store_int.h"

/* ---- names ------------------------------------------------------------ */

/* The wire names and kinds of common/ops.h's rows. */
static const struct
{
    enum store_op op;
    const char *name;
    bool write;
} op_names[] = {
#define STORE_OP__NAME(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    {STORE_OP_##ID, WIRE, STORE_OP__##ACCESS},
#define STORE_OP__W true
#define STORE_OP__R false
    AUGUR_STORE_OPS(STORE_OP__NAME)
#undef STORE_OP__NAME
#undef STORE_OP__W
#undef STORE_OP__R
};

/* The argument fields of every op, from common/ops.h's ARGS column. */
#define STORE__FLAG_REQ STORE__F_REQ
#define STORE__FLAG_OPT 0u
#define STORE__FLAG_OMIT (STORE__F_EMPTY | STORE__F_OMIT)
#define STORE__FLAG_REQ_EMPTY (STORE__F_REQ | STORE__F_EMPTY)
#define STORE__FLAG_REQ_POS (STORE__F_REQ | STORE__F_POS)
#define F(KEY, TYPE, FLAGS, MEMBER)              \
    {#KEY, STORE__T_##TYPE, STORE__FLAG_##FLAGS, \
     offsetof(struct store_cmd, u.MEMBER),       \
     sizeof(((struct store_cmd *)0)->u.MEMBER)},
#define STORE_OP__FIELDS(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    static const struct store__field fields_##ID[] = {ARGS{0}};
AUGUR_STORE_OPS(STORE_OP__FIELDS)
#undef STORE_OP__FIELDS
#undef F

const struct store__field *store__op_fields(enum store_op op)
{
    switch (op) {
#define STORE_OP__CASE(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    case STORE_OP_##ID:                                            \
        return fields_##ID;
        AUGUR_STORE_OPS(STORE_OP__CASE)
#undef STORE_OP__CASE
        default:
            return NULL;
    }
}

static const char *const state_names[STORE_STATE_COUNT] = {
    [STORE_STATE_ACTIVE] = "active",
    [STORE_STATE_STANDBY] = "standby",
    [STORE_STATE_DEGRADED] = "degraded",
    [STORE_STATE_DRAINING] = "draining",
    [STORE_STATE_FAILED] = "failed",
    [STORE_STATE_QUARANTINED] = "quarantined",
    [STORE_STATE_UNREACHABLE] = "unreachable",
};

static const char *const edge_kind_names[STORE_EDGE_COUNT] = {
    [STORE_EDGE_POWER] = "power",     [STORE_EDGE_NETWORK] = "network",
    [STORE_EDGE_STORAGE] = "storage", [STORE_EDGE_WORKLOAD] = "workload",
    [STORE_EDGE_COOLING] = "cooling",
};

static const char *const spread_names[STORE_SPREAD_COUNT] = {
    [STORE_SPREAD_NONE] = "none", [STORE_SPREAD_HOST] = "host",
    [STORE_SPREAD_RACK] = "rack", [STORE_SPREAD_ZONE] = "zone",
    [STORE_SPREAD_PSU] = "psu",   [STORE_SPREAD_SWITCH] = "switch",
};

static const char *const strategy_names[STORE_STRATEGY_COUNT] = {
    [STORE_STRATEGY_LIVE] = "live",
    [STORE_STRATEGY_STANDBY] = "standby",
    [STORE_STRATEGY_BLUE_GREEN] = "blue-green",
};

static const char *const wf_reason_names[STORE_REASON_COUNT] = {
    [STORE_REASON_PREDICTED] = "predicted",
    [STORE_REASON_FAILED] = "failed",
    [STORE_REASON_MANUAL] = "manual",
    [STORE_REASON_REBALANCE] = "rebalance",
};

static const char *const wf_state_names[STORE_WF_STATE_COUNT] = {
    [STORE_WF_PENDING] = "pending", [STORE_WF_RUNNING] = "running",
    [STORE_WF_DONE] = "done",       [STORE_WF_ROLLED_BACK] = "rolled_back",
    [STORE_WF_FAILED] = "failed",   [STORE_WF_CANCELLED] = "cancelled",
};

static const char *const step_state_names[STORE_STEP_STATE_COUNT] = {
    [STORE_STEP_PENDING] = "pending", [STORE_STEP_RUNNING] = "running",
    [STORE_STEP_DONE] = "done",       [STORE_STEP_FAILED] = "failed",
    [STORE_STEP_SKIPPED] = "skipped",
};

static const char *const wf_event_names[STORE_WF_EVENT_COUNT] = {
    [STORE_WF_EVENT_START] = "start", [STORE_WF_EVENT_OK] = "ok",
    [STORE_WF_EVENT_RETRY] = "retry", [STORE_WF_EVENT_FAIL] = "fail",
    [STORE_WF_EVENT_SKIP] = "skip",
};

static const char *const shadow_state_names[STORE_SHADOW_STATE_COUNT] = {
    [STORE_SHADOW_PROVISIONING] = "provisioning",
    [STORE_SHADOW_WARM] = "warm",
    [STORE_SHADOW_ACTIVE] = "active",
    [STORE_SHADOW_RELEASED] = "released",
};

static const char *name_of(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : NULL;
}

enum store_op store_op_from_name(const char *name, size_t len)
{
    if (name == NULL) {
        return STORE_OP_NONE;
    }
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (strlen(op_names[i].name) == len &&
            memcmp(op_names[i].name, name, len) == 0) {
            return op_names[i].op;
        }
    }
    return STORE_OP_NONE;
}

const char *store_op_name(enum store_op op)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (op_names[i].op == op) {
            return op_names[i].name;
        }
    }
    return NULL;
}

int store_op_is_write(enum store_op op)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (op_names[i].op == op) {
            return op_names[i].write;
        }
    }
    return 0;
}

static int name_parse(const char *const *names,
                      int n,
                      const char *name,
                      size_t len)
{
    if (name == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) {
            return i;
        }
    }
    return -1;
}

int store_state_parse(const char *name, size_t len)
{
    return name_parse(state_names, STORE_STATE_COUNT, name, len);
}

const char *store_state_name(int state)
{
    if (state < 0 || state >= STORE_STATE_COUNT) {
        return NULL;
    }
    return state_names[state];
}

int store_spread_parse(const char *name, size_t len)
{
    return name_parse(spread_names, STORE_SPREAD_COUNT, name, len);
}

const char *store_spread_name(int spread)
{
    if (spread < 0 || spread >= STORE_SPREAD_COUNT) {
        return NULL;
    }
    return spread_names[spread];
}

int store_edge_kind_parse(const char *name, size_t len)
{
    return name_parse(edge_kind_names, STORE_EDGE_COUNT, name, len);
}

const char *store_edge_kind_name(int kind)
{
    if (kind < 0 || kind >= STORE_EDGE_COUNT) {
        return NULL;
    }
    return edge_kind_names[kind];
}

#define NAMES__DEFINE(PREFIX, TABLE, COUNT) \
    const char *PREFIX##_name(int v)        \
    {                                       \
        return name_of(TABLE, COUNT, v);    \
    }
NAMES__DEFINE(store_strategy, strategy_names, STORE_STRATEGY_COUNT)
NAMES__DEFINE(store_wf_reason, wf_reason_names, STORE_REASON_COUNT)
NAMES__DEFINE(store_wf_state, wf_state_names, STORE_WF_STATE_COUNT)
NAMES__DEFINE(store_step_state, step_state_names, STORE_STEP_STATE_COUNT)
NAMES__DEFINE(store_wf_event, wf_event_names, STORE_WF_EVENT_COUNT)
NAMES__DEFINE(store_shadow_state, shadow_state_names, STORE_SHADOW_STATE_COUNT)
#undef NAMES__DEFINE

int store_strategy_parse(const char *name, size_t len)
{
    return name_parse(strategy_names, STORE_STRATEGY_COUNT, name, len);
}

int store_wf_reason_parse(const char *name, size_t len)
{
    return name_parse(wf_reason_names, STORE_REASON_COUNT, name, len);
}

int store_wf_state_parse(const char *name, size_t len)
{
    return name_parse(wf_state_names, STORE_WF_STATE_COUNT, name, len);
}

int store_wf_event_parse(const char *name, size_t len)
{
    return name_parse(wf_event_names, STORE_WF_EVENT_COUNT, name, len);
}

int store_shadow_state_parse(const char *name, size_t len)
{
    return name_parse(shadow_state_names, STORE_SHADOW_STATE_COUNT, name, len);
}

/* ---- validation ------------------------------------------------------- */

static bool id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
           c == '@' || c == '-';
}

bool store__id_valid(const char *id, size_t len)
{
    if (len == 0 || len >= STORE_ID_SIZE) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!id_char((unsigned char)id[i])) {
            return false;
        }
    }
    return true;
}

static int fail(char *errmsg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errmsg, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errmsg, STORE_ERRMSG_SIZE, fmt, ap);
    va_end(ap);
    return code;
}

/* A bounded string field of a command: its length, or @size when it is not
 * NUL-terminated inside its array. */
static size_t field_len(const char *field, size_t size)
{
    return strnlen(field, size);
}

static int check_id(const char *op,
                    const char *key,
                    const char *id,
                    bool optional,
                    char *errmsg)
{
    size_t len = field_len(id, STORE_ID_SIZE);

    if (len == STORE_ID_SIZE) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: '%s' is longer than %d bytes",
                    op, key, STORE_ID_SIZE - 1);
    }
    if (len == 0 && optional) {
        return 0;
    }
    if (!store__id_valid(id, len)) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be 1 to %d bytes of [A-Za-z0-9._:@-]", op,
                    key, STORE_ID_SIZE - 1);
    }
    return 0;
}

/* An agent's scope: up to STORE_PRINCIPAL_RESOURCES_MAX ids, only for
 * role agent (another role reports for every resource, so a list there
 * would only mislead), and none twice. */
static int check_resources(const char *op,
                           const struct store_cmd *cmd,
                           char *errmsg)
{
    unsigned n = cmd->u.principal.n_resources;

    if (n > STORE_PRINCIPAL_RESOURCES_MAX) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: more than %d resources", op,
                    STORE_PRINCIPAL_RESOURCES_MAX);
    }
    if (n > 0 && cmd->u.principal.role != STORE_ROLE_AGENT) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: 'resources' is only for role agent (the other "
                    "roles may report for every resource)",
                    op);
    }
    for (unsigned i = 0; i < n; i++) {
        int rv = check_id(op, "resources", cmd->u.principal.resources[i], false,
                          errmsg);
        if (rv != 0) {
            return rv;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cmd->u.principal.resources[i],
                       cmd->u.principal.resources[j]) == 0) {
                return fail(errmsg, AUGUR_EINVAL,
                            "%s: resource %s is listed twice", op,
                            cmd->u.principal.resources[i]);
            }
        }
    }
    return 0;
}

static int check_kind(const char *op, const char *kind, char *errmsg)
{
    size_t len = field_len(kind, STORE_KIND_SIZE);

    if (len == STORE_KIND_SIZE) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: 'kind' is longer than %d bytes",
                    op, STORE_KIND_SIZE - 1);
    }
    if (!store__id_valid(kind, len)) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: 'kind' must be 1 to %d bytes of [A-Za-z0-9._:@-]", op,
                    STORE_KIND_SIZE - 1);
    }
    return 0;
}

static int check_labels(const char *op,
                        const struct store_cmd *cmd,
                        char *errmsg)
{
    unsigned n = cmd->u.resource_add.n_labels;

    if (n > STORE_LABELS_MAX) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: more than %d labels", op,
                    STORE_LABELS_MAX);
    }
    for (unsigned i = 0; i < n; i++) {
        const struct store_label *l = &cmd->u.resource_add.labels[i];
        size_t klen = field_len(l->key, STORE_LABEL_KEY_SIZE);
        size_t vlen = field_len(l->value, STORE_LABEL_VALUE_SIZE);

        if (klen == STORE_LABEL_KEY_SIZE) {
            return fail(errmsg, AUGUR_ETOOBIG,
                        "%s: label key is longer than %d bytes", op,
                        STORE_LABEL_KEY_SIZE - 1);
        }
        if (vlen == STORE_LABEL_VALUE_SIZE) {
            return fail(errmsg, AUGUR_ETOOBIG,
                        "%s: value of label '%s' is longer than %d bytes", op,
                        l->key, STORE_LABEL_VALUE_SIZE - 1);
        }
        if (klen == 0) {
            return fail(errmsg, AUGUR_EINVAL, "%s: empty label key", op);
        }
        for (size_t j = 0; j < klen; j++) {
            unsigned char c = (unsigned char)l->key[j];
            if (!id_char(c) && c != '/') {
                return fail(errmsg, AUGUR_EINVAL,
                            "%s: label key '%s' must be [A-Za-z0-9._:@/-]", op,
                            l->key);
            }
        }
        for (size_t j = 0; j < vlen; j++) {
            unsigned char c = (unsigned char)l->value[j];
            if (c < 0x20 || c == 0x7f) {
                return fail(errmsg, AUGUR_EINVAL,
                            "%s: value of label '%s' has a control character",
                            op, l->key);
            }
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cmd->u.resource_add.labels[j].key, l->key) == 0) {
                return fail(errmsg, AUGUR_EINVAL, "%s: label '%s' given twice",
                            op, l->key);
            }
        }
    }
    return 0;
}

static int check_address(const char *op,
                         const char *key,
                         const char *addr,
                         char *errmsg)
{
    size_t len = field_len(addr, STORE_ADDR_SIZE);

    if (len == STORE_ADDR_SIZE) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: '%s' is longer than %d bytes",
                    op, key, STORE_ADDR_SIZE - 1);
    }
    if (len == 0) {
        return fail(errmsg, AUGUR_EINVAL, "%s: '%s' is empty", op, key);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c <= 0x20 || c >= 0x7f) {
            return fail(errmsg, AUGUR_EINVAL,
                        "%s: '%s' must be printable ASCII without spaces", op,
                        key);
        }
    }
    return 0;
}

/* A public key: 64 lowercase hex digits. */
static int check_key(const char *op, const char *key, char *errmsg)
{
    size_t len = field_len(key, STORE_KEY_HEX_SIZE);
    bool ok = len == STORE_KEY_HEX_SIZE - 1;

    for (size_t i = 0; ok && i < len; i++) {
        ok = (key[i] >= '0' && key[i] <= '9') ||
             (key[i] >= 'a' && key[i] <= 'f');
    }
    if (!ok) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: 'key' must be a public key of 64 lowercase hex digits",
                    op);
    }
    return 0;
}

/* A checksum: 64 lowercase hex digits. */
static int check_hex64(const char *op,
                       const char *key,
                       const char *hex,
                       char *errmsg)
{
    size_t len = field_len(hex, STORE_DIGEST_HEX_SIZE);
    bool ok = len == STORE_DIGEST_HEX_SIZE - 1;

    for (size_t i = 0; ok && i < len; i++) {
        ok = (hex[i] >= '0' && hex[i] <= '9') ||
             (hex[i] >= 'a' && hex[i] <= 'f');
    }
    if (!ok) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be 64 lowercase hex digits (BLAKE2b-256)",
                    op, key);
    }
    return 0;
}

/* A feature name: [A-Za-z0-9._:@/-], as a label key. */
bool store__feature_valid(const char *name, size_t len)
{
    if (len == 0 || len >= STORE_FEATURE_SIZE) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!id_char((unsigned char)name[i]) && name[i] != '/') {
            return false;
        }
    }
    return true;
}

static int check_reasons(const char *op,
                         const struct store_cmd *cmd,
                         char *errmsg)
{
    unsigned n = cmd->u.score.n_reasons;

    if (n > STORE_REASONS_MAX) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: more than %d reasons", op,
                    STORE_REASONS_MAX);
    }
    for (unsigned i = 0; i < n; i++) {
        const struct store_reason *r = &cmd->u.score.reasons[i];
        double c = r->contribution;

        if (!store__feature_valid(r->feature,
                                  field_len(r->feature, STORE_FEATURE_SIZE))) {
            return fail(errmsg, AUGUR_EINVAL,
                        "%s: a reason's 'feature' must be 1 to %d bytes of "
                        "[A-Za-z0-9._:@/-]",
                        op, STORE_FEATURE_SIZE - 1);
        }
        if (!(c >= -1e9 && c <= 1e9)) {
            return fail(errmsg, AUGUR_EINVAL,
                        "%s: a reason's 'contribution' must be a finite number",
                        op);
        }
    }
    return 0;
}

/* A cohort's members: 1 to STORE_COHORT_MEMBERS_MAX ids, none twice. */
static int check_workloads(const char *op,
                           const struct store_cmd *cmd,
                           char *errmsg)
{
    unsigned n = cmd->u.cohort.n_workloads;

    if (n > STORE_COHORT_MEMBERS_MAX) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: more than %d workloads", op,
                    STORE_COHORT_MEMBERS_MAX);
    }
    if (n == 0) {
        return fail(errmsg, AUGUR_EINVAL, "%s: 'workloads' must list 1 to %d",
                    op, STORE_COHORT_MEMBERS_MAX);
    }
    for (unsigned i = 0; i < n; i++) {
        int rv = check_id(op, "workloads", cmd->u.cohort.workloads[i], false,
                          errmsg);
        if (rv != 0) {
            return rv;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cmd->u.cohort.workloads[i],
                       cmd->u.cohort.workloads[j]) == 0) {
                return fail(errmsg, AUGUR_EINVAL,
                            "%s: workload %s is listed twice", op,
                            cmd->u.cohort.workloads[i]);
            }
        }
    }
    return 0;
}

/* The edge.list cursor is "FROM/TO": '/' never occurs in an identifier. */
static int check_edge_cursor(const char *op, const char *after, char *errmsg)
{
    size_t len = field_len(after, STORE_CURSOR_SIZE);
    const char *slash;

    if (len == STORE_CURSOR_SIZE) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: 'after' is too long", op);
    }
    if (len == 0) {
        return 0;
    }
    slash = memchr(after, '/', len);
    if (slash == NULL || !store__id_valid(after, (size_t)(slash - after)) ||
        !store__id_valid(slash + 1, len - (size_t)(slash - after) - 1)) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: 'after' must be a cursor FROM/TO as returned in "
                    "'next'",
                    op);
    }
    return 0;
}

static int check_list(const char *op, const struct store_cmd *cmd, char *errmsg)
{
    int rv;

    switch (cmd->op) {
        case STORE_OP_EDGE_LIST:
            rv = check_edge_cursor(op, cmd->u.list.after, errmsg);
            if (rv == 0) {
                rv = check_id(op, "resource", cmd->u.list.filter, true, errmsg);
            }
            return rv;
        case STORE_OP_CLAIM_LIST:
            rv = check_id(op, "host", cmd->u.list.filter, true, errmsg);
            break;
        case STORE_OP_NODE_LIST:
            return 0;
        default:
            rv = 0;
            break;
    }
    if (rv == 0) {
        if (field_len(cmd->u.list.after, STORE_CURSOR_SIZE) >= STORE_ID_SIZE) {
            return fail(errmsg, AUGUR_ETOOBIG,
                        "%s: 'after' is longer than %d bytes", op,
                        STORE_ID_SIZE - 1);
        }
        rv = check_id(op, "after", cmd->u.list.after, true, errmsg);
    }
    return rv;
}

/* Text a command carries (a step's detail, a shadow's drift): printable,
 * shorter than its member. */
static int check_text(const char *op,
                      const char *key,
                      const char *text,
                      size_t size,
                      char *errmsg)
{
    size_t len = field_len(text, size);

    if (len == size) {
        return fail(errmsg, AUGUR_ETOOBIG, "%s: '%s' is longer than %zu bytes",
                    op, key, size - 1);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            return fail(errmsg, AUGUR_EINVAL,
                        "%s: '%s' has a control character", op, key);
        }
    }
    return 0;
}

/* workflow.list: the cursor is a workflow id in decimal, the filter a
 * state or "active" (pending and running). */
static int check_list_workflows(const char *op,
                                const struct store_cmd *cmd,
                                char *errmsg)
{
    const char *after = cmd->u.list.after;
    const char *state = cmd->u.list.filter;
    size_t len = field_len(after, STORE_CURSOR_SIZE);

    if (len > 20) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: 'after' must be a workflow id as returned in 'next'",
                    op);
    }
    for (size_t i = 0; i < len; i++) {
        if (after[i] < '0' || after[i] > '9') {
            return fail(errmsg, AUGUR_EINVAL,
                        "%s: 'after' must be a workflow id as returned in "
                        "'next'",
                        op);
        }
    }
    len = field_len(state, STORE_ID_SIZE);
    if (len != 0 && strcmp(state, "active") != 0 &&
        store_wf_state_parse(state, len) < 0) {
        return fail(errmsg, AUGUR_EINVAL,
                    "%s: 'state' must be active, pending, running, done, "
                    "rolled_back, failed or cancelled",
                    op);
    }
    return 0;
}

/* Check each field of the op's row, in order. */
int store__cmd_check(const struct store_cmd *cmd, char *errmsg)
{
    const char *op = store_op_name(cmd->op);
    const struct store__field *f = store__op_fields(cmd->op);
    int rv = 0;

    if (op == NULL || f == NULL) {
        return fail(errmsg, AUGUR_EINVAL, "unknown op %d", (int)cmd->op);
    }
    for (; f->key != NULL && rv == 0; f++) {
        const void *m = (const char *)cmd + f->off;
        bool empty_ok = (f->flags & STORE__F_EMPTY) != 0;

        switch (f->type) {
            case STORE__T_ID:
                rv = check_id(op, f->key, m, empty_ok, errmsg);
                break;
            case STORE__T_KIND:
                if (!(empty_ok && ((const char *)m)[0] == '\0')) {
                    rv = check_kind(op, m, errmsg);
                }
                break;
            case STORE__T_ADDR:
                if (!(empty_ok && ((const char *)m)[0] == '\0')) {
                    rv = check_address(op, f->key, m, errmsg);
                }
                break;
            case STORE__T_NODE_ROLE:
                if (!store_node_role_valid(m)) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: '%s' must be voter, standby, spare or "
                              "removed",
                              op, f->key);
                }
                break;
            case STORE__T_KEY:
                rv = check_key(op, m, errmsg);
                break;
            case STORE__T_STATE:
                if (store_state_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown state %d", op,
                              *(const int *)m);
                }
                break;
            case STORE__T_EDGE_KIND:
                if (store_edge_kind_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown edge kind %d",
                              op, *(const int *)m);
                }
                break;
            case STORE__T_ROLE:
                if (store_role_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown role %d", op,
                              *(const int *)m);
                }
                break;
            case STORE__T_U64:
                if ((f->flags & STORE__F_POS) && *(const uint64_t *)m == 0) {
                    rv =
                        fail(errmsg, AUGUR_EINVAL,
                             "%s: '%s' must be a positive integer", op, f->key);
                }
                break;
            case STORE__T_PROB: {
                double p = *(const double *)m;
                /* Written so that NaN fails too. */
                if (!(p >= 0.0 && p <= 1.0)) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: '%s' must be a probability in [0, 1]", op,
                              f->key);
                }
                break;
            }
            case STORE__T_WINDOW:
                if (*(const uint64_t *)m == 0) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: '%s' must be a positive number of seconds",
                              op, f->key);
                }
                break;
            case STORE__T_LABELS:
                rv = check_labels(op, cmd, errmsg);
                break;
            case STORE__T_LIST:
            case STORE__T_LIST_EDGES:
            case STORE__T_LIST_CLAIMS:
                rv = check_list(op, cmd, errmsg);
                break;
            case STORE__T_LIST_PRINCIPALS:
                rv = check_id(op, "after", cmd->u.list.after, true, errmsg);
                break;
            case STORE__T_CONF: {
                double c = cmd->u.score.confidence;
                if (cmd->u.score.has_confidence && !(c >= 0.0 && c <= 1.0)) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: '%s' must be a probability in [0, 1]", op,
                              f->key);
                }
                break;
            }
            case STORE__T_REASONS:
                rv = check_reasons(op, cmd, errmsg);
                break;
            case STORE__T_BYTES: {
                const struct store_bytes *b = m;
                if (b->ptr == NULL || b->len == 0) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: '%s' must be 1 or more bytes", op, f->key);
                } else if (b->len > STORE_MODEL_CHUNK_MAX) {
                    rv = fail(errmsg, AUGUR_ETOOBIG,
                              "%s: '%s' is longer than %u bytes", op, f->key,
                              STORE_MODEL_CHUNK_MAX);
                }
                break;
            }
            case STORE__T_DIGEST:
                rv = check_hex64(op, f->key, m, errmsg);
                break;
            case STORE__T_RESOURCES:
                rv = check_resources(op, cmd, errmsg);
                break;
            case STORE__T_WORKLOADS:
                rv = check_workloads(op, cmd, errmsg);
                break;
            case STORE__T_SPREAD:
                if (store_spread_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown spread %d", op,
                              *(const int *)m);
                }
                break;
            case STORE__T_MIN_RESILIENCE: {
                double p = *(const double *)m;
                if (!(p >= 0.0 && p <= 1.0)) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: '%s' must be a probability in [0, 1]", op,
                              f->key);
                }
                break;
            }
            case STORE__T_STRATEGY:
                if (store_strategy_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown strategy %d",
                              op, *(const int *)m);
                }
                break;
            case STORE__T_WF_STRATEGY:
                if (cmd->u.workflow.has_strategy &&
                    store_strategy_name(cmd->u.workflow.strategy) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown strategy %d",
                              op, cmd->u.workflow.strategy);
                }
                break;
            case STORE__T_WF_REASON:
                if (cmd->u.workflow.has_reason &&
                    store_wf_reason_name(cmd->u.workflow.reason) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown reason %d", op,
                              cmd->u.workflow.reason);
                }
                break;
            case STORE__T_WF_EVENT:
                if (store_wf_event_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL, "%s: unknown event %d", op,
                              *(const int *)m);
                }
                break;
            case STORE__T_SHADOW_STATE:
                if (store_shadow_state_name(*(const int *)m) == NULL) {
                    rv = fail(errmsg, AUGUR_EINVAL,
                              "%s: unknown shadow state %d", op,
                              *(const int *)m);
                }
                break;
            case STORE__T_TEXT:
                rv = check_text(op, f->key, m, f->size, errmsg);
                break;
            case STORE__T_LIST_WORKFLOWS:
                rv = check_list_workflows(op, cmd, errmsg);
                break;
            case STORE__T_LIST_PAIRS:
                rv = check_edge_cursor(op, cmd->u.list.after, errmsg);
                break;
            case STORE__T_BOOL:
            case STORE__T_APPROVED:
            case STORE__T_I64:
            case STORE__T_FROM:
            case STORE__T_LIMIT:
            case STORE__T_CAPACITY:
                break;
        }
    }
    return rv;
}

/* ---- decoding --------------------------------------------------------- */

/* An "args" map being read, and where to say what is wrong with it. */
struct args
{
    const msgpack_object *map;
    const char *op;
    char *errmsg;
};

/* The value of @key, or NULL when absent or nil (nil means "absent", as
 * JSON's null does). */
static const msgpack_object *arg_find(const struct args *a, const char *key)
{
    size_t klen = strlen(key);

    for (uint32_t i = 0; i < a->map->via.map.size; i++) {
        const msgpack_object_kv *kv = &a->map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR &&
            kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0) {
            return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
        }
    }
    return NULL;
}

static int arg_missing(const struct args *a, const char *key)
{
    return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' is required", a->op, key);
}

static int str_copy(const struct args *a,
                    const char *key,
                    const msgpack_object *o,
                    char *out,
                    size_t size)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' must be a string", a->op,
                    key);
    }
    if (o->via.str.size >= size) {
        return fail(a->errmsg, AUGUR_ETOOBIG,
                    "%s: '%s' is longer than %zu bytes", a->op, key, size - 1);
    }
    if (memchr(o->via.str.ptr, 0, o->via.str.size) != NULL) {
        return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' contains a NUL byte",
                    a->op, key);
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return 0;
}

static int arg_str(const struct args *a,
                   const char *key,
                   bool required,
                   char *out,
                   size_t size)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return required ? arg_missing(a, key) : 0;
    }
    return str_copy(a, key, o, out, size);
}

static int arg_u64(const struct args *a,
                   const char *key,
                   bool required,
                   uint64_t *out)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return required ? arg_missing(a, key) : 0;
    }
    if (store__obj_u64(o, out) != 0) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be a non-negative integer", a->op, key);
    }
    return 0;
}

static int arg_i64(const struct args *a, const char *key, int64_t *out)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return 0;
    }
    if (store__obj_i64(o, out) != 0) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be a 64-bit signed integer", a->op, key);
    }
    return 0;
}

static int arg_limit(const struct args *a, unsigned *out)
{
    uint64_t v = 0;
    int rv = arg_u64(a, "limit", false, &v);

    if (rv != 0) {
        return rv;
    }
    /* Over-large pages are cut to the maximum rather than refused. */
    *out = v > STORE_LIST_LIMIT_MAX ? STORE_LIST_LIMIT_MAX : (unsigned)v;
    return 0;
}

static int arg_prob(const struct args *a, const char *key, double *out)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return arg_missing(a, key);
    }
    switch (o->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            *out = o->via.f64;
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER: /* JSON's 0 and 1 */
            *out = (double)o->via.u64;
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            *out = (double)o->via.i64;
            break;
        default:
            return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' must be a number",
                        a->op, key);
    }
    if (!(*out >= 0.0 && *out <= 1.0)) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be a probability in [0, 1]", a->op, key);
    }
    if (*out == 0.0) {
        *out = 0.0; /* -0 and 0 are one probability: one representation */
    }
    return 0;
}

static int arg_name(const struct args *a,
                    const char *key,
                    int (*parse)(const char *, size_t),
                    const char *choices,
                    int *out)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return arg_missing(a, key);
    }
    if (o->type != MSGPACK_OBJECT_STR) {
        return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' must be a string", a->op,
                    key);
    }
    *out = parse(o->via.str.ptr, o->via.str.size);
    if (*out < 0) {
        return fail(a->errmsg, AUGUR_EINVAL, "%s: unknown %s '%.*s' (%s)",
                    a->op, key,
                    (int)(o->via.str.size > 32 ? 32 : o->via.str.size),
                    o->via.str.ptr, choices);
    }
    return 0;
}

/* An optional bool: @out keeps its value when the key is absent. */
static int arg_bool(const struct args *a, const char *key, bool *out)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' must be true or false",
                    a->op, key);
    }
    *out = o->via.boolean;
    return 0;
}

static int arg_capacity(const struct args *a,
                        const char *key,
                        struct store_capacity *out)
{
    const msgpack_object *o = arg_find(a, key);
    struct args inner;
    char sub[32];
    int rv;

    if (o == NULL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_MAP) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be a map {cpu, mem_mb}", a->op, key);
    }
    inner.map = o;
    inner.op = a->op;
    inner.errmsg = a->errmsg;
    snprintf(sub, sizeof sub, "%s.cpu", key);
    rv = arg_u64(&inner, "cpu", false, &out->cpu);
    if (rv != 0) {
        return fail(a->errmsg, rv, "%s: '%s' must be a non-negative integer",
                    a->op, sub);
    }
    snprintf(sub, sizeof sub, "%s.mem_mb", key);
    rv = arg_u64(&inner, "mem_mb", false, &out->mem_mb);
    if (rv != 0) {
        return fail(a->errmsg, rv, "%s: '%s' must be a non-negative integer",
                    a->op, sub);
    }
    return 0;
}

static int arg_labels(const struct args *a, struct store_cmd *cmd)
{
    const msgpack_object *o = arg_find(a, "labels");

    if (o == NULL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_MAP) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: 'labels' must be a map of strings", a->op);
    }
    if (o->via.map.size > STORE_LABELS_MAX) {
        return fail(a->errmsg, AUGUR_ETOOBIG, "%s: more than %d labels", a->op,
                    STORE_LABELS_MAX);
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        struct store_label *l = &cmd->u.resource_add.labels[i];
        int rv = str_copy(a, "label key", &o->via.map.ptr[i].key, l->key,
                          sizeof l->key);
        if (rv == 0) {
            rv = str_copy(a, "label value", &o->via.map.ptr[i].val, l->value,
                          sizeof l->value);
        }
        if (rv != 0) {
            return rv;
        }
    }
    cmd->u.resource_add.n_labels = o->via.map.size;
    return 0;
}

static int obj_number(const msgpack_object *o, double *out)
{
    switch (o->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            *out = o->via.f64;
            return 0;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            *out = (double)o->via.u64;
            return 0;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            *out = (double)o->via.i64;
            return 0;
        default:
            return AUGUR_EINVAL;
    }
}

/* score.set's optional confidence. */
static int arg_conf(const struct args *a, const char *key, struct store_cmd *c)
{
    const msgpack_object *o = arg_find(a, key);
    double *out = &c->u.score.confidence;

    if (o == NULL) {
        return 0;
    }
    if (obj_number(o, out) != 0 || !(*out >= 0.0 && *out <= 1.0)) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be a probability in [0, 1]", a->op, key);
    }
    *out += 0.0; /* -0 and 0: one representation */
    c->u.score.has_confidence = true;
    return 0;
}

/* [{"feature": NAME, "contribution": NUMBER}, ...] */
static int arg_reasons(const struct args *a, struct store_cmd *cmd)
{
    const msgpack_object *o = arg_find(a, "reasons");

    if (o == NULL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: 'reasons' must be an array of {feature, "
                    "contribution}",
                    a->op);
    }
    if (o->via.array.size > STORE_REASONS_MAX) {
        return fail(a->errmsg, AUGUR_ETOOBIG, "%s: more than %d reasons", a->op,
                    STORE_REASONS_MAX);
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        struct store_reason *r = &cmd->u.score.reasons[i];
        const msgpack_object *c;
        struct args inner = {&o->via.array.ptr[i], a->op, a->errmsg};
        int rv;

        if (inner.map->type != MSGPACK_OBJECT_MAP) {
            return fail(a->errmsg, AUGUR_EINVAL,
                        "%s: a reason must be a map {feature, contribution}",
                        a->op);
        }
        rv = arg_str(&inner, "feature", true, r->feature, sizeof r->feature);
        if (rv != 0) {
            return rv;
        }
        c = arg_find(&inner, "contribution");
        if (c == NULL || obj_number(c, &r->contribution) != 0) {
            return fail(a->errmsg, AUGUR_EINVAL,
                        "%s: a reason's 'contribution' must be a number",
                        a->op);
        }
    }
    cmd->u.score.n_reasons = o->via.array.size;
    return 0;
}

static int arg_bytes(const struct args *a,
                     const char *key,
                     struct store_bytes *out)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return arg_missing(a, key);
    }
    if (o->type != MSGPACK_OBJECT_BIN) {
        return fail(a->errmsg, AUGUR_EINVAL, "%s: '%s' must be binary", a->op,
                    key);
    }
    out->ptr = o->via.bin.ptr;
    out->len = o->via.bin.size;
    return 0;
}

static int arg_resources(const struct args *a, struct store_cmd *cmd)
{
    const msgpack_object *o = arg_find(a, "resources");

    if (o == NULL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: 'resources' must be an array of resource ids", a->op);
    }
    if (o->via.array.size > STORE_PRINCIPAL_RESOURCES_MAX) {
        return fail(a->errmsg, AUGUR_ETOOBIG, "%s: more than %d resources",
                    a->op, STORE_PRINCIPAL_RESOURCES_MAX);
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        int rv = str_copy(a, "resources", &o->via.array.ptr[i],
                          cmd->u.principal.resources[i], STORE_ID_SIZE);
        if (rv != 0) {
            return rv;
        }
    }
    cmd->u.principal.n_resources = o->via.array.size;
    return 0;
}

static int arg_workloads(const struct args *a,
                         const char *key,
                         struct store_cmd *cmd)
{
    const msgpack_object *o = arg_find(a, key);

    if (o == NULL) {
        return arg_missing(a, key);
    }
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return fail(a->errmsg, AUGUR_EINVAL,
                    "%s: '%s' must be an array of workload ids", a->op, key);
    }
    if (o->via.array.size > STORE_COHORT_MEMBERS_MAX) {
        return fail(a->errmsg, AUGUR_ETOOBIG, "%s: more than %d workloads",
                    a->op, STORE_COHORT_MEMBERS_MAX);
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        int rv = str_copy(a, key, &o->via.array.ptr[i],
                          cmd->u.cohort.workloads[i], STORE_ID_SIZE);
        if (rv != 0) {
            return rv;
        }
    }
    cmd->u.cohort.n_workloads = o->via.array.size;
    return 0;
}

static int decode_list(const struct args *a,
                       struct store_cmd *cmd,
                       const char *filter)
{
    int rv =
        arg_str(a, "after", false, cmd->u.list.after, sizeof cmd->u.list.after);

    if (rv == 0 && filter != NULL) {
        rv = arg_str(a, filter, false, cmd->u.list.filter,
                     sizeof cmd->u.list.filter);
    }
    if (rv == 0) {
        rv = arg_limit(a, &cmd->u.list.limit);
    }
    return rv;
}

/* Read each field of the op's row, in order. */
static int decode_fields(const struct args *a, struct store_cmd *cmd)
{
    const struct store__field *f = store__op_fields(cmd->op);
    int rv = 0;

    if (f == NULL) {
        return fail(a->errmsg, AUGUR_EINVAL, "unknown op");
    }
    for (; f->key != NULL && rv == 0; f++) {
        void *m = (char *)cmd + f->off;
        bool req = (f->flags & STORE__F_REQ) != 0;

        switch (f->type) {
            case STORE__T_ID:
            case STORE__T_KIND:
            case STORE__T_ADDR:
            case STORE__T_NODE_ROLE:
            case STORE__T_KEY:
            case STORE__T_DIGEST:
                rv = arg_str(a, f->key, req, m, f->size);
                break;
            case STORE__T_CONF:
                rv = arg_conf(a, f->key, cmd);
                break;
            case STORE__T_REASONS:
                rv = arg_reasons(a, cmd);
                break;
            case STORE__T_BYTES:
                rv = arg_bytes(a, f->key, m);
                break;
            case STORE__T_STATE:
                rv = arg_name(a, f->key, store_state_parse,
                              "active, standby, degraded, draining, failed, "
                              "quarantined, unreachable",
                              m);
                break;
            case STORE__T_EDGE_KIND:
                rv = arg_name(a, f->key, store_edge_kind_parse,
                              "power, network, storage, workload, cooling", m);
                break;
            case STORE__T_ROLE:
                rv = arg_name(a, f->key, store_role_parse,
                              "admin, operator, agent, reader", m);
                break;
            case STORE__T_U64:
                rv = arg_u64(a, f->key, req, m);
                break;
            case STORE__T_WINDOW:
                *(uint64_t *)m = STORE__WINDOW_DEFAULT;
                rv = arg_u64(a, f->key, false, m);
                break;
            case STORE__T_FROM:
                *(uint64_t *)m = 1;
                rv = arg_u64(a, f->key, false, m);
                break;
            case STORE__T_LIMIT:
                rv = arg_limit(a, m);
                break;
            case STORE__T_I64:
                rv = arg_i64(a, f->key, m);
                break;
            case STORE__T_PROB:
                rv = arg_prob(a, f->key, m);
                break;
            case STORE__T_CAPACITY:
                rv = arg_capacity(a, f->key, m);
                break;
            case STORE__T_LABELS:
                rv = arg_labels(a, cmd);
                break;
            case STORE__T_LIST:
            case STORE__T_LIST_PRINCIPALS:
                rv = decode_list(a, cmd, NULL);
                break;
            case STORE__T_LIST_EDGES:
            case STORE__T_LIST_CLAIMS:
                rv = decode_list(a, cmd, f->key);
                break;
            case STORE__T_RESOURCES:
                rv = arg_resources(a, cmd);
                break;
            case STORE__T_WORKLOADS:
                rv = arg_workloads(a, f->key, cmd);
                break;
            case STORE__T_SPREAD:
                *(int *)m = STORE_SPREAD_HOST;
                if (arg_find(a, f->key) != NULL) {
                    rv = arg_name(a, f->key, store_spread_parse,
                                  "none, host, rack, zone, psu, switch", m);
                }
                break;
            case STORE__T_MIN_RESILIENCE:
                *(double *)m = STORE_MIN_RESILIENCE_DEFAULT;
                if (arg_find(a, f->key) != NULL) {
                    rv = arg_prob(a, f->key, m);
                }
                break;
            case STORE__T_STRATEGY:
                if (arg_find(a, f->key) != NULL) {
                    rv = arg_name(a, f->key, store_strategy_parse,
                                  "live, standby, blue-green", m);
                }
                break;
            case STORE__T_WF_STRATEGY:
                if (arg_find(a, f->key) != NULL) {
                    cmd->u.workflow.has_strategy = true;
                    rv = arg_name(a, f->key, store_strategy_parse,
                                  "live, standby, blue-green",
                                  &cmd->u.workflow.strategy);
                }
                break;
            case STORE__T_WF_REASON:
                if (arg_find(a, f->key) != NULL) {
                    cmd->u.workflow.has_reason = true;
                    rv = arg_name(a, f->key, store_wf_reason_parse,
                                  "predicted, failed, manual, rebalance",
                                  &cmd->u.workflow.reason);
                }
                break;
            case STORE__T_BOOL:
                rv = arg_bool(a, f->key, m);
                break;
            case STORE__T_APPROVED: {
                bool approved = true;
                rv = arg_bool(a, f->key, &approved);
                *(bool *)m = !approved;
                break;
            }
            case STORE__T_WF_EVENT:
                rv = arg_name(a, f->key, store_wf_event_parse,
                              "start, ok, retry, fail, skip", m);
                break;
            case STORE__T_SHADOW_STATE:
                rv = arg_name(a, f->key, store_shadow_state_parse,
                              "provisioning, warm, active, released", m);
                break;
            case STORE__T_TEXT:
                rv = arg_str(a, f->key, req, m, f->size);
                break;
            case STORE__T_LIST_WORKFLOWS:
                rv = decode_list(a, cmd, f->key);
                break;
            case STORE__T_LIST_PAIRS:
                rv = decode_list(a, cmd, NULL);
                break;
        }
    }
    return rv;
}

int store_cmd_decode_args(enum store_op op,
                          const msgpack_object *args,
                          struct store_cmd *cmd,
                          char *errmsg)
{
    static const msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
    struct args a;
    int rv;

    memset(cmd, 0, sizeof *cmd);
    cmd->op = op;
    a.op = store_op_name(op);
    a.errmsg = errmsg;
    a.map = args;
    if (a.op == NULL) {
        return fail(errmsg, AUGUR_EINVAL, "unknown op %d", (int)op);
    }
    if (args == NULL || args->type == MSGPACK_OBJECT_NIL) {
        a.map = &empty;
    } else if (args->type != MSGPACK_OBJECT_MAP) {
        return fail(errmsg, AUGUR_EINVAL, "%s: 'args' must be a map", a.op);
    }
    rv = decode_fields(&a, cmd);
    if (rv != 0) {
        return rv;
    }
    return store__cmd_check(cmd, errmsg);
}

static const msgpack_object *map_find(const msgpack_object *map,
                                      const char *key)
{
    struct args a = {.map = map};
    return arg_find(&a, key);
}

/* Decode a whole command with @zone for its msgpack objects. */
static int decode_in(msgpack_zone *zone,
                     const void *buf,
                     size_t len,
                     struct store_cmd *cmd,
                     char *errmsg)
{
    static const char *const session_keys[] = {"client", "seq", "ack"};
    uint64_t session[3] = {0, 0, 0};
    int64_t time_ms = 0;
    const msgpack_object *pk;
    const msgpack_object *o;
    msgpack_object root;
    enum store_op op;
    int rv;

    memset(cmd, 0, sizeof *cmd);
    rv = store__unpack_in(zone, buf, len, &root);
    if (rv == AUGUR_ENOMEM) {
        return fail(errmsg, rv, "command: out of memory");
    }
    if (rv != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "command: not one well-formed msgpack object");
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        return fail(errmsg, AUGUR_EMALFORMED, "command: not a map");
    }
    o = map_find(&root, "op");
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) {
        return fail(errmsg, AUGUR_EMALFORMED, "command: 'op' must be a string");
    }
    op = store_op_from_name(o->via.str.ptr, o->via.str.size);
    if (op == STORE_OP_NONE) {
        return fail(errmsg, AUGUR_EMALFORMED, "command: unknown op '%.*s'",
                    (int)(o->via.str.size > 32 ? 32 : o->via.str.size),
                    o->via.str.ptr);
    }
    for (int i = 0; i < 3; i++) {
        o = map_find(&root, session_keys[i]);
        if (o != NULL && store__obj_u64(o, &session[i]) != 0) {
            return fail(errmsg, AUGUR_EMALFORMED,
                        "command: '%s' must be a non-negative integer",
                        session_keys[i]);
        }
    }
    o = map_find(&root, "time");
    if (o != NULL && store__obj_i64(o, &time_ms) != 0) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "command: 'time' must be a 64-bit signed integer");
    }
    pk = map_find(&root, "pk");
    if (pk != NULL &&
        (pk->type != MSGPACK_OBJECT_BIN || pk->via.bin.size != STORE_PK_SIZE)) {
        return fail(errmsg, AUGUR_EMALFORMED,
                    "command: 'pk' must be %d bytes of binary", STORE_PK_SIZE);
    }
    o = map_find(&root, "args");
    if (o != NULL && o->type != MSGPACK_OBJECT_MAP) {
        return fail(errmsg, AUGUR_EMALFORMED, "command: 'args' must be a map");
    }
    rv = store_cmd_decode_args(op, o, cmd, errmsg);
    if (rv != 0) {
        return rv;
    }
    if (pk != NULL) {
        cmd->has_principal = true;
        memcpy(cmd->principal, pk->via.bin.ptr, STORE_PK_SIZE);
    }
    cmd->client = session[0];
    cmd->seq = session[1];
    cmd->ack = session[2];
    cmd->time_ms = time_ms;
    return 0;
}

int store_cmd_decode(const void *buf,
                     size_t len,
                     struct store_cmd *cmd,
                     char *errmsg)
{
    msgpack_zone zone;
    int rv;

    if (!msgpack_zone_init(&zone, 1024)) {
        memset(cmd, 0, sizeof *cmd);
        return fail(errmsg, AUGUR_ENOMEM, "command: out of memory");
    }
    rv = decode_in(&zone, buf, len, cmd, errmsg);
    msgpack_zone_destroy(&zone);
    return rv;
}

int store__cmd_decode(struct store *s,
                      const void *buf,
                      size_t len,
                      struct store_cmd *cmd,
                      char *errmsg)
{
    msgpack_zone_clear(&s->zone);
    return decode_in(&s->zone, buf, len, cmd, errmsg);
}
