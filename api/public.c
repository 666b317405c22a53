/* libaugur's installed interface (include/augur.h): thin wrappers over the
 * in-tree calls of api/augur.h, with JSON text where those take and give
 * msgpack, an opaque answer, the version and the log callback. */
#include "include/augur.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client_int.h"
#include "api/mpjson.h"
#include "common/log.h"

_Static_assert(AUGUR_LOG_ERROR == LOG_LEVEL_ERROR &&
                   AUGUR_LOG_WARN == LOG_LEVEL_WARN &&
                   AUGUR_LOG_INFO == LOG_LEVEL_INFO &&
                   AUGUR_LOG_DEBUG == LOG_LEVEL_DEBUG &&
                   AUGUR_LOG_TRACE == LOG_LEVEL_TRACE,
               "the public log levels are common/log.h's");

struct augur_answer
{
    struct augur_reply reply;
    char *json; /* the result as NUL-terminated JSON text; NULL: no memory */
};

const char *augur_version(void)
{
    return AUGUR_VERSION;
}

/* The program's log callback: the log sink, one of the two globals
 * STYLE.md allows, set before clients are opened. */
static struct
{
    augur_log_fn fn;
    void *data;
} public_log;

static void public_log_sink(void *data,
                            enum log_level level,
                            const char *file,
                            int line,
                            const char *msg)
{
    (void)data;
    (void)file;
    (void)line;
    if (public_log.fn != NULL) {
        public_log.fn(public_log.data, (int)level, msg);
    }
}

void augur_log_set(int level, augur_log_fn fn, void *data)
{
    public_log.fn = fn;
    public_log.data = data;
    if (fn == NULL) {
        log_sink_set(-1, NULL, NULL);
        return;
    }
    log_sink_set(level > LOG_LEVEL_TRACE ? LOG_LEVEL_TRACE : level,
                 public_log_sink, NULL);
}

int augur_client_new(const char *endpoints,
                     const char *key_file,
                     const char *cluster_key_file,
                     struct augur_client **out,
                     char *errmsg,
                     size_t errmsg_size)
{
    struct augur_options opt;
    char why[AUGUR_ERRMSG_SIZE] = "";
    struct augur_client *c = NULL;
    int err;

    augur_options_init(&opt);
    opt.key_file = key_file;
    opt.cluster_key_file = cluster_key_file;
    err = augur_client_open(endpoints, &opt, &c, why);
    if (out != NULL) {
        *out = c;
    } else if (err == 0) {
        augur_client_close(c);
        snprintf(why, sizeof why, "no place given for the client");
        err = AUGUR_EINVAL;
    }
    if (errmsg != NULL && errmsg_size > 0) {
        snprintf(errmsg, errmsg_size, "%s", err != 0 ? why : "");
    }
    return err;
}

int augur_client_set_timeout(struct augur_client *c,
                             int timeout_ms,
                             int connect_timeout_ms)
{
    if (timeout_ms < 0 || connect_timeout_ms < 0) {
        client__seterr(c, AUGUR_EINVAL, "a timeout must not be negative");
        return AUGUR_EINVAL;
    }
    if (timeout_ms > 0) {
        c->opt.timeout_ms = timeout_ms;
    }
    if (connect_timeout_ms > 0) {
        c->opt.connect_timeout_ms = connect_timeout_ms;
    }
    return 0;
}

/* Render the result as JSON; leaves a->json NULL if memory runs out, which
 * changes nothing of the answer's status: a write may have applied. */
static void answer_render(struct augur_answer *a)
{
    msgpack_sbuffer text;
    int err;

    msgpack_sbuffer_init(&text);
    if (a->reply.result != NULL) {
        err = mpjson_print(a->reply.result, &text);
    } else {
        err = msgpack_sbuffer_write(&text, "null", 4) != 0 ? AUGUR_ENOMEM : 0;
    }
    if (err == 0 && msgpack_sbuffer_write(&text, "", 1) != 0) {
        err = AUGUR_ENOMEM;
    }
    if (err != 0) {
        msgpack_sbuffer_destroy(&text);
        return;
    }
    a->json = msgpack_sbuffer_release(&text);
}

static struct augur_answer *answer_new(struct augur_client *c)
{
    struct augur_answer *a = calloc(1, sizeof *a);

    if (a == NULL) {
        client__seterr(c, AUGUR_ENOMEM, "out of memory for the answer");
    }
    return a;
}

int augur_call_json(struct augur_client *c,
                    const char *op,
                    const char *args_json,
                    unsigned flags,
                    struct augur_answer **out)
{
    struct augur_answer *a = answer_new(c);
    msgpack_sbuffer args;
    char why[160]; /* with the op, fits in the reply's error */
    int status;

    *out = a;
    if (a == NULL) {
        return AUGUR_ENOMEM;
    }
    msgpack_sbuffer_init(&args);
    if (args_json != NULL && args_json[0] != '\0') {
        status = mpjson_parse(args_json, &args, why, sizeof why);
        if (status != 0) {
            msgpack_sbuffer_destroy(&args);
            a->reply.status = status;
            snprintf(a->reply.error, sizeof a->reply.error, "%.64s: args: %s",
                     op != NULL ? op : "call", why);
            client__seterr(c, status, a->reply.error);
            answer_render(a);
            return status;
        }
    }
    status = augur_call(c, op, args.data, args.size, flags, &a->reply);
    msgpack_sbuffer_destroy(&args);
    answer_render(a);
    return status;
}

int augur_events_json(struct augur_client *c,
                      uint64_t from,
                      unsigned limit,
                      unsigned wait_ms,
                      unsigned flags,
                      struct augur_answer **out)
{
    struct augur_answer *a = answer_new(c);
    int status;

