/* Models in the store: model publish|list|activate, and predict (the
 * leader's live view of a resource's failure risk). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "predict/predict.h"

/* The largest model file publish reads (the store's own limit), and the
 * chunk it sends.  A chunk is one Raft entry, and the replica refuses an
 * entry over 256 KiB (raft/write.c, BATCH_BYTES_MAX) with ETOOBIG: a chunk
 * of 256 KiB plus its command's fields did not go through, so any model
 * over one chunk failed to publish with the defaults.  The chunks stay
 * under it with room for the fields, though the store would take 1 MiB. */
#define PUBLISH_FILE_MAX (64u << 20)
#define PUBLISH_CHUNK (192u << 10)
#define PUBLISH_CHUNK_MAX (224u << 10)
#define CHECKSUM_HEX_SIZE 65

static const struct cli_column model_columns[] = {
    {"NAME", "{name}"},
    {"VERSION", "{version}"},
    {"SIZE", "{size}"},
    {"CHECKSUM", "{checksum}"},
    {"KIND", "{kind}"},
    {"ACTIVE_FOR", "{active}"},
    {"PUBLISHED_AT", "{published_at}"},
    {0},
};

static int file_read(struct cli *cli, const char *path, char **buf, size_t *len)
{
    char msg[CLI_ERR_SIZE];
    FILE *f = fopen(path, "rb");
    size_t cap = 0;
    char *b = NULL;

    *len = 0;
    if (f == NULL) {
        snprintf(msg, sizeof msg, "%s: %s", path, strerror(errno));
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    for (;;) {
        size_t n;
        if (*len == cap) {
            char *q;
            cap = cap == 0 ? 1u << 20 : cap * 2;
            if (cap > 2 * (size_t)PUBLISH_FILE_MAX ||
                (q = realloc(b, cap)) == NULL) {
                free(b);
                fclose(f);
                snprintf(msg, sizeof msg, "%s: larger than %u MiB", path,
                         PUBLISH_FILE_MAX >> 20);
                return cli_fail(cli, AUGUR_ETOOBIG, msg);
            }
            b = q;
        }
        n = fread(b + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f) || *len > PUBLISH_FILE_MAX) {
        free(b);
        fclose(f);
        snprintf(msg, sizeof msg, "%s: %s", path,
                 *len > PUBLISH_FILE_MAX ? "too large" : "read error");
        return cli_fail(cli, AUGUR_EIO, msg);
    }
    fclose(f);
    *buf = b;
    return CLI_EXIT_OK;
}

/* The file must be a model augurd can load: predict_model_load's checks. */
static int model_validate(struct cli *cli,
                          const char *path,
                          const char *buf,
                          size_t len,
                          char *format,
                          size_t format_size)
{
    char errmsg[PREDICT_ERRMSG_SIZE];
    char msg[CLI_ERR_SIZE + PREDICT_ERRMSG_SIZE];
    struct predict_model m;
    int rv;

    predict_model_init(&m);
    rv = predict_model_load(&m, buf, len, errmsg);
    if (rv != 0) {
        snprintf(msg, sizeof msg, "%s: not a model file: %s", path, errmsg);
        return cli_fail(cli, rv, msg);
    }
    snprintf(format, format_size, "%s", predict_format_name(m.format));
    predict_model_close(&m);
    return CLI_EXIT_OK;
}

int cli_model_publish_run(struct cli *cli, const struct cli_args *a)
{
    const char *path = a->pos[0];
    const char *name = cli_args_get(a, "name");
    const char *kind = cli_args_get(a, "kind");
    char hex[CHECKSUM_HEX_SIZE];
    unsigned char sum[32];
    char format[32];
    const char *chunk_flag = cli_args_get(a, "chunk-size");
    uint64_t chunk = PUBLISH_CHUNK;
    uint64_t upload;
    uint64_t chunks;
    size_t len = 0;
    char *buf = NULL;
    json_t *res = NULL;
    struct cli_pack args;
    int rv;

    if (chunk_flag != NULL) {
        rv = cli_value_u64(cli, "--chunk-size", chunk_flag, 1024, &chunk);
        if (rv == CLI_EXIT_OK && chunk > PUBLISH_CHUNK_MAX) {
            rv = cli_usage(cli, "--chunk-size: at most %u", PUBLISH_CHUNK_MAX);
        }
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
    }
    rv = file_read(cli, path, &buf, &len);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = model_validate(cli, path, buf, len, format, sizeof format);
    if (rv == CLI_EXIT_OK && len == 0) {
        rv = cli_fail(cli, AUGUR_EINVAL, "the file is empty");
    }
    if (rv != CLI_EXIT_OK) {
        free(buf);
        return rv;
    }
    crypto_generichash(sum, sizeof sum, (const unsigned char *)buf, len, NULL,
                       0);
    sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
    /* One upload id per publish: a retried publish starts over, and the
     * store drops the chunks of an upload left half-done. */
    do {
        randombytes_buf(&upload, sizeof upload);
    } while (upload == 0);
    chunks = (len + chunk - 1) / chunk;
    for (uint64_t i = 0; i < chunks && rv == CLI_EXIT_OK; i++) {
        size_t off = (size_t)(i * chunk);
        size_t n = len - off < chunk ? len - off : (size_t)chunk;

        cli_pack_init(&args);
        cli_pack_map(&args, 4);
        cli_pack_kv_str(&args, "name", name);
        cli_pack_kv_u64(&args, "upload", upload);
        cli_pack_kv_u64(&args, "index", i);
        cli_pack_str(&args, "data", 4);
        msgpack_pack_bin_with_body(&args.pk, buf + off, n);
        rv = cli_call(cli, CLI_OP(MODEL_CHUNK), &args, false, &res);
        json_decref(res);
        res = NULL;
        cli_pack_close(&args);
    }
    free(buf);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    cli_pack_init(&args);
    cli_pack_map(&args, 5 + (kind != NULL));
    cli_pack_kv_str(&args, "name", name);
    cli_pack_kv_u64(&args, "upload", upload);
    cli_pack_kv_u64(&args, "chunks", chunks);
    cli_pack_kv_u64(&args, "size", len);
    cli_pack_kv_str(&args, "checksum", hex);
    if (kind != NULL) {
        cli_pack_kv_str(&args, "kind", kind);
    }
    rv = cli_call(cli, CLI_OP(MODEL_COMMIT), &args, false, &res);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = cli_json_print(res);
    } else {
        printf(
            "model %s version %lld published: %zu bytes in %llu chunk(s), "
            "%s model, kind %s, blake2b %.16s...\n",
            name,
            (long long)json_integer_value(json_object_get(res, "version")), len,
            (unsigned long long)chunks, format,
            json_string_value(json_object_get(res, "kind")), hex);
    }
    json_decref(res);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print");
}

