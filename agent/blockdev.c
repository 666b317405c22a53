/* The disk collector (/proc/diskstats) and the list of whole disks that
 * SMART asks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"

#define DISKSTATS_SIZE (256 * 1024)
#define SECTOR_BYTES 512.0 /* diskstats counts 512-byte sectors always */

/* One line of /proc/diskstats: the fields this collector uses. */
struct diskstat
{
    char name[64];
    uint64_t reads, sectors_read, writes, sectors_written, in_flight, io_ms;
};

static bool diskstat_parse(const char *line, struct diskstat *d)
{
    unsigned major;
    unsigned minor;
    uint64_t skip;

    return sscanf(line,
                  "%u %u %63s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                  " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                  " %" SCNu64,
                  &major, &minor, d->name, &d->reads, &skip, &d->sectors_read,
                  &skip, &d->writes, &skip, &d->sectors_written, &skip,
                  &d->in_flight, &d->io_ms) == 13;
}

/* Devices that are not disks of their own: loop and RAM devices. */
static bool is_virtual(const char *name)
{
    return strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 ||
           strncmp(name, "zram", 4) == 0;
}

/* Devices SMART cannot ask besides: device-mapper, md, nbd, optical. */
static bool is_smartless(const char *name)
{
    return is_virtual(name) || strncmp(name, "dm-", 3) == 0 ||
           strncmp(name, "md", 2) == 0 || strncmp(name, "nbd", 3) == 0 ||
           strncmp(name, "sr", 2) == 0;
}

bool agent__is_partition(const struct agent *a, const char *name)
{
    char path[AGENT_PATH_MAX];
    char rel[128];
    struct stat st;
    size_t len = strlen(name);

    snprintf(rel, sizeof rel, "/sys/class/block/%s", name);
    if (agent__path(a, path, rel) == 0 && stat(path, &st) == 0) {
        snprintf(rel, sizeof rel, "/sys/class/block/%s/partition", name);
        return agent__path(a, path, rel) == 0 && stat(path, &st) == 0;
    }
    /* No sysfs (a fake tree): by name.  sda1, vdb2, xvda1 end in digits
     * after letters; nvme0n1p1 and mmcblk0p1 have "p" before them. */
    if (len == 0 || name[len - 1] < '0' || name[len - 1] > '9') {
        return false;
    }
    while (len > 0 && name[len - 1] >= '0' && name[len - 1] <= '9') {
        len--;
    }
    if (strncmp(name, "nvme", 4) == 0 || strncmp(name, "mmcblk", 6) == 0) {
        return len > 0 && name[len - 1] == 'p';
    }
    return strncmp(name, "sd", 2) == 0 || strncmp(name, "vd", 2) == 0 ||
           strncmp(name, "hd", 2) == 0 || strncmp(name, "xvd", 3) == 0;
}

int agent__disk_read(struct agent *a, struct agent_readings *out)
{
    int rv;
    char *buf = agent__slurp(a, "/proc/diskstats", DISKSTATS_SIZE, &rv);

    if (buf == NULL) {
        return rv;
    }
    for (char *line = buf; line != NULL && *line != '\0' && rv == 0;) {
        char *nl = strchr(line, '\n');
        struct diskstat d;
        char name[64];

        if (nl != NULL) {
            *nl = '\0';
        }
        if (diskstat_parse(line, &d) && !is_virtual(d.name) &&
            !agent__is_partition(a, d.name)) {
            snprintf(name, sizeof name, "%s", d.name);
            agent_name_clean(name);
            rv = agent_readings_add(out, AGENT_COUNTER, (double)d.reads, 0,
                                    "disk.%s.reads", name);
            rv = rv ? rv
                    : agent_readings_add(out, AGENT_COUNTER, (double)d.writes,
                                         0, "disk.%s.writes", name);
            rv = rv ? rv
                    : agent_readings_add(out, AGENT_COUNTER,
                                         (double)d.sectors_read * SECTOR_BYTES,
                                         0, "disk.%s.read_bytes", name);
            rv = rv ? rv
                    : agent_readings_add(
                          out, AGENT_COUNTER,
                          (double)d.sectors_written * SECTOR_BYTES, 0,
                          "disk.%s.write_bytes", name);
            rv = rv ? rv
                    : agent_readings_add(out, AGENT_COUNTER, (double)d.io_ms, 0,
                                         "disk.%s.io_ms", name);
            rv = rv ? rv
                    : agent_readings_add(out, AGENT_GAUGE, (double)d.in_flight,
                                         0, "disk.%s.in_flight", name);
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(buf);
    return rv;
}

int agent__disks_list(struct agent *a, char *list, size_t size, size_t *n)
{
    size_t len = 0;
    int rv;
    char *buf = agent__slurp(a, "/proc/diskstats", DISKSTATS_SIZE, &rv);

    *n = 0;
    if (buf == NULL) {
        return rv;
    }
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        struct diskstat d;

        if (nl != NULL) {
            *nl = '\0';
        }
        if (diskstat_parse(line, &d) && !is_smartless(d.name) &&
            !agent__is_partition(a, d.name) &&
            len + strlen(d.name) + 1 < size) {
            memcpy(list + len, d.name, strlen(d.name) + 1);
            len += strlen(d.name) + 1;
            (*n)++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(buf);
    return 0;
}