    *out = a;
    if (a == NULL) {
        return AUGUR_ENOMEM;
    }
    status = augur_events(c, from, limit, wait_ms, flags, &a->reply);
    answer_render(a);
    return status;
}

void augur_answer_free(struct augur_answer *a)
{
    if (a == NULL) {
        return;
    }
    augur_reply_free(&a->reply);
    free(a->json);
    free(a);
}

int augur_answer_status(const struct augur_answer *a)
{
    return a != NULL ? a->reply.status : AUGUR_ENOMEM;
}

const char *augur_answer_error(const struct augur_answer *a)
{
    return a != NULL ? a->reply.error : "out of memory for the answer";
}

uint64_t augur_answer_rev(const struct augur_answer *a)
{
    return a != NULL ? a->reply.rev : 0;
}

const char *augur_answer_json(const struct augur_answer *a)
{
    return a != NULL ? a->json : NULL;
}

/* JSON Pointer (RFC 6901). */

/* Does the pointer token @tok (@len bytes, escapes checked) name @key? */
static int token_names(const char *tok,
                       size_t len,
                       const char *key,
                       size_t key_len)
{
    size_t i = 0;
    size_t j = 0;

    while (i < len) {
        char ch = tok[i];

        if (ch == '~') {
            ch = tok[i + 1] == '1' ? '/' : '~';
            i += 2;
        } else {
            i++;
        }
        if (j >= key_len || key[j] != ch) {
            return 0;
        }
        j++;
    }
    return j == key_len;
}

/* The member of @o that the token @tok names, or NULL. */
static const msgpack_object *token_step(const msgpack_object *o,
                                        const char *tok,
                                        size_t len)
{
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;

            if (k->type == MSGPACK_OBJECT_STR &&
                token_names(tok, len, k->via.str.ptr, k->via.str.size)) {
                return &o->via.map.ptr[i].val;
            }
        }
        return NULL;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        size_t index = 0;

        /* An index is "0" or digits without a leading zero. */
        if (len == 0 || (len > 1 && tok[0] == '0')) {
            return NULL;
        }
        for (size_t i = 0; i < len; i++) {
            if (tok[i] < '0' || tok[i] > '9' || index > UINT32_MAX) {
                return NULL;
            }
            index = index * 10 + (size_t)(tok[i] - '0');
        }
        return index < o->via.array.size ? &o->via.array.ptr[index] : NULL;
    }
    return NULL;
}

/* Find what @pointer names in @a's result: 0, AUGUR_ENOTFOUND (nothing, or
 * a null), AUGUR_EINVAL (not a JSON Pointer). */
static int pointer_find(const struct augur_answer *a,
                        const char *pointer,
                        const msgpack_object **out)
{
    const msgpack_object *o = a != NULL ? a->reply.result : NULL;
    const char *p = pointer;

    if (p == NULL || (p[0] != '\0' && p[0] != '/')) {
        return AUGUR_EINVAL;
    }
    while (*p == '/') {
        const char *tok = p + 1;
        size_t len = strcspn(tok, "/");

        for (size_t i = 0; i < len; i++) {
            if (tok[i] == '~' &&
                (i + 1 >= len || (tok[i + 1] != '0' && tok[i + 1] != '1'))) {
                return AUGUR_EINVAL;
            }
        }
        if (o != NULL) {
            o = token_step(o, tok, len);
        }
        p = tok + len;
    }
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
        return AUGUR_ENOTFOUND;
    }
    *out = o;
    return 0;
}

int augur_answer_str(const struct augur_answer *a,
                     const char *pointer,
                     char *out,
                     size_t size)
{
    const msgpack_object *o;
    int err = pointer_find(a, pointer, &o);

    if (err != 0) {
        return err;
    }
    if (o->type != MSGPACK_OBJECT_STR) {
        return AUGUR_EINVAL;
    }
    if (o->via.str.size >= size) {
        if (size > 0) {
            out[0] = '\0';
        }
        return AUGUR_ETOOBIG;
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return 0;
}

int augur_answer_u64(const struct augur_answer *a,
                     const char *pointer,
                     uint64_t *out)
{
    const msgpack_object *o;
    int err = pointer_find(a, pointer, &o);

    if (err != 0) {
        return err;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return AUGUR_EINVAL;
    }
    *out = o->via.u64;
    return 0;
}

int augur_answer_i64(const struct augur_answer *a,
                     const char *pointer,
                     int64_t *out)
{
    const msgpack_object *o;
    int err = pointer_find(a, pointer, &o);

    if (err != 0) {
        return err;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        o->via.u64 > (uint64_t)INT64_MAX) {
        return AUGUR_EINVAL;
    }
    *out = (int64_t)o->via.u64;
    return 0;
}

int augur_answer_double(const struct augur_answer *a,
                        const char *pointer,
                        double *out)
{
    const msgpack_object *o;
    int err = pointer_find(a, pointer, &o);

    if (err != 0) {
        return err;
    }
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

int augur_answer_bool(const struct augur_answer *a,
                      const char *pointer,
                      int *out)
{
    const msgpack_object *o;
    int err = pointer_find(a, pointer, &o);

    if (err != 0) {
        return err;
    }
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        return AUGUR_EINVAL;
    }
    *out = o->via.boolean ? 1 : 0;
    return 0;
}

int augur_answer_count(const struct augur_answer *a,
                       const char *pointer,
                       size_t *out)
{
    const msgpack_object *o;
    int err = pointer_find(a, pointer, &o);

    if (err != 0) {
        return err;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        *out = o->via.array.size;
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        *out = o->via.map.size;
    } else {
        return AUGUR_EINVAL;
    }
    return 0;
}
