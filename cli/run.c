/* Command bodies that several commands share: get one object, list every
 * item, perform a write; each prints its result as -o asks. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

/* Report a failure to print (the only one is running out of memory). */
static int print_status(struct cli *cli, int rv)
{
    return rv == 0 ? CLI_EXIT_OK : cli_fail(cli, rv, "cannot print the result");
}

int cli_run_get(struct cli *cli,
                const char *op,
                const char *key,
                const char *id)
{
    struct cli_pack args;
    json_t *result;
    int rv;

    cli_pack_init(&args);
    cli_pack_map(&args, 1);
    cli_pack_kv_str(&args, key, id);
    rv = cli_call(cli, op, &args, true, &result);
    cli_pack_close(&args);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli->json ? cli_json_print(result) : cli_object_print(result);
    json_decref(result);
    return print_status(cli, rv);
}

int cli_run_list(struct cli *cli,
                 const char *op,
                 const char *filter_key,
                 const char *filter,
                 const struct cli_column *columns)
{
    json_t *items;
    int rv;

    rv = cli_list(cli, op, filter_key, filter, &items);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    rv = cli->json ? cli_json_print(items) : cli_table_print(columns, items);
    json_decref(items);
    return print_status(cli, rv);
}

int cli_run_write(struct cli *cli, const char *op, const struct cli_pack *args)
{
    struct cli_buf line;
    json_t *result;
    char *text;
    int rv;

    rv = cli_call(cli, op, args, false, &result);
    if (rv != CLI_EXIT_OK) {
        return rv;
    }
    if (cli->json) {
        rv = cli_json_print(result);
    } else {
        cli_buf_init(&line);
        cli_summary(&line, op, result);
        text = cli_buf_take(&line);
        rv = text != NULL ? 0 : AUGUR_ENOMEM;
        if (text != NULL) {
            puts(text);
        }
        free(text);
    }
    json_decref(result);
    return print_status(cli, rv);
}
