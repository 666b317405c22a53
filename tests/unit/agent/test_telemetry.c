/* Telemetry batches: the encoder and the strict decoder round trip, the
 * golden encoding, and every refusal (NaN and Inf, sizes over the limits,
 * bad names, times outside the window, unknown and missing keys). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/telemetry.h"

#define NOW 1764590000000LL

static void batch_fill(struct telemetry_batch *b)
{
    telemetry_batch_init(b);
    b->t_ms = NOW;
    b->dropped = 7;
    assert_int_equal(telemetry_batch_resource(b, "host-1"), 0);
    assert_int_equal(telemetry_batch_add(b, "cpu.user", 0.25, NOW), 0);
    assert_int_equal(telemetry_batch_add(b, "disk.sda.read_bytes", 409600, NOW),
                     0);
    assert_int_equal(
        telemetry_batch_add(b, "hwmon.coretemp.temp1_c", -1.5, NOW - 250), 0);
    assert_int_equal(
        telemetry_batch_add(b, "smart.sda.flags.failing", 1, NOW + 10), 0);
}

static int decode(const msgpack_sbuffer *buf,
                  struct telemetry_batch *out,
                  char *errmsg)
{
    return telemetry_decode_bytes((const uint8_t *)buf->data, buf->size, NOW,
                                  TELEMETRY_PAST_MS, TELEMETRY_FUTURE_MS, out,
                                  errmsg);
}

static void encode_decode_round_trips(void **state)
{
    struct telemetry_batch b;
    struct telemetry_batch d;
    msgpack_sbuffer buf;
    char errmsg[TELEMETRY_ERRMSG_SIZE];

    (void)state;
    batch_fill(&b);
    msgpack_sbuffer_init(&buf);
    assert_int_equal(telemetry_encode(&b, &buf), 0);
    telemetry_batch_init(&d);
    assert_int_equal(decode(&buf, &d, errmsg), 0);
    assert_string_equal(d.resource, "host-1");
    assert_true(d.t_ms == NOW);
    assert_true(d.dropped == 7);
    assert_int_equal(d.n, b.n);
    for (size_t i = 0; i < b.n; i++) {
        assert_string_equal(telemetry_sample_name(&d, i),
                            telemetry_sample_name(&b, i));
        assert_true(d.s[i].value == b.s[i].value);
        assert_int_equal(d.s[i].dt_ms, b.s[i].dt_ms);
    }
    assert_int_equal(d.s[2].dt_ms, -250);
    msgpack_sbuffer_destroy(&buf);
    telemetry_batch_close(&b);
    telemetry_batch_close(&d);
}

/* The encoding is a wire format: it must not drift. */
static void golden_batch_matches_file(void **state)
{
    struct telemetry_batch b;
    msgpack_sbuffer buf;
    char path[4096];
    char want[4096];
    size_t want_len;
    FILE *f;

    (void)state;
    batch_fill(&b);
    msgpack_sbuffer_init(&buf);
    assert_int_equal(telemetry_encode(&b, &buf), 0);
    snprintf(path, sizeof path, "%s/telemetry_batch_v1.msgpack",
             AUGUR_GOLDEN_DIR);
    if (getenv("AUGUR_GOLDEN_WRITE") != NULL) {
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf.data, 1, buf.size, f), buf.size);
        fclose(f);
    }
    f = fopen(path, "rb");
    assert_non_null(f);
    want_len = fread(want, 1, sizeof want, f);
    fclose(f);
    assert_int_equal(want_len, buf.size);
    assert_memory_equal(want, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    telemetry_batch_close(&b);
}

static void add_refuses_nan_inf_bad_names_and_far_times(void **state)
{
    struct telemetry_batch b;
    char long_name[TELEMETRY_NAME_MAX + 2];

    (void)state;
    telemetry_batch_init(&b);
    b.t_ms = NOW;
    assert_int_equal(telemetry_batch_add(&b, "cpu.user", NAN, NOW),
                     AUGUR_EINVAL);
    assert_int_equal(telemetry_batch_add(&b, "cpu.user", INFINITY, NOW),
                     AUGUR_EINVAL);
    assert_int_equal(telemetry_batch_add(&b, "cpu.user", -INFINITY, NOW),
                     AUGUR_EINVAL);
    const char *bad[] = {"",          ".cpu",      "cpu.",  "cpu..user",
                         "1cpu",      "cpu user",  "cpu/x", "cpu.us\xc3\xa9r",
                         "_cpu.user", "cpu.user\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(telemetry_batch_add(&b, bad[i], 1, NOW), AUGUR_EINVAL);
    }
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(telemetry_batch_add(&b, long_name, 1, NOW), AUGUR_EINVAL);
    long_name[TELEMETRY_NAME_MAX] = '\0';
    assert_int_equal(telemetry_batch_add(&b, long_name, 1, NOW), 0);
    assert_int_equal(
        telemetry_batch_add(&b, "cpu.user", 1, NOW + TELEMETRY_DT_MAX_MS + 1),
        AUGUR_EINVAL);
    assert_int_equal(b.n, 1);
    assert_int_equal(telemetry_batch_resource(&b, "host 1"), AUGUR_EINVAL);
    assert_int_equal(telemetry_batch_resource(&b, ""), AUGUR_EINVAL);
    telemetry_batch_close(&b);
}

