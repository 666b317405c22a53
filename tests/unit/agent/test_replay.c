/* Replay of the recorded data sets (../shared/data, or AUGUR_DATA_DIR):
 * per unit a resource id, one batch per recorded time step, and times
 * compressed by the speed, on a fake clock.  Without the data the test
 * reports SKIP (exit 77), it does not pass. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/log.h"
#include "predict/predict.h"
#include "tests/unit/agent/helpers.h"

#define SKIP_CODE 77
#define START 1764590000000LL
#define SENT_MAX 64

static char data_dir[4096];

/* The fake clock and a sink that keeps what it was sent. */
struct recorder
{
    int64_t now;
    int64_t slept;
    size_t n;
    char resource[SENT_MAX][TELEMETRY_RESOURCE_MAX + 1];
    int64_t t_ms[SENT_MAX];
    size_t n_samples[SENT_MAX];
    double first_value[SENT_MAX];
    char first_name[SENT_MAX][TELEMETRY_NAME_MAX + 1];
};

static int64_t fake_now(void *arg)
{
    return ((struct recorder *)arg)->now;
}

static void fake_sleep(void *arg, int64_t ms)
{
    struct recorder *r = arg;
    r->now += ms;
    r->slept += ms;
}

static int keep(void *arg, const struct telemetry_batch *b)
{
    struct recorder *r = arg;

    if (r->n == SENT_MAX) {
        return AUGUR_ETOOBIG;
    }
    snprintf(r->resource[r->n], sizeof r->resource[0], "%s", b->resource);
    r->t_ms[r->n] = b->t_ms;
    r->n_samples[r->n] = b->n;
    if (b->n > 0) {
        r->first_value[r->n] = b->s[0].value;
        snprintf(r->first_name[r->n], sizeof r->first_name[0], "%s",
                 telemetry_sample_name(b, 0));
    }
    r->n++;
    return 0;
}

static int replay_opt(struct recorder *r,
                      enum predict_format format,
                      const char *rel,
                      double speed,
                      const char *units,
                      uint64_t steps,
                      uint64_t skip,
                      const char *resource,
                      char *errmsg)
{
    char path[4200];
    struct agent_replay_options opt = {
        .format = format,
        .data = path,
        .speed = speed,
        .units = units,
        .max_steps = steps,
        .skip = skip,
        .resource = resource,
    };
    struct agent_sink sink = {.send = keep, .arg = r};
    struct agent_clock clock = {
        .now_ms = fake_now, .sleep_ms = fake_sleep, .arg = r};

    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    memset(r, 0, sizeof *r);
    r->now = START;
    return agent_replay_run(&opt, &sink, &clock, errmsg);
}

static int replay(struct recorder *r,
                  enum predict_format format,
                  const char *rel,
                  double speed,
                  const char *units,
                  uint64_t steps,
                  char *errmsg)
{
    return replay_opt(r, format, rel, speed, units, steps, 0, NULL, errmsg);
}

static void pdm_machines_report_hourly_steps_compressed(void **state)
{
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];

    (void)state;
    /* 3600 recorded seconds per second: one recorded hour a second. */
    assert_int_equal(replay(&r, PREDICT_FORMAT_PDM, "azure-pdm", 3600,
                            "machine-1,2", 3, errmsg),
                     0);
    assert_int_equal(r.n, 6);
    for (size_t i = 0; i < r.n; i++) {
        assert_string_equal(r.resource[i], i % 2 ? "machine-2" : "machine-1");
        assert_true(r.t_ms[i] == START + (int64_t)(i / 2) * 1000);
        assert_true(r.n_samples[i] > 10);
        assert_string_equal(r.first_name[i], "pdm.volt_value");
    }
    /* The first row of machine 1 in PdM_telemetry.csv. */
    assert_true(fabs(r.first_value[0] - 176.217853015625) < 1e-4);
    assert_true(r.slept == 2000);
}

static void cmapss_engines_report_cycles(void **state)
{
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];

    (void)state;
    /* A cycle counts as an hour: at 7200 one cycle is half a second. */
    assert_int_equal(replay(&r, PREDICT_FORMAT_CMAPSS, "cmapss/train_FD001.txt",
                            7200, "engine-3", 4, errmsg),
                     0);
    assert_int_equal(r.n, 4);
    for (size_t i = 0; i < r.n; i++) {
        assert_string_equal(r.resource[i], "engine-3");
        assert_true(r.t_ms[i] == START + (int64_t)i * 500);
        assert_string_equal(r.first_name[i], "cmapss.cycle");
        assert_true(r.first_value[i] == (double)(i + 1));
    }
}

/* The backblaze adapter makes one row per drive (its last day): each
 * drive reports once, as its serial, at its day's offset. */
