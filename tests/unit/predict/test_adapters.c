/* Unit tests of predict/'s dataset adapters on small fixtures: features and
 * labels of good files, and a clear "FILE:LINE: what" refusal for every
 * kind of malformed input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "predict/predict.h"

#define FX AUGUR_FIXTURES "/"

static int column(const struct predict_dataset *ds, const char *name)
{
    for (unsigned i = 0; i < ds->n_features; i++) {
        if (strcmp(ds->feature_names[i], name) == 0) {
            return (int)i;
        }
    }
    fail_msg("no feature %s", name);
    return -1;
}

static float at(const struct predict_dataset *ds, size_t row, const char *name)
{
    return ds->x[row * ds->n_features + (unsigned)column(ds, name)];
}

static void assert_near(double got, double want)
{
    if (fabs(got - want) > 1e-4) {
        fail_msg("got %.9g, want %.9g", got, want);
    }
}

/* Read @path in @format and expect @code with @where in the message. */
static void assert_refused(enum predict_format format,
                           const char *path,
                           int code,
                           const char *where)
{
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE] = "";
    int rv = predict_dataset_read(&ds, format, path, 0, errmsg);

    if (rv != code || strstr(errmsg, where) == NULL) {
        fail_msg("%s: got %d '%s', want %d with '%s'", path, rv, errmsg, code,
                 where);
    }
    assert_int_equal(ds.n_rows, 0);
    assert_null(ds.x);
}

/* ---- C-MAPSS ----------------------------------------------------------------
 */

static void cmapss_reads_units_features_and_remaining_life(void **state)
{
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(predict_dataset_read(&ds, PREDICT_FORMAT_CMAPSS,
                                          FX "cmapss_ok.txt", 1, errmsg),
                     0);
    assert_int_equal(ds.n_rows, 5);
    assert_int_equal(ds.n_groups, 2);
    assert_string_equal(ds.group_names[1], "2");
    assert_int_equal(ds.n_features, 1 + 14 * PREDICT_SF_COUNT);
    assert_string_equal(ds.feature_names[0], "cycle");
    assert_string_equal(ds.feature_names[1], "s2_value");
    {
        const float rul[] = {2, 1, 0, 1, 0};
        const float label[] = {0, 1, 1, 1, 1};
        for (int r = 0; r < 5; r++) {
            assert_near(ds.rul[r], rul[r]);
            assert_near(ds.label[r], label[r]);
        }
    }
    assert_near(at(&ds, 2, "cycle"), 3);
    assert_near(at(&ds, 2, "s2_value"), 644);
    assert_near(at(&ds, 1, "s2_ewma_mean"), 641.1); /* alpha 0.1 */
    assert_near(at(&ds, 2, "s2_win_max"), 644);
    assert_near(at(&ds, 3, "s2_value"), 640); /* a new unit starts afresh */
    assert_near(at(&ds, 3, "s2_win_max"), 640);
    {
        size_t last[2];
        assert_int_equal(predict_dataset_last_rows(&ds, last), 2);
        assert_int_equal(last[0], 2);
        assert_int_equal(last[1], 4);
    }
    predict_dataset_close(&ds);
}

static void cmapss_refuses_malformed_rows_with_file_and_line(void **state)
{
    (void)state;
    assert_refused(PREDICT_FORMAT_CMAPSS, FX "cmapss_short_row.txt",
                   AUGUR_EMALFORMED, "cmapss_short_row.txt:2: expected 26");
    assert_refused(PREDICT_FORMAT_CMAPSS, FX "cmapss_bad_number.txt",
                   AUGUR_EMALFORMED, "cmapss_bad_number.txt:2: field 7");
    assert_refused(PREDICT_FORMAT_CMAPSS, FX "cmapss_unit_again.txt",
                   AUGUR_EMALFORMED, "cmapss_unit_again.txt:3: unit 1");
    assert_refused(PREDICT_FORMAT_CMAPSS, FX "cmapss_cycle_gap.txt",
                   AUGUR_EMALFORMED, "cmapss_cycle_gap.txt:2:");
    assert_refused(PREDICT_FORMAT_CMAPSS, FX "no_such_file.txt", AUGUR_EIO,
                   "no_such_file.txt");
    assert_refused(PREDICT_FORMAT_CMAPSS, FX "bb_a.csv", AUGUR_EMALFORMED,
                   "bb_a.csv:1:");
}