static void add_stops_at_the_sample_limit(void **state)
{
    struct telemetry_batch b;
    msgpack_sbuffer buf;
    struct telemetry_batch d;
    char errmsg[TELEMETRY_ERRMSG_SIZE];

    (void)state;
    telemetry_batch_init(&b);
    b.t_ms = NOW;
    assert_int_equal(telemetry_batch_resource(&b, "h"), 0);
    for (int i = 0; i < TELEMETRY_SAMPLES_MAX; i++) {
        assert_int_equal(telemetry_batch_add(&b, "net.eth0.rx_bytes", i, NOW),
                         0);
    }
    assert_int_equal(telemetry_batch_add(&b, "cpu.user", 1, NOW),
                     AUGUR_ETOOBIG);
    /* A full batch still encodes and decodes. */
    msgpack_sbuffer_init(&buf);
    assert_int_equal(telemetry_encode(&b, &buf), 0);
    telemetry_batch_init(&d);
    assert_int_equal(decode(&buf, &d, errmsg), 0);
    assert_int_equal(d.n, TELEMETRY_SAMPLES_MAX);
    msgpack_sbuffer_destroy(&buf);
    telemetry_batch_close(&b);
    telemetry_batch_close(&d);
}

/* A hand-made batch: @n_keys of v, r, t, d, s (in that order) with the
 * given values, and @n samples of (name, value, dt), value as a double. */
struct raw
{
    int64_t v;
    const char *r;
    int64_t t;
    int n_keys;
    const char *extra_key; /* a sixth key, or NULL */
    uint32_t n;
    const char *name;
    double value;
    int64_t dt;
};

static int decode_raw(const struct raw *w, char *errmsg)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    struct telemetry_batch d;
    int rv;

    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)w->n_keys + (w->extra_key != NULL));
    if (w->n_keys > 0) {
        msgpack_pack_str_with_body(&pk, "v", 1);
        msgpack_pack_int64(&pk, w->v);
    }
    if (w->n_keys > 1) {
        msgpack_pack_str_with_body(&pk, "r", 1);
        msgpack_pack_str_with_body(&pk, w->r, strlen(w->r));
    }
    if (w->n_keys > 2) {
        msgpack_pack_str_with_body(&pk, "t", 1);
        msgpack_pack_int64(&pk, w->t);
    }
    if (w->n_keys > 3) {
        msgpack_pack_str_with_body(&pk, "d", 1);
        msgpack_pack_uint64(&pk, 0);
    }
    if (w->n_keys > 4) {
        msgpack_pack_str_with_body(&pk, "s", 1);
        msgpack_pack_array(&pk, (size_t)w->n * 3);
        for (uint32_t i = 0; i < w->n; i++) {
            msgpack_pack_str_with_body(&pk, w->name, strlen(w->name));
            msgpack_pack_double(&pk, w->value);
            msgpack_pack_int64(&pk, w->dt);
        }
    }
    if (w->extra_key != NULL) {
        msgpack_pack_str_with_body(&pk, w->extra_key, strlen(w->extra_key));
        msgpack_pack_nil(&pk);
    }
    telemetry_batch_init(&d);
    rv = telemetry_decode_bytes((const uint8_t *)buf.data, buf.size, NOW,
                                TELEMETRY_PAST_MS, TELEMETRY_FUTURE_MS, &d,
                                errmsg);
    if (rv != 0) {
        assert_int_equal(d.n, 0);
    }
    telemetry_batch_close(&d);
    msgpack_sbuffer_destroy(&buf);
    return rv;
}

static const struct raw good = {.v = 1,
                                .r = "host-1",
                                .t = NOW,
                                .n_keys = 5,
                                .n = 2,
                                .name = "cpu.user",
                                .value = 0.5,
                                .dt = 0};

