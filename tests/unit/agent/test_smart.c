/* SMART: smartctl's exit bits decoded into flags, its JSON read for ATA
 * and NVMe disks, from a fake smartctl printing recorded output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "tests/unit/agent/helpers.h"

#define T_MS 1764590000000LL

/* Run the SMART collector over the fixture host's disks with @smartctl. */
static void smart_collect(struct agent *a,
                          const char *smartctl,
                          struct telemetry_batch *b)
{
    struct agent_readings r;
    char root[AGENT_PATH_MAX];

    snprintf(root, sizeof root, "%s", fixture("host"));
    assert_int_equal(agent_init(a, root, smartctl), 0);
    agent_readings_init(&r);
    assert_int_equal(agent_smart_collect(a, &r), 0);
    telemetry_batch_init(b);
    b->t_ms = T_MS;
    assert_int_equal(agent_readings_to_batch(NULL, &r, T_MS, b), 0);
    agent_readings_close(&r);
}

static void exit_bits_of_a_failing_disk_are_named_flags(void **state)
{
    char fake[AGENT_PATH_MAX];
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    snprintf(fake, sizeof fake, "%s", fixture("smartctl-fake"));
    smart_collect(&a, fake, &b);
    /* 88 = bits 3 (failing), 4 (prefail below threshold), 6 (error log) */
    assert_true(sample(&b, "smart.sda.exit_status") == 88);
    assert_true(sample(&b, "smart.sda.flags.cmdline") == 0);
    assert_true(sample(&b, "smart.sda.flags.open_failed") == 0);
    assert_true(sample(&b, "smart.sda.flags.command_failed") == 0);
    assert_true(sample(&b, "smart.sda.flags.failing") == 1);
    assert_true(sample(&b, "smart.sda.flags.prefail_below") == 1);
    assert_true(sample(&b, "smart.sda.flags.usage_below_past") == 0);
    assert_true(sample(&b, "smart.sda.flags.error_log") == 1);
    assert_true(sample(&b, "smart.sda.flags.selftest_log") == 0);
    assert_true(sample(&b, "smart.sda.passed") == 0);
    assert_true(sample(&b, "smart.sda.reallocated_sectors") == 65416);
    assert_true(sample(&b, "smart.sda.pending_sectors") == 1288);
    assert_true(sample(&b, "smart.sda.reported_uncorrect") == 412);
    assert_true(sample(&b, "smart.sda.temperature_c") == 41);
    assert_true(sample(&b, "smart.sda.power_on_hours") == 24871);
    assert_true(sample(&b, "smart.sda.attr_240") == 24003);
    assert_int_equal(a.missing, 0);
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void a_healthy_nvme_disk_reads_its_health_log(void **state)
{
    char fake[AGENT_PATH_MAX];
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    snprintf(fake, sizeof fake, "%s", fixture("smartctl-fake"));
    smart_collect(&a, fake, &b);
    assert_true(sample(&b, "smart.nvme0n1.exit_status") == 0);
    for (int bit = 0; bit < AGENT_SMART_BITS; bit++) {
        char name[96];
        snprintf(name, sizeof name, "smart.nvme0n1.flags.%s",
                 agent_smart_bit_name(bit));
        assert_true(sample(&b, name) == 0);
    }
    assert_true(sample(&b, "smart.nvme0n1.passed") == 1);
    assert_true(sample(&b, "smart.nvme0n1.temperature_c") == 38);
    assert_true(sample(&b, "smart.nvme0n1.nvme_percentage_used") == 2);
    assert_true(sample(&b, "smart.nvme0n1.nvme_media_errors") == 0);
    assert_true(sample(&b, "smart.nvme0n1.nvme_unsafe_shutdowns") == 37);
    /* Partitions, loop and device-mapper devices are not asked. */
    assert_false(has_sample(&b, "smart.sda1.exit_status"));
    assert_false(has_sample(&b, "smart.dm-0.exit_status"));
    assert_false(has_sample(&b, "smart.loop0.exit_status"));
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void no_smartctl_marks_smart_missing(void **state)
{
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    smart_collect(&a, "/nonexistent/smartctl", &b);
    assert_int_equal(b.n, 0);
    assert_int_equal(a.missing, 1u << AGENT_C_SMART);
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void every_bit_decodes_on_its_own(void **state)
{
    static const char *const names[AGENT_SMART_BITS] = {
        "cmdline",       "open_failed",      "command_failed", "failing",
        "prefail_below", "usage_below_past", "error_log",      "selftest_log",
    };

    (void)state;
    for (int bit = 0; bit < AGENT_SMART_BITS; bit++) {
        struct agent_readings r;
        struct telemetry_batch b;
        char errmsg[AGENT_ERRMSG_SIZE];

        agent_readings_init(&r);
        /* An open failure prints no useful JSON: the flags still count. */
        assert_int_equal(agent_smart_parse("sdb", "", 1 << bit, &r, errmsg),
                         AUGUR_EMALFORMED);
        telemetry_batch_init(&b);
        assert_int_equal(agent_readings_to_batch(NULL, &r, 0, &b), 0);
        assert_string_equal(agent_smart_bit_name(bit), names[bit]);
        for (int k = 0; k < AGENT_SMART_BITS; k++) {
            char name[96];
            snprintf(name, sizeof name, "smart.sdb.flags.%s", names[k]);
            assert_true(sample(&b, name) == (k == bit));
        }
        assert_true(sample(&b, "smart.sdb.exit_status") == (1 << bit));
        telemetry_batch_close(&b);
        agent_readings_close(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_bits_of_a_failing_disk_are_named_flags),
        cmocka_unit_test(a_healthy_nvme_disk_reads_its_health_log),
        cmocka_unit_test(no_smartctl_marks_smart_missing),
        cmocka_unit_test(every_bit_decodes_on_its_own),
    };

    log_setup(LOG_LEVEL_ERROR, "test");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
