/* The change log: events [--from REV] [--follow]. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define EVENTS_ROW "%-8s  %-20s  %-18s  %-12s  %s\n"

/* Where the log is read from, and how. */
struct events_cursor
{
    uint64_t from;
    bool follow;
    bool first;
};

/* SIGINT and SIGTERM end --follow with status 0.  Signals are blocked
 * while an event is printed and flushed, so when the handler runs there is
 * nothing left to write and _exit (async-signal-safe) loses nothing. */
static void on_stop_signal(int sig)
{
    (void)sig;
    _exit(CLI_EXIT_OK);
}

static int signals_install(sigset_t *set)
{
    struct sigaction sa;

    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGTERM, &sa, NULL) != 0) {
        return AUGUR_EINTERNAL;
    }
    return 0;
}

/* The event's time (ms since the epoch) as ISO-8601 UTC, or "-". */
static void event_time(struct cli_buf *b, const json_t *t)
{
    json_int_t ms = json_is_integer(t) ? json_integer_value(t) : -1;
    time_t s = (time_t)(ms / 1000);
    char text[32];
    struct tm tm;

    if (ms < 0 || gmtime_r(&s, &tm) == NULL ||
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        cli_buf_puts(b, "-");
        return;
    }
    cli_buf_puts(b, text);
}

/* One event as a table row; PRINCIPAL is who made the write ("-" for the
 * cluster's own commands). */
static int event_row(const json_t *ev)
{
    const json_t *op = json_object_get(ev, "op");
    const json_t *who = json_object_get(ev, "principal");
    struct cli_buf cells[5];
    char *text[5];
    int rv = 0;

    for (int i = 0; i < 5; i++) {
        cli_buf_init(&cells[i]);
    }
    cli_template_expand(&cells[0], "{rev}", ev);
    event_time(&cells[1], json_object_get(ev, "time"));
    cli_template_expand(&cells[2], "{op}", ev);
    cli_buf_puts(&cells[3], json_is_string(who) ? json_string_value(who) : "-");
    cli_summary(&cells[4], json_is_string(op) ? json_string_value(op) : "",
                json_object_get(ev, "data"));
    for (int i = 0; i < 5; i++) {
        text[i] = cli_buf_take(&cells[i]);
        rv = text[i] == NULL ? AUGUR_ENOMEM : rv;
    }
    if (rv == 0) {
        printf(EVENTS_ROW, text[0], text[1], text[2], text[3], text[4]);
    }
    for (int i = 0; i < 5; i++) {
        free(text[i]);
    }
    return rv;
}

/* Print the events of one page, each flushed as it comes. */
static int events_print(struct cli *cli,
                        const json_t *events,
                        const sigset_t *stop)
{
    sigset_t old;
    size_t i;
    json_t *ev;
    int rv = 0;

    json_array_foreach(events, i, ev)
    {
        sigprocmask(SIG_BLOCK, stop, &old);
        rv = cli->json ? cli_json_print(ev) : event_row(ev);
        fflush(stdout);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (rv != 0) {
            return cli_fail(cli, rv, "cannot print an event");
        }
    }
    return CLI_EXIT_OK;
}

/* Read one page from c->from: a long poll when following, served by the
 * node reached after the first. */
static int events_page(struct cli *cli,
                       const struct events_cursor *c,
                       json_t **page)
{
    unsigned flags = cli->read_flags;
    struct augur_reply reply;
    int rv;

    if (c->follow && !c->first) {
        flags |= AUGUR_STALE;
    }
    (void)augur_events(cli->client, c->from, CLI_LIST_LIMIT,
                       c->follow ? CLI_FOLLOW_WAIT_MS : 0, flags, &reply);
    if (reply.status == AUGUR_EINVAL && flags != cli->read_flags) {
        /* A node refuses a 'from' beyond its next revision: after a
         * failover the node reached may be behind the one that answered
         * before.  The leader is not: ask it. */
        augur_reply_free(&reply);
        (void)augur_events(cli->client, c->from, CLI_LIST_LIMIT,
                           CLI_FOLLOW_WAIT_MS, cli->read_flags, &reply);
    }
    rv = cli_reply_take(cli, &reply, page);
    augur_reply_free(&reply);
    return rv;
}