static void backblaze_drives_report_as_their_serial(void **state)
{
    struct predict_dataset ds;
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];
    char path[4200];
    char units[256];

    (void)state;
    snprintf(path, sizeof path,
             "%s/backblaze/TOSHIBA_MQ01ABF050_last_10_day.csv", data_dir);
    predict_dataset_init(&ds);
    assert_int_equal(
        predict_dataset_read(&ds, PREDICT_FORMAT_BACKBLAZE, path, 0, errmsg),
        0);
    assert_true(ds.n_groups >= 2);
    snprintf(units, sizeof units, "%s,%s", ds.group_names[0],
             ds.group_names[1]);
    /* A day a second. */
    assert_int_equal(replay(&r, PREDICT_FORMAT_BACKBLAZE,
                            "backblaze/TOSHIBA_MQ01ABF050_last_10_day.csv",
                            86400, units, 0, errmsg),
                     0);
    assert_int_equal(r.n, 2);
    for (size_t i = 0; i < r.n; i++) {
        assert_true(strcmp(r.resource[i], ds.group_names[0]) == 0 ||
                    strcmp(r.resource[i], ds.group_names[1]) == 0);
        assert_true((r.t_ms[i] - START) % 1000 == 0);
        assert_true(r.n_samples[i] > 5);
    }
    assert_string_not_equal(r.resource[0], r.resource[1]);
    predict_dataset_close(&ds);
}

static void units_that_match_nothing_are_refused(void **state)
{
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(replay(&r, PREDICT_FORMAT_PDM, "azure-pdm", 3600,
                            "machine-999", 0, errmsg),
                     AUGUR_ENOTFOUND);
    assert_non_null(strstr(errmsg, "--units"));
    assert_int_equal(r.n, 0);
}

static void bad_speed_and_missing_data_are_refused(void **state)
{
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        replay(&r, PREDICT_FORMAT_PDM, "azure-pdm", 0, NULL, 1, errmsg),
        AUGUR_EINVAL);
    assert_int_equal(
        replay(&r, PREDICT_FORMAT_PDM, "azure-pdm", NAN, NULL, 1, errmsg),
        AUGUR_EINVAL);
    assert_int_not_equal(
        replay(&r, PREDICT_FORMAT_PDM, "no-such-dir", 1, NULL, 1, errmsg), 0);
}

/* --skip passes over steps without a wait and without sending; the clock
 * starts at the first step sent, whose features are those of the whole
 * history (the cycle feature of engine 3's 11th row is 11). */
static void skip_starts_later_on_a_fresh_clock(void **state)
{
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        replay_opt(&r, PREDICT_FORMAT_CMAPSS, "cmapss/train_FD001.txt", 7200,
                   "engine-3", 3, 10, NULL, errmsg),
        0);
    assert_int_equal(r.n, 3);
    for (size_t i = 0; i < r.n; i++) {
        assert_true(r.t_ms[i] == START + (int64_t)i * 500);
        assert_string_equal(r.first_name[i], "cmapss.cycle");
        assert_true(r.first_value[i] == (double)(i + 11));
    }
    assert_true(r.slept == 1000);
    /* Engine 3 has 179 cycles: skipping them all leaves nothing. */
    assert_int_equal(
        replay_opt(&r, PREDICT_FORMAT_CMAPSS, "cmapss/train_FD001.txt", 7200,
                   "engine-3", 0, 179, NULL, errmsg),
        AUGUR_ENOTFOUND);
    assert_non_null(strstr(errmsg, "--skip"));
    assert_int_equal(r.n, 0);
}

/* --resource reports the one unit selected as another resource. */
static void resource_renames_one_unit(void **state)
{
    struct recorder r;
    char errmsg[AGENT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(replay_opt(&r, PREDICT_FORMAT_PDM, "azure-pdm", 3600,
                                "machine-4", 2, 0, "host-r1-2", errmsg),
                     0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.resource[0], "host-r1-2");
    assert_string_equal(r.resource[1], "host-r1-2");
    /* Two units, or none chosen, cannot take one name. */
    assert_int_equal(
        replay_opt(&r, PREDICT_FORMAT_PDM, "azure-pdm", 3600,
                   "machine-4,machine-5", 2, 0, "host-r1-2", errmsg),
        AUGUR_EINVAL);
    assert_non_null(strstr(errmsg, "--resource"));
    assert_int_equal(r.n, 0);
    assert_int_equal(replay_opt(&r, PREDICT_FORMAT_PDM, "azure-pdm", 3600,
                                "machine-4", 2, 0, "bad id!", errmsg),
                     AUGUR_EINVAL);
    assert_int_equal(r.n, 0);
}

static bool exists(const char *rel)
{
    char path[4200];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    return stat(path, &st) == 0;
}

int main(void)
{
    const char *env = getenv("AUGUR_DATA_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pdm_machines_report_hourly_steps_compressed),
        cmocka_unit_test(cmapss_engines_report_cycles),
        cmocka_unit_test(backblaze_drives_report_as_their_serial),
        cmocka_unit_test(units_that_match_nothing_are_refused),
        cmocka_unit_test(bad_speed_and_missing_data_are_refused),
        cmocka_unit_test(skip_starts_later_on_a_fresh_clock),
        cmocka_unit_test(resource_renames_one_unit),
    };

    log_setup(LOG_LEVEL_ERROR, "test");
    /* $AUGUR_DATA_DIR, else next to the checkout: never an absolute path
     * of some machine. */
    snprintf(data_dir, sizeof data_dir, "%s",
             env != NULL && env[0] != '\0' ? env
                                           : AUGUR_SOURCE_DIR
                 "/../shared/data");
    if (!exists("azure-pdm/PdM_telemetry.csv") ||
        !exists("cmapss/train_FD001.txt") ||
        !exists("backblaze/TOSHIBA_MQ01ABF050_last_10_day.csv")) {
        printf("SKIP: the data sets are not in %s (set AUGUR_DATA_DIR)\n",
               data_dir);
        return SKIP_CODE;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
