/* Calls to the cluster through libaugur, and how their failures are told:
 * one line on stderr and an exit status. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_exit_status(int status)
{
    switch (status) {
        case AUGUR_OK:
            return CLI_EXIT_OK;
        case AUGUR_ECONNECT:
        case AUGUR_ETIMEOUT:
        case AUGUR_EINDETERMINATE:
        case AUGUR_ENOLEADER:
        case AUGUR_ENOTLEADER:
        case AUGUR_ESHUTDOWN:
        case AUGUR_EPROTO:
            return CLI_EXIT_UNAVAILABLE;
        default:
            return CLI_EXIT_REFUSED;
    }
}

/* Print @line and a newline on stderr, control characters shown as '?' so
 * that the message stays one line whatever a server or an argument said. */
static void error_line(const char *line)
{
    for (const char *p = line; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        fputc(c < 0x20 || c == 0x7f ? '?' : c, stderr);
    }
    fputc('\n', stderr);
}

int cli_fail(struct cli *cli, int status, const char *msg)
{
    const char *text =
        msg != NULL && msg[0] != '\0' ? msg : augur_strerror(status);
    struct cli_buf b;
    char *line;

    cli_buf_init(&b);
    cli_buf_puts(&b, "augur: ");
    if (cli->words != NULL) {
        cli_buf_printf(&b, "%s: ", cli->words);
    }
    cli_buf_printf(&b, "%s: %s", augur_errname(status), text);
    if (status == AUGUR_EINDETERMINATE) {
        cli_buf_puts(&b, "; the write may or may not have applied");
    }
    line = cli_buf_take(&b);
    error_line(line != NULL ? line : "augur: out of memory");
    free(line);
    return cli_exit_status(status);
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
    char msg[2 * CLI_ERR_SIZE];
    char line[3 * CLI_ERR_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cli->words != NULL) {
        snprintf(line, sizeof line, "augur: %s: %s; see 'augur %s --help'",
                 cli->words, msg, cli->words);
    } else {
        snprintf(line, sizeof line, "augur: %s; see 'augur --help'", msg);
    }
    error_line(line);
    return CLI_EXIT_USAGE;
}

int cli_open(struct cli *cli)
{
    char errmsg[AUGUR_ERRMSG_SIZE] = "";
    struct augur_options opt;
    int rv;

    augur_options_init(&opt);
    opt.timeout_ms = (int)(cli->timeout_s * 1000);
    opt.key_file = cli->key_file;
    opt.cluster_key_file = cli->cluster_key_file;
    rv = augur_client_open(cli->endpoints, &opt, &cli->client, errmsg);
    if (rv == AUGUR_EINVAL && strstr(errmsg, "cluster key") != NULL) {
        return cli_usage(cli, "%s", errmsg);
    }
    if (rv == AUGUR_EINVAL) {
        return cli_usage(cli, "invalid endpoints '%s' (from %s): %s",
                         cli->endpoints, cli->endpoints_from, errmsg);
    }
    if (rv != 0) {
        cli->client = NULL;
        return cli_fail(cli, rv, errmsg);
    }
    return CLI_EXIT_OK;
}

void cli_close(struct cli *cli)
{
    if (cli->client != NULL) {
        augur_client_close(cli->client);
        cli->client = NULL;
    }
}

int cli_reply_take(struct cli *cli,
                   const struct augur_reply *reply,
                   json_t **out)
{
    int rv;

    if (reply->status != 0) {
        return cli_fail(cli, reply->status,
                        reply->error[0] != '\0'
                            ? reply->error
                            : augur_client_errmsg(cli->client));
    }
    if (reply->result == NULL) {
        *out = json_null();
        return CLI_EXIT_OK;
    }
    rv = cli_json_from_msgpack(reply->result, out);
    if (rv != 0) {
        return cli_fail(cli, rv,
                        rv == AUGUR_EPROTO ? "the answer is nested too deep"
                                           : "out of memory");
    }
    return CLI_EXIT_OK;
}

int cli_call(struct cli *cli,
             const char *op,
             const struct cli_pack *args,
             bool read,
             json_t **out)
{
    struct augur_reply reply;
    int rv;

    if (args != NULL && args->failed) {
        return cli_fail(cli, AUGUR_ENOMEM, "out of memory");
    }
    (void)augur_call(cli->client, op, args != NULL ? args->buf.data : NULL,
                     args != NULL ? args->buf.size : 0,
                     read ? cli->read_flags : 0, &reply);
    rv = cli_reply_take(cli, &reply, out);
    augur_reply_free(&reply);
    return rv;
}

/* One page of a list, from @cursor (NULL: the first). */
static int list_page(struct cli *cli,
                     const char *op,
                     const char *filter_key,
                     const char *filter,
                     const json_t *cursor,
                     json_t **page)
{
    struct cli_pack args;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1 + (filter != NULL) + (cursor != NULL));
    cli_pack_kv_u64(&args, "limit", CLI_LIST_LIMIT);
    if (filter != NULL) {
        cli_pack_kv_str(&args, filter_key, filter);
    }
    if (cursor != NULL) {
        cli_pack_kv_json(&args, "after", cursor);
    }
    rv = cli_call(cli, op, &args, true, page);
    cli_pack_close(&args);
    return rv;
}

/* Append the items of @page to @all, and take its cursor into *@cursor
 * (NULL after the last page). */
static int list_next(struct cli *cli,
                     const json_t *page,
                     json_t *all,
                     json_t **cursor)
{
    const json_t *items = json_object_get(page, "items");
    json_t *next = json_object_get(page, "next");

    if (!json_is_array(items)) {
        return cli_fail(cli, AUGUR_EPROTO, "the answer has no list of items");
    }
    if (json_array_extend(all, (json_t *)items) != 0) {
        return cli_fail(cli, AUGUR_ENOMEM, "out of memory");
    }
    if (next != NULL && *cursor != NULL && json_equal(next, *cursor)) {
        return cli_fail(cli, AUGUR_EPROTO, "the server repeated a cursor");
    }
    json_decref(*cursor);
    *cursor = next == NULL || json_is_null(next) ? NULL : json_incref(next);
    return CLI_EXIT_OK;
}

int cli_list(struct cli *cli,
             const char *op,
             const char *filter_key,
             const char *filter,
             json_t **items)
{
    json_t *all = json_array();
    json_t *cursor = NULL;
    json_t *page;
    int rv;

    if (all == NULL) {
        return cli_fail(cli, AUGUR_ENOMEM, "out of memory");
    }
    do {
        rv = list_page(cli, op, filter_key, filter, cursor, &page);
        if (rv == CLI_EXIT_OK) {
            rv = list_next(cli, page, all, &cursor);
            json_decref(page);
        }
    } while (rv == CLI_EXIT_OK && cursor != NULL);
    json_decref(cursor);
    if (rv != CLI_EXIT_OK) {
        json_decref(all);
        return rv;
    }
    *items = all;
    return CLI_EXIT_OK;
}
