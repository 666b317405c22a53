/* Help text, generated from the command table: the overview, a group's
 * subcommands, a command's usage, arguments, flags and example. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define HELP_LABEL_SIZE 96
#define HELP_ROWS_MAX 64

/* One line of a two-column list: "  LABEL   HELP". */
struct help_row
{
    char label[HELP_LABEL_SIZE];
    const char *help;
};

static void print_rows(const struct help_row *rows, size_t n)
{
    size_t width = 0;

    for (size_t i = 0; i < n; i++) {
        size_t w = strlen(rows[i].label);
        width = w > width ? w : width;
    }
    for (size_t i = 0; i < n; i++) {
        printf("  %-*s  %s\n", (int)width, rows[i].label, rows[i].help);
    }
}

/* Rows for @flags; short names get a column when any flag has one. */
static size_t flag_rows(const struct cli_flag *flags, struct help_row *rows)
{
    bool any_short = false;
    size_t n = 0;

    for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
        any_short |= flags[i].short_name != 0;
    }
    for (; flags != NULL && flags[n].name != NULL && n < HELP_ROWS_MAX; n++) {
        const struct cli_flag *f = &flags[n];
        char shortf[8] = "";
        if (any_short) {
            snprintf(shortf, sizeof shortf, "    ");
        }
        if (f->short_name != 0) {
            snprintf(shortf, sizeof shortf, "-%c, ", f->short_name);
        }
        snprintf(rows[n].label, sizeof rows[n].label, "%s--%s%s%s%s", shortf,
                 f->name, f->value != NULL ? " " : "",
                 f->value != NULL ? f->value : "",
                 f->opts & CLI_FLAG_REPEAT ? " (repeatable)" : "");
        rows[n].help = f->help;
    }
    return n;
}

/* A sentence from a summary: capitalized, with a full stop. */
static void print_sentence(const char *s)
{
    printf("%c%s.\n", toupper((unsigned char)s[0]), s + 1);
}

static void print_global_flags(void)
{
    struct help_row rows[HELP_ROWS_MAX];

    print_rows(rows, flag_rows(cli_global_flags, rows));
}

void cli_help_top(void)
{
    struct help_row rows[HELP_ROWS_MAX];
    size_t n = 0;

    printf(
        "Usage: augur [GLOBAL FLAGS] COMMAND [SUBCOMMAND] [ARGS] "
        "[FLAGS]\n\n"
        "The operator CLI of an augur cluster.\n\nCommands:\n");
    for (const struct cli_group *g = cli_groups; g->name != NULL; g++) {
        for (const struct cli_command *c = g->commands;
             c->words != NULL && n < HELP_ROWS_MAX; c++) {
            snprintf(rows[n].label, sizeof rows[n].label, "%s", c->words);
            rows[n++].help = c->summary;
        }
    }
    print_rows(rows, n);
    printf("\nGlobal flags (before or after the command):\n");
    print_global_flags();
    printf(
        "\nEnvironment:\n"
        "  AUGUR_ENDPOINTS  the nodes to reach when --endpoints is not "
        "given\n\n"
        "Exit status: 0 success; 1 the cluster refused (the error names "
        "why);\n2 usage error; 3 the cluster could not be reached "
        "(ECONNECT, at once when\nevery endpoint refuses the connection), "
        "the call timed out, or a write's\noutcome is unknown.\n\n"
        "Run 'augur COMMAND --help' for a command's arguments, flags and "
        "an example.\n");
}

void cli_help_group(const struct cli_group *g)
{
    struct help_row rows[HELP_ROWS_MAX];
    size_t skip = strlen(g->name) + 1;
    size_t n = 0;

    printf("Usage: augur %s SUBCOMMAND [ARGS] [FLAGS]\n\n", g->name);
    print_sentence(g->summary);
    printf("\nSubcommands:\n");
    for (const struct cli_command *c = g->commands;
         c->words != NULL && n < HELP_ROWS_MAX; c++) {
        snprintf(rows[n].label, sizeof rows[n].label, "%s", c->words + skip);
        rows[n++].help = c->summary;
    }
    print_rows(rows, n);
    printf(
        "\nExample:\n  %s\n\n"
        "Run 'augur %s SUBCOMMAND --help' for its arguments, flags and an "
        "example.\n",
        g->commands[0].example, g->name);
}

static void print_usage(const struct cli_command *cmd)
{
    const struct cli_flag *f = cmd->flags;

    printf("Usage: augur %s", cmd->words);
    for (const struct cli_arg *a = cmd->args; a != NULL && a->name != NULL;
         a++) {
        printf(a->optional ? " [%s]" : " %s", a->name);
    }
    for (; f != NULL && f->name != NULL; f++) {
        bool required = f->opts & CLI_FLAG_REQUIRED;
        printf(" %s--%s%s%s%s%s", required ? "" : "[", f->name,
               f->value != NULL ? " " : "", f->value != NULL ? f->value : "",
               required ? "" : "]", f->opts & CLI_FLAG_REPEAT ? "..." : "");
    }
    printf(" [GLOBAL FLAGS]\n\n");
}

void cli_help_command(const struct cli_command *cmd)
{
    struct help_row rows[HELP_ROWS_MAX];
    size_t n = 0;

    print_usage(cmd);
    print_sentence(cmd->summary);
    if (cmd->description != NULL) {
        printf("\n%s\n", cmd->description);
    }
    printf("\nArguments:\n");
    for (const struct cli_arg *a = cmd->args;
         a != NULL && a->name != NULL && n < HELP_ROWS_MAX; a++) {
        snprintf(rows[n].label, sizeof rows[n].label, "%s", a->name);
        rows[n++].help = a->help;
    }
    if (n == 0) {
        printf("  (none)\n");
    }
    print_rows(rows, n);
    printf("\nFlags:\n");
    n = flag_rows(cmd->flags, rows);
    if (n == 0) {
        printf("  (none)\n");
    }
    print_rows(rows, n);
    printf("\nGlobal flags:\n");
    print_global_flags();
    printf("\nExample:\n  %s\n", cmd->example);
}