static void decoder_accepts_a_good_batch(void **state)
{
    char errmsg[TELEMETRY_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(decode_raw(&good, errmsg), 0);
}

static void decoder_refuses_nan_and_inf(void **state)
{
    char errmsg[TELEMETRY_ERRMSG_SIZE];
    struct raw w = good;

    (void)state;
    w.value = NAN;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    assert_non_null(strstr(errmsg, "finite"));
    w.value = INFINITY;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    w.value = -INFINITY;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
}

static void decoder_refuses_oversized_batches_and_names(void **state)
{
    char errmsg[TELEMETRY_ERRMSG_SIZE];
    char long_name[TELEMETRY_NAME_MAX + 2];
    struct raw w = good;

    (void)state;
    w.n = TELEMETRY_SAMPLES_MAX + 1;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_ETOOBIG);
    w = good;
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    w.name = long_name;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_ETOOBIG);
}

static void decoder_refuses_bad_names_and_resources(void **state)
{
    char errmsg[TELEMETRY_ERRMSG_SIZE];
    const char *bad[] = {"", "cpu..user", "9cpu", "cpu user", "a.b.", "x\x01"};
    struct raw w = good;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w.name = bad[i];
        assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    }
    w = good;
    w.r = "host/1";
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    w.r = "";
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
}

static void decoder_refuses_times_outside_the_window(void **state)
{
    char errmsg[TELEMETRY_ERRMSG_SIZE];
    struct raw w = good;

    (void)state;
    w.t = NOW + TELEMETRY_FUTURE_MS + 1;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EINVAL);
    w.t = NOW - TELEMETRY_PAST_MS - 1;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EINVAL);
    w.t = INT64_MIN;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EINVAL);
    w.t = INT64_MAX;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EINVAL);
    /* The batch in the window, one sample's offset past its edge. */
    w = good;
    w.t = NOW + TELEMETRY_FUTURE_MS;
    w.dt = 1;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EINVAL);
    w = good;
    w.dt = TELEMETRY_DT_MAX_MS + 1;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
}

static void decoder_refuses_unknown_missing_keys_and_versions(void **state)
{
    char errmsg[TELEMETRY_ERRMSG_SIZE];
    struct raw w = good;

    (void)state;
    w.extra_key = "x";
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    w.extra_key = "v"; /* a key given twice */
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    w = good;
    for (int k = 0; k < 5; k++) {
        w.n_keys = k;
        assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
    }
    w = good;
    w.v = 2;
    assert_int_equal(decode_raw(&w, errmsg), AUGUR_EMALFORMED);
}

static void decoder_refuses_what_is_not_a_map(void **state)
{
    struct telemetry_batch d;
    char errmsg[TELEMETRY_ERRMSG_SIZE];
    const uint8_t arr[] = {0x91, 0x01};
    const uint8_t trunc[] = {0x85, 0xa1, 'v'};

    (void)state;
    telemetry_batch_init(&d);
    assert_int_equal(
        telemetry_decode_bytes(arr, sizeof arr, NOW, TELEMETRY_PAST_MS,
                               TELEMETRY_FUTURE_MS, &d, errmsg),
        AUGUR_EMALFORMED);
    assert_int_equal(
        telemetry_decode_bytes(trunc, sizeof trunc, NOW, TELEMETRY_PAST_MS,
                               TELEMETRY_FUTURE_MS, &d, errmsg),
        AUGUR_EMALFORMED);
    assert_int_equal(telemetry_decode_bytes(arr, 0, NOW, TELEMETRY_PAST_MS,
                                            TELEMETRY_FUTURE_MS, &d, errmsg),
                     AUGUR_EMALFORMED);
    telemetry_batch_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_decode_round_trips),
        cmocka_unit_test(golden_batch_matches_file),
        cmocka_unit_test(add_refuses_nan_inf_bad_names_and_far_times),
        cmocka_unit_test(add_stops_at_the_sample_limit),
        cmocka_unit_test(decoder_accepts_a_good_batch),
        cmocka_unit_test(decoder_refuses_nan_and_inf),
        cmocka_unit_test(decoder_refuses_oversized_batches_and_names),
        cmocka_unit_test(decoder_refuses_bad_names_and_resources),
        cmocka_unit_test(decoder_refuses_times_outside_the_window),
        cmocka_unit_test(decoder_refuses_unknown_missing_keys_and_versions),
        cmocka_unit_test(decoder_refuses_what_is_not_a_map),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
