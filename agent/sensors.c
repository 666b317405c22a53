/* The hardware sensor collectors of sysfs: hwmon chips (temperatures,
 * fans, voltages, power), thermal zones and EDAC memory controllers. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

#define SMALL_FILE 256

/* The entries of ROOT@rel whose names start with @prefix followed by a
 * digit, in natural order (hwmon2 before hwmon10).  Returns the count, or
 * -1 when the directory is absent; *@list is freed with entries_free. */
static int entries_list(struct agent *a,
                        const char *rel,
                        const char *prefix,
                        struct dirent ***list)
{
    char path[AGENT_PATH_MAX];
    struct dirent **all;
    int n;
    int k = 0;
    size_t plen = strlen(prefix);

    if (agent__path(a, path, rel) != 0) {
        return -1;
    }
    n = scandir(path, &all, NULL, versionsort);
    if (n < 0) {
        snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "%.200s: absent", path);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *d = all[i]->d_name;
        if (strncmp(d, prefix, plen) == 0 && d[plen] >= '0' && d[plen] <= '9') {
            all[k++] = all[i];
        } else {
            free(all[i]);
        }
    }
    *list = all;
    return k;
}

static void entries_free(struct dirent **list, int n)
{
    for (int i = 0; i < n; i++) {
        free(list[i]);
    }
    free(list);
}

