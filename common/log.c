/* Log sink: timestamped, levelled lines on stderr, or a function's. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef LOG_DEFAULT_LEVEL
#define LOG_DEFAULT_LEVEL LOG_LEVEL_INFO
#endif

int log_threshold = LOG_DEFAULT_LEVEL;
static char log_tag[64];
static log_sink_fn log_sink; /* NULL: stderr */
static void *log_sink_data;

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void log_setup(enum log_level threshold, const char *tag)
{
    log_threshold = (int)threshold;
    snprintf(log_tag, sizeof log_tag, "%s", tag != NULL ? tag : "");
}

void log_sink_set(int threshold, log_sink_fn fn, void *data)
{
    log_threshold = fn != NULL ? threshold : -1;
    log_sink = fn;
    log_sink_data = data;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_LEVEL_TRACE; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        return LOG_LEVEL_WARN;
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
    if (log_sink != NULL) {
        log_sink(log_sink_data, level, base != NULL ? base + 1 : file, line,
                 msg);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s [%s] %s:%d %s\n", stamp,
            ts.tv_nsec / 1000000, level_names[level], log_tag,
            base != NULL ? base + 1 : file, line, msg);
}