int cli_model_list_run(struct cli *cli, const struct cli_args *a)
{
    (void)a;
    return cli_run_list(cli, CLI_OP(MODEL_LIST), NULL, NULL, model_columns);
}

int cli_model_activate_run(struct cli *cli, const struct cli_args *a)
{
    const char *kind = cli_args_get(a, "kind");
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1 + (kind != NULL));
    cli_pack_kv_str(&args, "name", a->pos[0]);
    if (kind != NULL) {
        cli_pack_kv_str(&args, "kind", kind);
    }
    rv = cli_run_write(cli, CLI_OP(MODEL_ACTIVATE), &args);
    cli_pack_close(&args);
    return rv;
}

/* ---- predict ---------------------------------------------------------- */

static const struct cli_column predict_fields[] = {
    {"resource", "{resource}"},
    {"p_fail", "{p_fail}"},
    {"window_s", "{window_s}"},
    {"confidence", "{confidence}"},
    {"model", "{model}"},
    {"correlated", "{correlated.p} via {correlated.via}"},
    {"committed", "{committed.p} at {committed.updated_at}"},
    {"updated_at", "{updated_at}"},
    {0},
};

/* A window: N seconds, or N followed by s, m, h, d or w; 1 s to 10
 * years.  0, or -1 when it is not one. */
