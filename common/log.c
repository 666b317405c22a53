/* Log sink: timestamped, levelled lines on stderr. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int log_threshold = LOG_INFO;
static char log_tag[64];

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void log_setup(enum log_level threshold, const char *tag)
{
    log_threshold = (int)threshold;
    snprintf(log_tag, sizeof log_tag, "%s", tag != NULL ? tag : "");
}

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_TRACE; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        return LOG_WARN;
    }
    return -1;
}

void log_emit(enum log_level level,
              const char *file,
              int line,
              const char *fmt,
              ...)
{
    char msg[1024];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    const char *base = strrchr(file, '/');
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s [%s] %s:%d %s\n", stamp,
            ts.tv_nsec / 1000000, level_names[level], log_tag,
            base != NULL ? base + 1 : file, line, msg);
}
