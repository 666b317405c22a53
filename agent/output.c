/* Printing a collection: one JSON object, JSON lines, or a grouped table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"

/* A sample's value as JSON: an integer when it is one. */
static json_t *value_json(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        return json_integer((json_int_t)v);
    }
    return json_real(v);
}

/* {"name","value"} per sample, with "dt_ms" when not 0. */
static json_t *samples_json(const struct telemetry_batch *b)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < b->n; i++) {
        json_t *s = json_object();
        if (s == NULL ||
            json_object_set_new(s, "name",
                                json_string(telemetry_sample_name(b, i))) ||
            json_object_set_new(s, "value", value_json(b->s[i].value)) ||
            (b->s[i].dt_ms != 0 &&
             json_object_set_new(s, "dt_ms", json_integer(b->s[i].dt_ms))) ||
            json_array_append_new(arr, s)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int print_json(json_t *o)
{
    char *s;

    if (o == NULL) {
        return AUGUR_ENOMEM;
    }
    s = json_dumps(
        o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (s == NULL) {
        return AUGUR_ENOMEM;
    }
    puts(s);
    free(s);
    fflush(stdout);
    return 0;
}

static void format_value(double v, char *out, size_t size)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, size, "%.0f", v);
    } else {
        snprintf(out, size, "%.4g", v);
    }
}

static void print_table(const struct agent *a, const struct telemetry_batch *b)
{
    size_t width = 0;

    for (size_t i = 0; i < b->n; i++) {
        size_t w = b->s[i].name_len;
        width = w > width ? w : width;
    }
    for (size_t i = 0; i < b->n; i++) {
        const char *name = telemetry_sample_name(b, i);
        const char *prev = i > 0 ? telemetry_sample_name(b, i - 1) : NULL;
        size_t glen = strcspn(name, ".");
        char value[64];

        if (prev == NULL || strncmp(prev, name, glen) != 0 ||
            prev[glen] != '.') {
            printf("%s%.*s\n", i > 0 ? "\n" : "", (int)glen, name);
        }
        format_value(b->s[i].value, value, sizeof value);
        printf("  %-*s  %s\n", (int)width, name, value);
    }
    if (a->missing != 0) {
        printf("\nmissing on this host:");
        for (unsigned c = 0; c < AGENT_C_COUNT; c++) {
            if (a->missing & 1u << c) {
                printf(" %s", agent_collector_name(c));
            }
        }
        printf("\n");
    }
}

int agent_print(const struct agent *a,
                const struct telemetry_batch *b,
                int64_t interval_ms,
                bool json)
{
    json_t *o;
    json_t *missing;

    if (!json) {
        print_table(a, b);
        return 0;
    }
    o = json_object();
    missing = json_array();
    if (o == NULL || missing == NULL) {
        json_decref(o);
        json_decref(missing);
        return AUGUR_ENOMEM;
    }
    for (unsigned c = 0; c < AGENT_C_COUNT; c++) {
        if ((a->missing & 1u << c) &&
            json_array_append_new(missing,
                                  json_string(agent_collector_name(c)))) {
            json_decref(missing);
            json_decref(o);
            return AUGUR_ENOMEM;
        }
    }
    /* json_object_set_new takes its value even when it fails, so each
     * value is owned by @o from here on. */
    if ((b->resource[0] != '\0' &&
         json_object_set_new(o, "resource", json_string(b->resource))) ||
        json_object_set_new(o, "time_ms", json_integer(b->t_ms)) ||
        json_object_set_new(o, "interval_ms", json_integer(interval_ms)) ||
        json_object_set_new(o, "samples", samples_json(b))) {
        json_decref(missing);
        json_decref(o);
        return AUGUR_ENOMEM;
    }
    if (json_object_set_new(o, "missing", missing)) {
        json_decref(o);
        return AUGUR_ENOMEM;
    }
    return print_json(o);
}

int agent_print_line(void *arg, const struct telemetry_batch *b)
{
    json_t *o = json_object();

    (void)arg;
    if (o == NULL ||
        json_object_set_new(o, "resource", json_string(b->resource)) ||
        json_object_set_new(o, "time_ms", json_integer(b->t_ms)) ||
        json_object_set_new(o, "samples", samples_json(b))) {
        json_decref(o);
        return AUGUR_ENOMEM;
    }
    return print_json(o);
}
