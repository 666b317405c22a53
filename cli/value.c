/* Validation of argument values: integers, probabilities, choices,
 * capacities and labels. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_value_u64(struct cli *cli,
                  const char *what,
                  const char *s,
                  uint64_t min,
                  uint64_t *out)
{
    unsigned long long v;
    char *end;

    /* strtoull accepts leading blanks and a minus sign (wrapping around):
     * only plain digits are a number here. */
    if (!isdigit((unsigned char)s[0])) {
        return cli_usage(cli, "invalid %s '%s': want an unsigned integer", what,
                         s);
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0') {
        return cli_usage(cli, "invalid %s '%s': want an unsigned integer", what,
                         s);
    }
    if (errno == ERANGE) {
        return cli_usage(cli, "invalid %s '%s': out of range", what, s);
    }
    if (v < min) {
        return cli_usage(cli, "invalid %s '%s': must be at least %llu", what, s,
                         (unsigned long long)min);
    }
    *out = (uint64_t)v;
    return CLI_EXIT_OK;
}

int cli_value_i64(struct cli *cli,
                  const char *what,
                  const char *s,
                  int64_t *out)
{
    const char *digits = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    long long v;
    char *end;

    if (!isdigit((unsigned char)digits[0])) {
        return cli_usage(cli, "invalid %s '%s': want an integer", what, s);
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0') {
        return cli_usage(cli, "invalid %s '%s': want an integer", what, s);
    }
    if (errno == ERANGE) {
        return cli_usage(cli, "invalid %s '%s': out of range", what, s);
    }
    *out = (int64_t)v;
    return CLI_EXIT_OK;
}

int cli_value_prob(struct cli *cli,
                   const char *what,
                   const char *s,
                   double *out)
{
    char *end;
    double v;

    /* Plain decimal only: no blanks, no hex floats, no "nan" or "inf". */
    if (!isdigit((unsigned char)s[0]) && s[0] != '.') {
        return cli_usage(cli, "invalid %s '%s': want a number from 0 to 1",
                         what, s);
    }
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || end == s || errno == ERANGE || !isfinite(v) ||
        v < 0.0 || v > 1.0 || strpbrk(s, "xX") != NULL) {
        return cli_usage(cli, "invalid %s '%s': want a number from 0 to 1",
                         what, s);
    }
    *out = v;
    return CLI_EXIT_OK;
}

int cli_value_choice(struct cli *cli,
                     const char *what,
                     const char *s,
                     const char *choices)
{
    size_t len = strlen(s);
    const char *p = choices;

    while (*p != '\0') {
        const char *bar = strchr(p, '|');
        size_t n = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, s, n) == 0) {
            return CLI_EXIT_OK;
        }
        p += bar != NULL ? n + 1 : n;
    }
    return cli_usage(cli, "invalid %s '%s': want one of %s", what, s, choices);
}

/* One "key=N" item of a capacity, @len bytes at @item. */
static int capacity_item(struct cli *cli,
                         const char *what,
                         const char *item,
                         size_t len,
                         struct cli_capacity *out)
{
    const char *eq = memchr(item, '=', len);
    char num[32];
    char name[64];
    size_t klen = eq != NULL ? (size_t)(eq - item) : len;
    size_t vlen = eq != NULL ? len - klen - 1 : 0;
    bool is_cpu = klen == 3 && memcmp(item, "cpu", 3) == 0;
    bool is_mem = klen == 6 && memcmp(item, "mem_mb", 6) == 0;
    uint64_t *dst = is_cpu ? &out->cpu : &out->mem_mb;
    bool *has = is_cpu ? &out->has_cpu : &out->has_mem_mb;
    int rv;

    if (!is_cpu && !is_mem) {
        return cli_usage(cli,
                         "invalid %s: unknown key '%.*s' (want cpu=N, "
                         "mem_mb=N)",
                         what, (int)klen, item);
    }
    if (eq == NULL || vlen == 0 || vlen >= sizeof num) {
        return cli_usage(cli, "invalid %s: '%.*s' needs a number", what,
                         (int)len, item);
    }
    if (*has) {
        return cli_usage(cli, "invalid %s: '%.*s' given twice", what, (int)klen,
                         item);
    }
    memcpy(num, eq + 1, vlen);
    num[vlen] = '\0';
    snprintf(name, sizeof name, "%s %s", what, is_cpu ? "cpu" : "mem_mb");
    rv = cli_value_u64(cli, name, num, 0, dst);
    *has = rv == CLI_EXIT_OK;
    return rv;
}

int cli_value_capacity(struct cli *cli,
                       const char *what,
                       const char *s,
                       struct cli_capacity *out)
{
    const char *p = s;
    int rv;

    memset(out, 0, sizeof *out);
    if (*p == '\0') {
        return cli_usage(cli, "invalid %s: empty (want cpu=N,mem_mb=N)", what);
    }
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            return cli_usage(cli, "invalid %s '%s': empty item", what, s);
        }
        rv = capacity_item(cli, what, p, len, out);
        if (rv != CLI_EXIT_OK || comma == NULL) {
            return rv;
        }
        p = comma + 1;
    }
}

int cli_value_label(struct cli *cli,
                    const char *what,
                    const char *s,
                    const char **eq)
{
    const char *e = strchr(s, '=');

    if (e == NULL || e == s) {
        return cli_usage(cli, "invalid %s '%s': want KEY=VALUE", what, s);
    }
    *eq = e;
    return CLI_EXIT_OK;
}
