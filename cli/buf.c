/* A growable string for building table cells and lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_buf_init(struct cli_buf *b)
{
    memset(b, 0, sizeof *b);
}

void cli_buf_close(struct cli_buf *b)
{
    free(b->data);
    cli_buf_init(b);
}

/* Make room for @n more bytes and a NUL.  False once an allocation failed. */
static bool buf_reserve(struct cli_buf *b, size_t n)
{
    size_t cap;
    char *data;

    if (b->failed) {
        return false;
    }
    if (b->len + n + 1 <= b->cap) {
        return true;
    }
    cap = b->cap == 0 ? 64 : b->cap;
    while (cap < b->len + n + 1) {
        cap *= 2;
    }
    data = realloc(b->data, cap);
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

void cli_buf_append(struct cli_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n)) {
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cli_buf_puts(struct cli_buf *b, const char *s)
{
    cli_buf_append(b, s, strlen(s));
}

void cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!buf_reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *cli_buf_take(struct cli_buf *b)
{
    char *s;

    if (!b->failed && b->data == NULL) {
        (void)buf_reserve(b, 0);
        if (b->data != NULL) {
            b->data[0] = '\0';
        }
    }
    if (b->failed) {
        cli_buf_close(b);
        return NULL;
    }
    s = b->data;
    cli_buf_init(b);
    return s;
}
