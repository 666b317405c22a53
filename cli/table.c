/* Text output: cells from templates, aligned tables, "key: value" lines. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define TEMPLATE_PATH_MAX 128
#define TABLE_COLUMNS_MAX 16

/* ---- cells ------------------------------------------------------------ */

/* A string as text for a terminal: control characters become '?', so that
 * what the cluster stores cannot move the cursor or break a row. */
static void render_string(struct cli_buf *b, const char *s, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            cli_buf_append(b, s + start, i - start);
            cli_buf_puts(b, "?");
            start = i + 1;
        }
    }
    cli_buf_append(b, s + start, len - start);
}

static void render_json(struct cli_buf *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL) {
        b->failed = true;
        return;
    }
    render_string(b, s, strlen(s));
    free(s);
}

static void render_scalar(struct cli_buf *b, const json_t *v)
{
    char num[32];

    switch (json_typeof(v)) {
        case JSON_STRING:
            render_string(b, json_string_value(v), json_string_length(v));
            break;
        case JSON_INTEGER:
            cli_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            break;
        case JSON_REAL:
            cli_format_real(json_real_value(v), num, sizeof num);
            cli_buf_puts(b, num);
            break;
        case JSON_TRUE:
            cli_buf_puts(b, "true");
            break;
        case JSON_FALSE:
            cli_buf_puts(b, "false");
            break;
        case JSON_NULL:
            cli_buf_puts(b, "-");
            break;
        default:
            render_json(b, v);
            break;
    }
}

/* A value as a cell: "-" for nothing, "k=v,k=v" for an object, "a,b" for
 * an array (an agent's resources). */
static void render_value(struct cli_buf *b, const json_t *v)
{
    const char *key;
    json_t *member;
    bool first = true;

    if (v == NULL || (json_is_object(v) && json_object_size(v) == 0) ||
        (json_is_array(v) && json_array_size(v) == 0)) {
        cli_buf_puts(b, "-");
        return;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            cli_buf_puts(b, i > 0 ? "," : "");
            render_scalar(b, json_array_get(v, i));
        }
        return;
    }
    if (!json_is_object(v)) {
        render_scalar(b, v);
        return;
    }
    json_object_foreach((json_t *)v, key, member)
    {
        cli_buf_puts(b, first ? "" : ",");
        render_string(b, key, strlen(key));
        cli_buf_puts(b, "=");
        render_scalar(b, member);
        first = false;
    }
}

/* The member of @obj at the dotted @path of @len bytes, or NULL. */
static const json_t *path_get(const json_t *obj, const char *path, size_t len)
{
    char key[TEMPLATE_PATH_MAX];
    const char *end = path + len;

    while (obj != NULL && path < end) {
        const char *dot = memchr(path, '.', (size_t)(end - path));
        size_t n = dot != NULL ? (size_t)(dot - path) : (size_t)(end - path);
        if (n >= sizeof key) {
            return NULL;
        }
        memcpy(key, path, n);
        key[n] = '\0';
        obj = json_object_get(obj, key);
        path += dot != NULL ? n + 1 : n;
    }
    return obj;
}

void cli_template_expand(struct cli_buf *b,
                         const char *template,
                         const json_t *obj)
{
    const char *p = template;

    while (*p != '\0') {
        const char *open = strchr(p, '{');
        const char *close = open != NULL ? strchr(open, '}') : NULL;
        if (close == NULL) {
            cli_buf_puts(b, p);
            return;
        }
        cli_buf_append(b, p, (size_t)(open - p));
        render_value(b, path_get(obj, open + 1, (size_t)(close - open - 1)));
        p = close + 1;
    }
}

/* ---- tables ----------------------------------------------------------- */

/* Width on a terminal: code points (the cells hold valid UTF-8). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

static void print_row(const char *const *cells, const size_t *widths, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        if (c + 1 == n) {
            printf("%s\n", cells[c]);
        } else {
            printf("%s%*s", cells[c],
                   (int)(widths[c] - text_width(cells[c]) + 2), "");
        }
    }
}

static size_t count_columns(const struct cli_column *columns)
{
    size_t n = 0;
    while (columns[n].header != NULL) {
        n++;
    }
    assert(n <= TABLE_COLUMNS_MAX); /* the column lists are code */
    return n;
}

/* Fill @cells (@n_cols per row) for every item; false when out of memory. */
static bool table_cells(const struct cli_column *columns,
                        size_t n_cols,
                        const json_t *items,
                        char **cells)
{
    struct cli_buf b;

    cli_buf_init(&b);
    for (size_t r = 0; r < json_array_size(items); r++) {
        for (size_t c = 0; c < n_cols; c++) {
            cli_template_expand(&b, columns[c].template,
                                json_array_get(items, r));
            cells[r * n_cols + c] = cli_buf_take(&b);
            if (cells[r * n_cols + c] == NULL) {
                return false;
            }
        }
    }
    return true;
}

int cli_table_print(const struct cli_column *columns, const json_t *items)
{
    size_t n_cols = count_columns(columns);
    size_t n_rows = json_array_size(items);
    const char *header[TABLE_COLUMNS_MAX] = {NULL};
    size_t widths[TABLE_COLUMNS_MAX] = {0};
    char **cells = calloc(n_rows * n_cols + 1, sizeof *cells);
    bool ok = cells != NULL && table_cells(columns, n_cols, items, cells);

    for (size_t c = 0; ok && c < n_cols; c++) {
        header[c] = columns[c].header;
        widths[c] = text_width(header[c]);
        for (size_t r = 0; r < n_rows; r++) {
            size_t w = text_width(cells[r * n_cols + c]);
            widths[c] = w > widths[c] ? w : widths[c];
        }
    }
    if (ok) {
        print_row(header, widths, n_cols);
        for (size_t r = 0; r < n_rows; r++) {
            print_row((const char *const *)(cells + r * n_cols), widths,
                      n_cols);
        }
    }
    for (size_t i = 0; cells != NULL && i < n_rows * n_cols; i++) {
        free(cells[i]);
    }
    free(cells);
    return ok ? 0 : AUGUR_ENOMEM;
}

/* ---- single objects --------------------------------------------------- */

int cli_fields_print(const struct cli_column *fields, const json_t *obj)
{
    struct cli_buf b;
    char *line;

    cli_buf_init(&b);
    for (size_t i = 0; fields[i].header != NULL; i++) {
        cli_buf_printf(&b, "%s: ", fields[i].header);
        cli_template_expand(&b, fields[i].template, obj);
        cli_buf_puts(&b, "\n");
    }
    line = cli_buf_take(&b);
    if (line == NULL) {
        return AUGUR_ENOMEM;
    }
    fputs(line, stdout);
    free(line);
    return 0;
}

int cli_object_print(const json_t *obj)
{
    struct cli_buf b;
    const char *key;
    json_t *v;
    char *text;

    cli_buf_init(&b);
    json_object_foreach((json_t *)obj, key, v)
    {
        render_string(&b, key, strlen(key));
        cli_buf_puts(&b, ": ");
        render_value(&b, v);
        cli_buf_puts(&b, "\n");
    }
    text = cli_buf_take(&b);
    if (text == NULL) {
        return AUGUR_ENOMEM;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}