static int window_parse(const char *s, uint64_t *out)
{
    static const struct
    {
        char suffix;
        uint64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (*p < '0' || *p > '9') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > 400000000ull) {
            return -1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0') {
        size_t i = 0;
        while (i < sizeof units / sizeof units[0] && units[i].suffix != *p) {
            i++;
        }
        if (i == sizeof units / sizeof units[0] || p[1] != '\0') {
            return -1;
        }
        mul = units[i].seconds;
    }
    if (v == 0 || v * mul > 10ull * 366 * 86400) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

static int run_predict(struct cli *cli, const struct cli_args *a)
{
    const char *window = cli_args_get(a, "window");
    uint64_t window_s = 0;
    struct cli_pack args;
    json_t *res = NULL;
    json_t *reasons;
    int rv;

    if (window != NULL && window_parse(window, &window_s) != 0) {
        return cli_usage(cli,
                         "--window: a duration such as 24h, 7d or 3600 "
                         "(seconds), from 1 s to 10 years");
    }
    cli_pack_init(&args);
    cli_pack_map(&args, window_s > 0 ? 2 : 1);
    cli_pack_kv_str(&args, "resource", a->pos[0]);
    if (window_s > 0) {
        cli_pack_kv_u64(&args, "window", window_s);
    }
    rv = cli_call(cli, CLI_OP(PREDICT), &args, true, &res);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = cli_json_print(res);
    } else {
        rv = cli_fields_print(predict_fields, res);
        reasons = json_object_get(res, "reasons");
        for (size_t i = 0; rv == 0 && i < json_array_size(reasons); i++) {
            const json_t *r = json_array_get(reasons, i);
            printf("reason %zu: %s %+.4f\n", i + 1,
                   json_string_value(json_object_get(r, "feature")),
                   json_number_value(json_object_get(r, "contribution")));
        }
    }
    json_decref(res);
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print");
}

/* ---- the command tables ------------------------------------------------ */

const struct cli_arg cli_model_publish_args[] = {
    {"FILE", "a model file from 'augur model train'", false},
    {0},
};

const struct cli_flag cli_model_publish_flags[] = {
    {"name", 0, "NAME", "the model's name in the store", CLI_FLAG_REQUIRED},
    {"kind", 0, "KIND",
     "the resource kind the model is for (default: as before, or host)", 0},
    {"chunk-size", 0, "BYTES",
     "bytes per chunk (default 196608, at most 229376: one Raft entry "
     "each)",
     0},
    {0},
};

const struct cli_arg cli_model_activate_args[] = {
    {"NAME", "a published model", false},
    {0},
};

const struct cli_flag cli_model_activate_flags[] = {
    {"kind", 0, "KIND", "the resource kind it scores (default: the model's)",
     0},
    {0},
};

static const struct cli_arg predict_args[] = {
    {"RESOURCE", "a resource id", false},
    {0},
};

static const struct cli_flag predict_flags[] = {
    {"window", 0, "24h|7d|SECONDS",
     "p_fail within this window (s, m, h, d, w), from the time-to-failure "
     "part of the resource's model",
     0},
    {0},
};

const struct cli_command cli_predict_commands[] = {
    {"predict", "the leader's current failure risk of a resource",
     "The leader's live view: p_fail (from the model active for the "
     "resource's kind; with none, an anomaly score from its streaming "
     "telemetry; until the leader has enough reports of it, the committed "
     "score: 'model' says which), the window, the confidence, the top "
     "reasons (features and their contributions), the correlated risk "
     "through the resources it depends on (noisy-OR), and the score last "
     "committed.  A follower redirects to the leader; with --stale a "
     "follower answers the committed score alone, marked stale.  --window "
     "asks for p_fail within another window than the model's, from the "
     "model's time-to-failure part (monotone in the window); it needs the "
     "leader and a resource scored by such a model.",
     predict_args, predict_flags,
     "augur predict machine-17 --window 7d -o json", run_predict},
    {0},
};
