/* The SMART collector: smartctl -j -a per disk, its JSON read with
 * jansson and its exit status decoded into named flags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"
#include "common/log.h"

#define SMART_OUT_MAX (1024 * 1024)
#define DISKS_BUF 4096

static const char *const bit_names[AGENT_SMART_BITS] = {
    "cmdline",       "open_failed",      "command_failed", "failing",
    "prefail_below", "usage_below_past", "error_log",      "selftest_log",
};

const char *agent_smart_bit_name(enum agent_smart_bit bit)
{
    return (unsigned)bit < AGENT_SMART_BITS ? bit_names[bit] : "?";
}

/* ATA attributes worth a name of their own (raw values); the others are
 * reported as attr_ID. */
static const struct
{
    int id;
    const char *name;
} ata_names[] = {
    {1, "read_error_rate"},         {5, "reallocated_sectors"},
    {9, "power_on_hours_raw"},      {10, "spin_retry_count"},
    {12, "power_cycles"},           {184, "end_to_end_errors"},
    {187, "reported_uncorrect"},    {188, "command_timeout"},
    {190, "airflow_temperature"},   {194, "temperature_raw"},
    {196, "reallocation_events"},   {197, "pending_sectors"},
    {198, "offline_uncorrectable"}, {199, "crc_errors"},
};

/* NVMe health log fields, by their smartctl JSON key. */
static const char *const nvme_fields[] = {
    "critical_warning", "available_spare",     "percentage_used",
    "media_errors",     "num_err_log_entries", "unsafe_shutdowns",
    "power_cycles",     "power_on_hours",
};

static int add_number(struct agent_readings *out,
                      const char *disk,
                      const char *what,
                      const json_t *v)
{
    if (json_is_boolean(v)) {
        return agent_readings_add(out, AGENT_GAUGE, json_is_true(v) ? 1 : 0, 0,
                                  "smart.%s.%s", disk, what);
    }
    if (!json_is_number(v)) {
        return 0;
    }
    return agent_readings_add(out, AGENT_GAUGE, json_number_value(v), 0,
                              "smart.%s.%s", disk, what);
}

static int ata_attributes(struct agent_readings *out,
                          const char *disk,
                          const json_t *table)
{
    size_t i;
    json_t *row;
    int rv = 0;

    json_array_foreach(table, i, row)
    {
        json_t *id = json_object_get(row, "id");
        json_t *raw = json_object_get(json_object_get(row, "raw"), "value");
        char name[48];

        if (!json_is_integer(id) || !json_is_number(raw)) {
            continue;
        }
        snprintf(name, sizeof name, "attr_%lld",
                 (long long)json_integer_value(id));
        for (size_t k = 0; k < sizeof ata_names / sizeof ata_names[0]; k++) {
            if (ata_names[k].id == json_integer_value(id)) {
                snprintf(name, sizeof name, "%s", ata_names[k].name);
            }
        }
        rv = add_number(out, disk, name, raw);
        if (rv != 0) {
            return rv;
        }
    }
    return rv;
}

int agent_smart_parse(const char *disk,
                      const char *json,
                      int status,
                      struct agent_readings *out,
                      char *errmsg)
{
    json_error_t jerr;
    json_t *root;
    json_t *v;
    char clean[64];
    int rv = 0;

    snprintf(clean, sizeof clean, "%s", disk);
    agent_name_clean(clean);
    for (int b = 0; b < AGENT_SMART_BITS && rv == 0 && status >= 0; b++) {
        rv = agent_readings_add(out, AGENT_GAUGE, (status >> b) & 1, 0,
                                "smart.%s.flags.%s", clean, bit_names[b]);
    }
    if (rv == 0) {
        rv = agent_readings_add(out, AGENT_GAUGE, status, 0,
                                "smart.%s.exit_status", clean);
    }
    if (rv != 0) {
        return rv;
    }
    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        snprintf(errmsg, AGENT_ERRMSG_SIZE,
                 "smartctl output for %s: not a JSON object: %s", disk,
                 jerr.text);
        json_decref(root);
        return AUGUR_EMALFORMED;
    }
    rv = add_number(
        out, clean, "passed",
        json_object_get(json_object_get(root, "smart_status"), "passed"));
    rv = rv ? rv
            : add_number(out, clean, "temperature_c",
                         json_object_get(json_object_get(root, "temperature"),
                                         "current"));
    rv = rv ? rv
            : add_number(out, clean, "power_on_hours",
                         json_object_get(json_object_get(root, "power_on_time"),
                                         "hours"));
    rv = rv ? rv
            : ata_attributes(
                  out, clean,
                  json_object_get(json_object_get(root, "ata_smart_attributes"),
                                  "table"));
    v = json_object_get(root, "nvme_smart_health_information_log");
    for (size_t k = 0;
         rv == 0 && v != NULL && k < sizeof nvme_fields / sizeof nvme_fields[0];
         k++) {
        char name[48];
        snprintf(name, sizeof name, "nvme_%s", nvme_fields[k]);
        rv = add_number(out, clean, name, json_object_get(v, nvme_fields[k]));
    }
    json_decref(root);
    return rv;
}

int agent_smart_collect(struct agent *a, struct agent_readings *out)
{
    char disks[DISKS_BUF];
    size_t n_disks = 0;
    size_t found = 0;
    char *buf;
    int rv;

    if (!a->smart_enabled) {
        return 0;
    }
    a->errmsg[0] = '\0';
    rv = agent__disks_list(a, disks, sizeof disks, &n_disks);
    if (rv == AUGUR_ENOMEM) {
        return rv;
    }
    buf = malloc(SMART_OUT_MAX);
    if (buf == NULL) {
        return AUGUR_ENOMEM;
    }
    rv = 0;
    for (const char *d = disks; n_disks > 0 && rv == 0;
         d += strlen(d) + 1, n_disks--) {
        char dev[128];
        char errmsg[AGENT_ERRMSG_SIZE] = "";
        char *argv[] = {a->smartctl, "-j", "-a", dev, NULL};
        size_t len;
        int status;
        int run;

        snprintf(dev, sizeof dev, "/dev/%.100s", d);
        run = agent__run(argv, a->smart_timeout_ms, buf, SMART_OUT_MAX, &len,
                         &status, errmsg);
        if (run == AUGUR_ENOTFOUND) {
            snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "%s", errmsg);
            break;
        }
        if (run != 0 && run != AUGUR_ETOOBIG) {
            LOG(LOG_LEVEL_WARN, "smart: %s: %s", dev, errmsg);
            continue;
        }
        found++;
        if (status < 0) {
            LOG(LOG_LEVEL_WARN, "smart: %s", errmsg);
            continue;
        }
        rv = agent_smart_parse(d, buf, status, out, errmsg);
        if (rv == AUGUR_EMALFORMED) {
            LOG(LOG_LEVEL_WARN, "smart: %s", errmsg);
            rv = 0;
        }
    }
    free(buf);
    if (rv == 0 && found == 0) {
        a->missing |= 1u << AGENT_C_SMART;
        if (!(a->reported & 1u << AGENT_C_SMART)) {
            a->reported |= 1u << AGENT_C_SMART;
            LOG(LOG_LEVEL_INFO,
                "collector smart: not on this host (%s); "
                "skipped",
                a->errmsg[0] != '\0' ? a->errmsg : "no disk");
        }
    } else if (rv == 0) {
        a->missing &= ~(1u << AGENT_C_SMART);
    }
    return rv;
}