/* ---- Backblaze
 * ---------------------------------------------------------------- */

static void backblaze_keeps_each_drives_last_day(void **state)
{
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        predict_dataset_read(&ds, PREDICT_FORMAT_BACKBLAZE,
                             FX "bb_a.csv," FX "bb_b.csv", 0, errmsg),
        0);
    assert_int_equal(ds.n_rows, 5);
    assert_int_equal(ds.n_groups, 5);
    assert_int_equal(ds.n_families, 2);
    assert_string_equal(ds.family_names[ds.family[4]], "ModelB");
    {
        const char *serial[] = {"S1", "S2", "S3", "T1", "T2"};
        const float label[] = {0, 1, 0, 0, 1};
        for (int r = 0; r < 5; r++) {
            assert_string_equal(ds.group_names[ds.group[r]], serial[r]);
            assert_near(ds.label[r], label[r]);
        }
    }
    /* S1: its last day. */
    assert_near(at(&ds, 0, "age_years"), 8790.0 / 8766.0);
    assert_near(at(&ds, 0, "temperature_c"), 31);
    assert_near(at(&ds, 0, "backblaze_rule"), 0);
    /* S2: 5 and 187 above zero, 197 empty. */
    assert_near(at(&ds, 1, "log_smart_5"), log1p(12.0));
    assert_near(at(&ds, 1, "nonzero_smart_5"), 1);
    assert_near(at(&ds, 1, "critical_nonzero"), 2);
    assert_near(at(&ds, 1, "critical_max_log"), log1p(12.0));
    assert_near(at(&ds, 1, "backblaze_rule"), 1);
    assert_true(isnan(at(&ds, 1, "log_smart_197")));
    /* S3: an empty value is missing, not zero. */
    assert_true(isnan(at(&ds, 2, "nonzero_smart_5")));
    /* ModelB has no 5/187/188/198 column. */
    assert_true(isnan(at(&ds, 3, "nonzero_smart_187")));
    assert_near(at(&ds, 3, "critical_nonzero"), 0);
    assert_near(at(&ds, 4, "critical_nonzero"), 1);
    assert_near(at(&ds, 4, "backblaze_rule"), 1);
    predict_dataset_close(&ds);
}

static void backblaze_refuses_malformed_rows_with_file_and_line(void **state)
{
    (void)state;
    assert_refused(PREDICT_FORMAT_BACKBLAZE, FX "bb_bad_failure.csv",
                   AUGUR_EMALFORMED, "bb_bad_failure.csv:3: failure");
    assert_refused(PREDICT_FORMAT_BACKBLAZE, FX "bb_bad_fields.csv",
                   AUGUR_EMALFORMED, "bb_bad_fields.csv:3: expected 5");
    assert_refused(PREDICT_FORMAT_BACKBLAZE, FX "bb_no_header.csv",
                   AUGUR_EMALFORMED, "bb_no_header.csv:1: header");
    assert_refused(PREDICT_FORMAT_BACKBLAZE, FX "bb_not_contiguous.csv",
                   AUGUR_EMALFORMED, "bb_not_contiguous.csv:4: drive S1");
    assert_refused(PREDICT_FORMAT_BACKBLAZE, FX "bb_a.csv," FX "missing.csv",
                   AUGUR_EIO, "missing.csv");
    assert_refused(PREDICT_FORMAT_BACKBLAZE, FX "cmapss_ok.txt",
                   AUGUR_EMALFORMED, "cmapss_ok.txt:1: header");
}

