/* The one logging macro: level checked before arguments are evaluated. */
#ifndef AUGUR_COMMON_LOG_H
#define AUGUR_COMMON_LOG_H

#include <stdarg.h>

/* LOG_LEVEL_*, not LOG_*: <syslog.h> defines LOG_INFO and LOG_DEBUG as other
 * numbers, and a file that includes both would log at the wrong level. */
enum log_level
{
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_TRACE
};

/* The log sink is one of the two globals STYLE.md allows; set it once, before
 * the loop starts.  Messages go to stderr as
 *   2026-11-22T08:00:00.123Z INFO  [node 1] file.c:42 message
 * so that an operator can read and grep them, or to the function given to
 * log_sink_set.  The threshold starts at LOG_LEVEL_INFO, or at
 * LOG_DEFAULT_LEVEL when log.c is built with it defined: the shared libaugur
 * builds it with -1, so that a library logs nothing unless its program asks
 * (augur_log_set of include/augur.h). */
extern int log_threshold;

/* Set the threshold and a short tag printed on every line (e.g. "node 1").
 * @tag is copied. */
void log_setup(enum log_level threshold, const char *tag);

/* A log sink: @msg is the formatted message (no newline), valid during the
 * call; @file is the base name of the source file. */
typedef void (*log_sink_fn)(void *data,
                            enum log_level level,
                            const char *file,
                            int line,
                            const char *msg);

/* Send messages of @threshold and more severe to @fn with @data instead of
 * stderr; a NULL @fn logs nothing at all. */
void log_sink_set(int threshold, log_sink_fn fn, void *data);

/* Parse "error", "warn", "info", "debug", "trace"; -1 if unknown. */
int log_level_parse(const char *name);

void log_emit(enum log_level level,
              const char *file,
              int line,
              const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));

#define LOG(level, ...)                                         \
    do {                                                        \
        if ((int)(level) <= log_threshold) {                    \
            log_emit((level), __FILE__, __LINE__, __VA_ARGS__); \
        }                                                       \
    } while (0)

#endif
