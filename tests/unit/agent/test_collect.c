/* The kernel collectors on fake /proc and /sys trees: the figures read,
 * the deltas between two reads, and hosts where collectors are missing. */
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

/* One read of @root (and a read of @prev_root before it, when not NULL)
 * into @b; the agent stays open for its missing set. */
static void collect(struct agent *a,
                    const char *prev_root,
                    const char *root,
                    struct telemetry_batch *b)
{
    struct agent_readings prev;
    struct agent_readings cur;
    char path[AGENT_PATH_MAX];

    agent_readings_init(&prev);
    agent_readings_init(&cur);
    if (prev_root != NULL) {
        snprintf(path, sizeof path, "%s", fixture(prev_root));
        assert_int_equal(agent_init(a, path, NULL), 0);
        assert_int_equal(agent_collect_kernel(a, &prev), 0);
    }
    snprintf(path, sizeof path, "%s", fixture(root));
    assert_int_equal(agent_init(a, path, NULL), 0);
    assert_int_equal(agent_collect_kernel(a, &cur), 0);
    telemetry_batch_init(b);
    b->t_ms = T_MS;
    assert_int_equal(agent_readings_to_batch(prev_root != NULL ? &prev : NULL,
                                             &cur, T_MS, b),
                     0);
    agent_readings_close(&prev);
    agent_readings_close(&cur);
}