/* The first line of ROOT@dir/@file, without its newline; false if none. */
static bool read_line(struct agent *a,
                      const char *dir,
                      const char *file,
                      char *buf,
                      size_t size)
{
    char rel[AGENT_PATH_MAX];
    char path[AGENT_PATH_MAX];
    int n = snprintf(rel, sizeof rel, "%s/%s", dir, file);

    if (n < 0 || (size_t)n >= sizeof rel || agent__path(a, path, rel) != 0 ||
        agent__read_file(path, buf, size) != 0) {
        return false;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

static bool read_number(struct agent *a,
                        const char *dir,
                        const char *file,
                        double *out)
{
    char buf[SMALL_FILE];
    char *end;

    if (!read_line(a, dir, file, buf, sizeof buf)) {
        return false;
    }
    *out = strtod(buf, &end);
    return end != buf;
}

/* The hwmon input kinds: file prefix, metric suffix, scale to the unit. */
static const struct
{
    const char *prefix;
    const char *unit;
    double divisor;
} hwmon_kinds[] = {
    {"temp", "c", 1e3},  /* millidegrees Celsius */
    {"fan", "rpm", 1.0}, /* revolutions per minute */
    {"in", "v", 1e3},    /* millivolts */
    {"power", "w", 1e6}, /* microwatts */
    {"curr", "a", 1e3},  /* milliamperes */
};

/* The samples of one hwmon chip at ROOT@dir, as hwmon.@chip.*. */
static int hwmon_chip(struct agent *a,
                      const char *dir,
                      const char *chip,
                      struct agent_readings *out)
{
    struct dirent **files;
    int n;
    int rv = 0;

    for (size_t k = 0; k < sizeof hwmon_kinds / sizeof hwmon_kinds[0]; k++) {
        n = entries_list(a, dir, hwmon_kinds[k].prefix, &files);
        for (int i = 0; i < n && rv == 0; i++) {
            const char *f = files[i]->d_name;
            const char *us = strchr(f, '_');
            char label_file[128];
            char label[SMALL_FILE];
            double v;

            if (us == NULL || strcmp(us, "_input") != 0 ||
                !read_number(a, dir, f, &v)) {
                continue;
            }
            snprintf(label_file, sizeof label_file, "%.*s_label", (int)(us - f),
                     f);
            if (read_line(a, dir, label_file, label, sizeof label)) {
                agent_name_clean(label);
            } else {
                label[0] = '\0';
            }
            if (label[0] == '\0') {
                snprintf(label, sizeof label, "%.*s", (int)(us - f), f);
            }
            rv = agent_readings_add(
                out, AGENT_GAUGE, v / hwmon_kinds[k].divisor, 0,
                "hwmon.%s.%s_%s", chip, label, hwmon_kinds[k].unit);
        }
        if (n >= 0) {
            entries_free(files, n);
        }
    }
    return rv;
}

int agent__hwmon_read(struct agent *a, struct agent_readings *out)
{
    static const char base[] = "/sys/class/hwmon";
    struct dirent **chips;
    int n = entries_list(a, base, "hwmon", &chips);
    int rv = 0;
    char names[64][48];
    int n_names = 0;

    if (n <= 0) {
        if (n == 0) {
            entries_free(chips, n);
            snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "no hwmon chip");
        }
        return AUGUR_ENOTFOUND;
    }
    for (int i = 0; i < n && rv == 0; i++) {
        char dir[AGENT_PATH_MAX];
        char chip[48];
        bool dup = false;

        snprintf(dir, sizeof dir, "%s/%s", base, chips[i]->d_name);
        if (!read_line(a, dir, "name", chip, sizeof chip)) {
            snprintf(chip, sizeof chip, "%.40s", chips[i]->d_name);
        }
        agent_name_clean(chip);
        /* Two chips of one driver (two coretemp packages) are told apart
         * by their hwmon number. */
        for (int k = 0; k < n_names; k++) {
            dup |= strcmp(names[k], chip) == 0;
        }
        if (n_names < 64) {
            snprintf(names[n_names++], sizeof names[0], "%s", chip);
        }
        if (dup || chip[0] == '\0') {
            snprintf(chip, sizeof chip, "%.40s", chips[i]->d_name);
        }
        rv = hwmon_chip(a, dir, chip, out);
    }
    entries_free(chips, n);
    return rv;
}

int agent__thermal_read(struct agent *a, struct agent_readings *out)
{
    static const char base[] = "/sys/class/thermal";
    struct dirent **zones;
    int n = entries_list(a, base, "thermal_zone", &zones);
    int rv = 0;

    if (n <= 0) {
        if (n == 0) {
            entries_free(zones, n);
            snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "no thermal zone");
        }
        return AUGUR_ENOTFOUND;
    }
    for (int i = 0; i < n && rv == 0; i++) {
        char dir[AGENT_PATH_MAX];
        char type[48];
        double milli;

        snprintf(dir, sizeof dir, "%s/%s", base, zones[i]->d_name);
        if (!read_number(a, dir, "temp", &milli)) {
            continue; /* a zone whose sensor is off reads EINVAL/ENODATA */
        }
        if (!read_line(a, dir, "type", type, sizeof type)) {
            type[0] = '\0';
        }
        agent_name_clean(type);
        rv = agent_readings_add(out, AGENT_GAUGE, milli / 1000.0, 0,
                                "thermal.zone%s.%s_c",
                                zones[i]->d_name + strlen("thermal_zone"),
                                type[0] != '\0' ? type : "temp");
    }
    entries_free(zones, n);
    return rv;
}

int agent__edac_read(struct agent *a, struct agent_readings *out)
{
    static const char base[] = "/sys/devices/system/edac/mc";
    struct dirent **mcs;
    int n = entries_list(a, base, "mc", &mcs);
    int rv = 0;

    if (n <= 0) {
        if (n == 0) {
            entries_free(mcs, n);
            snprintf(a->errmsg, AGENT_ERRMSG_SIZE, "no memory controller");
        }
        return AUGUR_ENOTFOUND;
    }
    for (int i = 0; i < n && rv == 0; i++) {
        char dir[AGENT_PATH_MAX];
        double v;

        snprintf(dir, sizeof dir, "%s/%s", base, mcs[i]->d_name);
        if (read_number(a, dir, "ce_count", &v)) {
            rv = agent_readings_add(out, AGENT_GAUGE, v, 0, "edac.%s.ce",
                                    mcs[i]->d_name);
        }
        if (rv == 0 && read_number(a, dir, "ue_count", &v)) {
            rv = agent_readings_add(out, AGENT_GAUGE, v, 0, "edac.%s.ue",
                                    mcs[i]->d_name);
        }
    }
    entries_free(mcs, n);
    return rv;
}