/* Move @c past @page; *@done when there is nothing more to read now. */
static int events_advance(struct cli *cli,
                          struct events_cursor *c,
                          const json_t *page,
                          bool *done)
{
    const json_t *events = json_object_get(page, "events");
    const json_t *next = json_object_get(page, "next");
    const json_t *rev = json_object_get(page, "rev");
    size_t n = json_array_size(events);
    uint64_t to;

    if (!json_is_integer(next) || json_integer_value(next) < 0) {
        return cli_fail(cli, AUGUR_EPROTO, "the answer has no 'next'");
    }
    to = (uint64_t)json_integer_value(next);
    if (n > 0 && to <= c->from) {
        return cli_fail(cli, AUGUR_EPROTO, "the change log did not advance");
    }
    *done = !c->follow && (n == 0 || (json_is_integer(rev) &&
                                      to > (uint64_t)json_integer_value(rev)));
    c->from = to > c->from ? to : c->from;
    c->first = false;
    return CLI_EXIT_OK;
}

static int events_loop(struct cli *cli,
                       struct events_cursor *c,
                       const sigset_t *stop)
{
    bool done = false;
    json_t *page;
    int rv;

    /* The header goes out at once: a table still waiting for its first
     * event shows what it will show. */
    if (!cli->json) {
        printf(EVENTS_ROW, "REV", "TIME", "OP", "PRINCIPAL", "SUMMARY");
        fflush(stdout);
    }
    while (!done) {
        rv = events_page(cli, c, &page);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
        if (!json_is_array(json_object_get(page, "events"))) {
            rv = cli_fail(cli, AUGUR_EPROTO, "the answer has no events");
        } else {
            rv = events_print(cli, json_object_get(page, "events"), stop);
        }
        if (rv == CLI_EXIT_OK) {
            rv = events_advance(cli, c, page, &done);
        }
        json_decref(page);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
    }
    return CLI_EXIT_OK;
}

static int run_events(struct cli *cli, const struct cli_args *a)
{
    const char *from = cli_args_get(a, "from");
    struct events_cursor c = {.from = 1, .first = true};
    sigset_t stop;
    int rv;

    if (from != NULL) {
        rv = cli_value_u64(cli, "--from", from, 1, &c.from);
        if (rv != CLI_EXIT_OK) {
            return rv;
        }
    }
    c.follow = cli_args_get(a, "follow") != NULL;
    sigemptyset(&stop);
    if (c.follow && signals_install(&stop) != 0) {
        return cli_fail(cli, AUGUR_EINTERNAL, "cannot handle SIGINT/SIGTERM");
    }
    return events_loop(cli, &c, &stop);
}

static const struct cli_flag events_flags[] = {
    {"from", 0, "REV", "the first revision to show (default 1)", 0},
    {"follow", 0, NULL,
     "keep waiting for new events and print them as they come, until "
     "interrupted",
     0},
    {0},
};

const struct cli_command cli_events_commands[] = {
    {"events", "the change log: one event per write, with its revision",
     "With -o json, one JSON object per line (JSON Lines).  --follow reads\n"
     "the log from the leader first, then long-polls the node reached; it\n"
     "ends with status 0 on SIGINT or SIGTERM.  The cluster keeps the last\n"
     "100000 events: reading from an older revision (the default 1 once\n"
     "events were trimmed, or a --follow that fell that far behind) is\n"
     "refused with ECOMPACTED naming the oldest revision kept, and exits 1,\n"
     "rather than skip events.  A --from beyond the next revision is\n"
     "refused (EINVAL).",
     NULL, events_flags, "augur events --from 120 --follow", run_events},
    {0},
};