static void first_read_has_gauges_and_no_deltas(void **state)
{
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    collect(&a, NULL, "host", &b);
    assert_true(sample(&b, "cpu.count") == 2);
    assert_true(sample(&b, "cpu.procs_running") == 3);
    assert_true(sample(&b, "cpu.procs_blocked") == 1);
    assert_true(sample(&b, "mem.total_bytes") == 16384000.0 * 1024);
    assert_true(sample(&b, "mem.available_bytes") == 8192000.0 * 1024);
    assert_true(sample(&b, "mem.used_fraction") == 0.5);
    assert_true(sample(&b, "mem.swap_total_bytes") == 4096000.0 * 1024);
    assert_true(sample(&b, "mem.swap_used_bytes") == 1024000.0 * 1024);
    assert_true(sample(&b, "mem.swap_used_fraction") == 0.25);
    assert_true(sample(&b, "psi.io.some_avg10") == 2.0);
    assert_true(sample(&b, "psi.memory.full_avg60") == 0.05);
    assert_true(sample(&b, "disk.sda.in_flight") == 2);
    /* Counters and shares need two reads. */
    assert_false(has_sample(&b, "cpu.user"));
    assert_false(has_sample(&b, "disk.sda.reads"));
    assert_false(has_sample(&b, "net.eth0.rx_bytes"));
    assert_false(has_sample(&b, "psi.io.some_total_us"));
    assert_int_equal(a.missing, 0);
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void hwmon_thermal_edac_read_with_labels_and_units(void **state)
{
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    collect(&a, NULL, "host", &b);
    assert_true(sample(&b, "hwmon.coretemp.package_id_0_c") == 52.0);
    assert_true(sample(&b, "hwmon.coretemp.core_0_c") == 49.0);
    assert_true(sample(&b, "hwmon.nct6775.temp1_c") == 35.0);
    assert_true(sample(&b, "hwmon.nct6775.fan1_rpm") == 1200.0);
    assert_true(sample(&b, "hwmon.nct6775.fan2_rpm") == 0.0);
    assert_true(sample(&b, "hwmon.nct6775.vcore_v") == 1.104);
    assert_true(sample(&b, "hwmon.nct6775.power1_w") == 15.25);
    /* A second chip of the same driver goes by its hwmon number. */
    assert_true(sample(&b, "hwmon.hwmon2.package_id_1_c") == 61.0);
    /* Not an input: a threshold. */
    assert_false(has_sample(&b, "hwmon.coretemp.package_id_0_crit"));
    assert_true(sample(&b, "thermal.zone0.x86_pkg_temp_c") == 53.0);
    assert_true(sample(&b, "thermal.zone1.acpitz_c") == 27.8);
    assert_true(sample(&b, "edac.mc0.ce") == 3);
    assert_true(sample(&b, "edac.mc0.ue") == 0);
    assert_true(sample(&b, "edac.mc1.ce") == 0);
    assert_true(sample(&b, "edac.mc1.ue") == 1);
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void two_reads_give_deltas_and_cpu_shares(void **state)
{
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    collect(&a, "host", "host-later", &b);
    /* 200 ticks: user+nice 100, system+irq+softirq 40, iowait 10, steal
     * 10, idle 40. */
    assert_true(sample(&b, "cpu.user") == 0.5);
    assert_true(sample(&b, "cpu.system") == 0.2);
    assert_true(sample(&b, "cpu.iowait") == 0.05);
    assert_true(sample(&b, "cpu.steal") == 0.05);
    assert_true(sample(&b, "cpu.idle") == 0.2);
    assert_true(sample(&b, "cpu.context_switches") == 1234);
    assert_true(sample(&b, "disk.sda.reads") == 10);
    assert_true(sample(&b, "disk.sda.writes") == 20);
    assert_true(sample(&b, "disk.sda.read_bytes") == 800 * 512);
    assert_true(sample(&b, "disk.sda.write_bytes") == 1600 * 512);
    assert_true(sample(&b, "disk.sda.io_ms") == 250);
    assert_true(sample(&b, "disk.sda.in_flight") == 1);
    assert_true(sample(&b, "net.eth0.rx_bytes") == 100000);
    assert_true(sample(&b, "net.eth0.rx_packets") == 100);
    assert_true(sample(&b, "net.eth0.rx_errors") == 3);
    assert_true(sample(&b, "net.eth0.rx_drops") == 0);
    assert_true(sample(&b, "net.eth0.tx_bytes") == 10000);
    assert_true(sample(&b, "net.eth0.tx_packets") == 100);
    assert_true(sample(&b, "net.eth0.tx_errors") == 0);
    assert_true(sample(&b, "net.eth0.tx_drops") == 1);
    assert_true(sample(&b, "net.wlan0.rx_bytes") == 0);
    assert_true(sample(&b, "psi.cpu.some_total_us") == 250000);
    assert_true(sample(&b, "psi.cpu.some_avg10") == 1.6);
    /* nvme0n1's read counters went down (a reset): no sample, not a
     * negative one; its unchanged write counter is a 0. */
    assert_false(has_sample(&b, "disk.nvme0n1.reads"));
    assert_false(has_sample(&b, "disk.nvme0n1.read_bytes"));
    assert_true(sample(&b, "disk.nvme0n1.writes") == 0);
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void partitions_loop_ram_and_loopback_are_skipped(void **state)
{
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    collect(&a, "host", "host-later", &b);
    for (size_t i = 0; i < b.n; i++) {
        const char *n = telemetry_sample_name(&b, i);
        assert_null(strstr(n, "sda1"));
        assert_null(strstr(n, "sda2"));
        assert_null(strstr(n, "nvme0n1p1"));
        assert_null(strstr(n, "loop0"));
        assert_null(strstr(n, "ram0"));
        assert_null(strstr(n, "zram0"));
        assert_null(strstr(n, "net.lo."));
    }
    /* device-mapper is a disk of its own for I/O figures. */
    assert_true(has_sample(&b, "disk.dm-0.reads"));
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void count_lines(void *data,
                        enum log_level level,
                        const char *file,
                        int line,
                        const char *msg)
{
    (void)level;
    (void)file;
    (void)line;
    (void)msg;
    (*(int *)data)++;
}

static void missing_collectors_are_listed_not_fatal(void **state)
{
    struct agent_readings r;
    struct telemetry_batch b;
    struct agent a;
    const uint32_t want = 1u << AGENT_C_PSI | 1u << AGENT_C_HWMON |
                          1u << AGENT_C_THERMAL | 1u << AGENT_C_EDAC;
    int lines = 0;

    (void)state;
    log_sink_set(LOG_LEVEL_INFO, count_lines, &lines);
    collect(&a, NULL, "bare", &b);
    assert_int_equal(a.missing, want);
    assert_int_equal(a.reported, want);
    assert_int_equal(lines, 4); /* one line per missing collector */
    /* Reported once: a second read logs nothing new. */
    agent_readings_init(&r);
    assert_int_equal(agent_collect_kernel(&a, &r), 0);
    agent_readings_close(&r);
    assert_int_equal(lines, 4);
    assert_int_equal(a.missing, want);
    log_sink_set(LOG_LEVEL_ERROR, NULL, NULL);
    assert_true(sample(&b, "mem.used_fraction") == 0.5);
    assert_false(has_sample(&b, "psi.io.some_avg10"));
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void a_root_without_proc_misses_everything(void **state)
{
    struct telemetry_batch b;
    struct agent a;

    (void)state;
    collect(&a, NULL, "smart", &b); /* a directory with no /proc in it */
    assert_int_equal(b.n, 0);
    for (unsigned c = 0; c < AGENT_C_SMART; c++) {
        assert_true(a.missing & 1u << c);
    }
    telemetry_batch_close(&b);
    agent_close(&a);
}

static void names_are_cleaned_for_metrics(void **state)
{
    char s[64];

    (void)state;
    snprintf(s, sizeof s, "Package id 0");
    agent_name_clean(s);
    assert_string_equal(s, "package_id_0");
    snprintf(s, sizeof s, "  +3.3V (AVCC) ");
    agent_name_clean(s);
    assert_string_equal(s, "3_3v_avcc");
    snprintf(s, sizeof s, "eth0.100");
    agent_name_clean(s);
    assert_string_equal(s, "eth0_100");
}

static void partitions_are_told_by_name_without_sysfs(void **state)
{
    struct agent a;

    (void)state;
    assert_int_equal(agent_init(&a, fixture("bare"), NULL), 0);
    assert_true(agent__is_partition(&a, "sda1"));
    assert_true(agent__is_partition(&a, "vdb12"));
    assert_true(agent__is_partition(&a, "nvme0n1p3"));
    assert_true(agent__is_partition(&a, "mmcblk0p1"));
    assert_false(agent__is_partition(&a, "sda"));
    assert_false(agent__is_partition(&a, "nvme0n1"));
    assert_false(agent__is_partition(&a, "mmcblk0"));
    assert_false(agent__is_partition(&a, "dm-0"));
    agent_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_read_has_gauges_and_no_deltas),
        cmocka_unit_test(hwmon_thermal_edac_read_with_labels_and_units),
        cmocka_unit_test(two_reads_give_deltas_and_cpu_shares),
        cmocka_unit_test(partitions_loop_ram_and_loopback_are_skipped),
        cmocka_unit_test(missing_collectors_are_listed_not_fatal),
        cmocka_unit_test(a_root_without_proc_misses_everything),
        cmocka_unit_test(names_are_cleaned_for_metrics),
        cmocka_unit_test(partitions_are_told_by_name_without_sysfs),
    };

    log_setup(LOG_LEVEL_ERROR, "test");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