/* ---- Azure PdM
 * ------------------------------------------------------------------ */

static void pdm_builds_hourly_rows_with_events_and_labels(void **state)
{
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    assert_int_equal(
        predict_dataset_read(&ds, PREDICT_FORMAT_PDM, FX "pdm_ok", 0, errmsg),
        0);
    assert_int_equal(ds.n_rows, 6);
    assert_int_equal(ds.n_groups, 2);
    assert_near(ds.window, 24);
    /* Machine 1 fails at 09:00: the three hours before are positive.
     * Its 09:00 and both hours of machine 2 have no failure after them and
     * a window that reaches past their record's end: unknown. */
    for (int r = 0; r < 3; r++) {
        assert_near(ds.label[r], 1);
    }
    for (int r = 3; r < 6; r++) {
        assert_true(isnan(ds.label[r]));
    }
    assert_near(ds.rul[0], 3);
    assert_true(isnan(ds.rul[3]));
    assert_near(at(&ds, 0, "volt_value"), 170);
    assert_near(at(&ds, 3, "volt_win_mean"), 173);
    assert_true(isnan(at(&ds, 0, "error1_since_h")));
    assert_near(at(&ds, 2, "error1_since_h"), 0);
    assert_near(at(&ds, 3, "error1_since_h"), 1);
    assert_near(at(&ds, 2, "error1_rate_24h"), exp(-1.0 / 24) + 1);
    assert_near(at(&ds, 0, "comp2_since_replaced_h"), 24);
    assert_near(at(&ds, 5, "comp1_since_replaced_h"), 1);
    assert_true(isnan(at(&ds, 5, "comp2_since_replaced_h")));
    /* The comp4 failure at 09:00 is in no maintenance record: the failed
     * component counts as replaced from that hour on. */
    assert_true(isnan(at(&ds, 2, "comp4_since_replaced_h")));
    assert_near(at(&ds, 3, "comp4_since_replaced_h"), 0);
    assert_near(at(&ds, 0, "age_years"), 18);
    assert_near(at(&ds, 0, "model"), 3);
    assert_near(at(&ds, 5, "model"), 4);
    predict_dataset_close(&ds);
}

static void pdm_labels_only_the_record_end_unknown(void **state)
{
    struct predict_dataset ds;
    char errmsg[PREDICT_ERRMSG_SIZE];

    (void)state;
    /* With a 1-hour window, machine 1's 09:00 is still unknown (its record
     * ends there), machine 2's 06:00 is a known negative (07:00 is seen,
     * no failure) and its 07:00 unknown. */
    assert_int_equal(
        predict_dataset_read(&ds, PREDICT_FORMAT_PDM, FX "pdm_ok", 1, errmsg),
        0);
    assert_near(ds.label[0], 0);
    assert_near(ds.label[2], 1);
    assert_true(isnan(ds.label[3]));
    assert_near(ds.label[4], 0);
    assert_true(isnan(ds.label[5]));
    predict_dataset_close(&ds);
}

static void pdm_refuses_unknown_machines_and_missing_files(void **state)
{
    (void)state;
    assert_refused(PREDICT_FORMAT_PDM, FX "pdm_bad", AUGUR_EMALFORMED,
                   "PdM_errors.csv:3: unknown machineID '9'");
    assert_refused(PREDICT_FORMAT_PDM, FX "no_such_dir", AUGUR_EIO,
                   "no_such_dir/PdM_machines.csv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cmapss_reads_units_features_and_remaining_life),
        cmocka_unit_test(cmapss_refuses_malformed_rows_with_file_and_line),
        cmocka_unit_test(backblaze_keeps_each_drives_last_day),
        cmocka_unit_test(backblaze_refuses_malformed_rows_with_file_and_line),
        cmocka_unit_test(pdm_builds_hourly_rows_with_events_and_labels),
        cmocka_unit_test(pdm_labels_only_the_record_end_unknown),
        cmocka_unit_test(pdm_refuses_unknown_machines_and_missing_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
