/* The augur CLI's shared interface: the command table, the flag parser, calls
 * to the cluster and output. */
#ifndef AUGUR_CLI_H
#define AUGUR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "common/ops.h"
#include "api/augur.h"

#define CLI_WARN_UNUSED __attribute__((warn_unused_result))
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Exit statuses: the CLI's contract with scripts.  Command functions return
 * one of these after printing any error themselves. */
enum cli_exit
{
    CLI_EXIT_OK = 0,
    CLI_EXIT_REFUSED = 1,     /* the cluster refused; or a local failure */
    CLI_EXIT_USAGE = 2,       /* unknown command or flag, bad argument */
    CLI_EXIT_UNAVAILABLE = 3, /* unreachable, timed out, outcome unknown */
};

#define CLI_ERR_SIZE 256
#define CLI_LIST_LIMIT 1000
#define CLI_FLAGS_MAX 16  /* flags of one spec (global or command) */
#define CLI_REPEAT_MAX 64 /* occurrences of one repeatable flag */
#define CLI_POS_MAX 4     /* positional arguments of one command */
#define CLI_FOLLOW_WAIT_MS 10000

/* ---- command table (cli/main.c, cli/cmd_*.c) -------------------------- */

#define CLI_FLAG_REQUIRED 1u
#define CLI_FLAG_REPEAT 2u

/* A flag; a list of them ends with a zeroed entry. */
struct cli_flag
{
    const char *name;  /* long name without the dashes */
    char short_name;   /* 0 for none */
    const char *value; /* placeholder of its value ("KIND"); NULL: a switch */
    const char *help;
    unsigned opts; /* CLI_FLAG_* */
};

/* A positional argument; a list of them ends with a zeroed entry. */
struct cli_arg
{
    const char *name;
    const char *help;
    bool optional; /* only the last ones may be */
};

struct cli;
struct cli_args;

/* One command: its words, its help and its function.  A table of them ends
 * with a zeroed entry. */
struct cli_command
{
    const char *words;       /* "resource add" */
    const char *summary;     /* one line for 'augur --help' */
    const char *description; /* more for the command's --help, or NULL */
    const struct cli_arg *args;
    const struct cli_flag *flags;
    const char *example;
    int (*run)(struct cli *cli, const struct cli_args *args);
};

/* A command group: its first word and its commands. */
struct cli_group
{
    const char *name;
    const char *summary;
    const struct cli_command *commands;
};

extern const struct cli_group cli_groups[]; /* ends with a zeroed entry */
extern const struct cli_flag cli_global_flags[];

extern const struct cli_command cli_status_commands[];
extern const struct cli_command cli_member_commands[];
extern const struct cli_command cli_leader_commands[];
extern const struct cli_command cli_resource_commands[];
extern const struct cli_command cli_score_commands[];
extern const struct cli_command cli_workload_commands[];
extern const struct cli_command cli_edge_commands[];
extern const struct cli_command cli_claim_commands[];
extern const struct cli_command cli_events_commands[];
extern const struct cli_command cli_keygen_commands[];
extern const struct cli_command cli_node_commands[];
extern const struct cli_command cli_principal_commands[];
extern const struct cli_command cli_model_commands[];
extern const struct cli_command cli_telemetry_commands[];
extern const struct cli_command cli_predict_commands[];
extern const struct cli_command cli_cohort_commands[];
extern const struct cli_command cli_policy_commands[];
extern const struct cli_command cli_migrate_commands[];
extern const struct cli_command cli_workflow_commands[];
extern const struct cli_command cli_shadow_commands[];
extern const struct cli_command cli_token_commands[];
/* The store's model commands (cli/cmd_model_store.c), rows of
 * cli_model_commands beside the offline ones. */
extern const struct cli_arg cli_model_publish_args[];
extern const struct cli_flag cli_model_publish_flags[];
extern const struct cli_arg cli_model_activate_args[];
extern const struct cli_flag cli_model_activate_flags[];
int cli_model_publish_run(struct cli *cli, const struct cli_args *a);
int cli_model_list_run(struct cli *cli, const struct cli_args *a);
int cli_model_activate_run(struct cli *cli, const struct cli_args *a);

/* The state of one run of the CLI. */
struct cli
{
    const char *endpoints;
    const char *endpoints_from;   /* "--endpoints", "AUGUR_ENDPOINTS", ... */
    const char *key_file;         /* --key, or NULL: AUGUR_KEY */
    const char *cluster_key_file; /* --cluster-key, or NULL */
    bool json;
    unsigned timeout_s;
    unsigned read_flags; /* AUGUR_STALE with --stale */
    const char *words;   /* the command's words, for messages */
    struct augur_client *client;
};

/* ---- help (cli/help.c) ------------------------------------------------ */

/* Print to stdout the overview, a group's or a command's help. */
void cli_help_top(void);
void cli_help_group(const struct cli_group *g);
void cli_help_command(const struct cli_command *cmd);

/* ---- the flag parser (cli/args.c) ------------------------------------- */

struct cli_flag_values
{
    const char *v[CLI_REPEAT_MAX]; /* pointers into argv */
    unsigned n;
};

/* What the command line said: flags of the global spec and of the
 * command's, and positional arguments. */
struct cli_args
{
    const struct cli_flag *spec[2]; /* global, command */
    struct cli_flag_values values[2][CLI_FLAGS_MAX];
    const char *pos[CLI_POS_MAX];
    unsigned n_pos;
};

/* True when @tok names one of @spec's flags (as "--name", "--name=V", "-x"
 * or "-xV"); *@needs_value tells whether the next token is its value. */
bool cli_flag_matches(const struct cli_flag *spec,
                      const char *tok,
                      bool *needs_value);

/* Parse @argv (skipping the indexes @skip[0..@n_skip), the command words)
 * against the flags of @global and @cmd and the positional arguments of
 * @cmd.  A non-repeatable flag given twice keeps its last value.  Returns 0,
 * or AUGUR_EINVAL with one line in @err (CLI_ERR_SIZE bytes): unknown flag,
 * missing value, missing required flag or argument, extra argument. */
int cli_args_parse(struct cli_args *a,
                   const struct cli_flag *global,
                   const struct cli_command *cmd,
                   int argc,
                   char **argv,
                   const int *skip,
                   unsigned n_skip,
                   char *err) CLI_WARN_UNUSED;

/* The last value of flag @name (a switch's value is its token), or NULL when
 * absent; every value of a repeatable one. */
const char *cli_args_get(const struct cli_args *a, const char *name);
const struct cli_flag_values *cli_args_all(const struct cli_args *a,
                                           const char *name);

/* ---- argument values (cli/value.c) ------------------------------------ */

/* Each parses @s, the value of @what ("--epoch", "ID"), fully: no sign
 * where unsigned, no trailing characters, no overflow.  Returns
 * CLI_EXIT_OK, or prints a usage error and returns CLI_EXIT_USAGE. */
int cli_value_u64(struct cli *cli,
                  const char *what,
                  const char *s,
                  uint64_t min,
                  uint64_t *out) CLI_WARN_UNUSED;
int cli_value_i64(struct cli *cli,
                  const char *what,
                  const char *s,
                  int64_t *out) CLI_WARN_UNUSED;
/* A finite probability in [0, 1]. */
int cli_value_prob(struct cli *cli,
                   const char *what,
                   const char *s,
                   double *out) CLI_WARN_UNUSED;
/* One of the '|'-separated @choices ("voter|standby|spare"). */
int cli_value_choice(struct cli *cli,
                     const char *what,
                     const char *s,
                     const char *choices) CLI_WARN_UNUSED;

/* "cpu=N,mem_mb=N", keys in any order, each optional, each at most once. */
struct cli_capacity
{
    uint64_t cpu;
    uint64_t mem_mb;
    bool has_cpu;
    bool has_mem_mb;
};
int cli_value_capacity(struct cli *cli,
                       const char *what,
                       const char *s,
                       struct cli_capacity *out) CLI_WARN_UNUSED;

/* "KEY=VALUE" with a non-empty KEY: the split point, in *@eq. */
int cli_value_label(struct cli *cli,
                    const char *what,
                    const char *s,
                    const char **eq) CLI_WARN_UNUSED;

/* ---- request arguments (cli/pack.c) ----------------------------------- */

/* A msgpack map under construction.  An allocation failure is remembered
 * and reported once, by cli_call. */
struct cli_pack
{
    msgpack_sbuffer buf;
    msgpack_packer pk;
    bool failed;
};

void cli_pack_init(struct cli_pack *p);
void cli_pack_close(struct cli_pack *p);
void cli_pack_map(struct cli_pack *p, size_t n);
void cli_pack_str(struct cli_pack *p, const char *s, size_t len);
void cli_pack_kv_str(struct cli_pack *p, const char *key, const char *value);
void cli_pack_kv_u64(struct cli_pack *p, const char *key, uint64_t value);
void cli_pack_kv_i64(struct cli_pack *p, const char *key, int64_t value);
void cli_pack_kv_double(struct cli_pack *p, const char *key, double value);
/* @key: a map of the fields of @c that were given. */
void cli_pack_kv_capacity(struct cli_pack *p,
                          const char *key,
                          const struct cli_capacity *c);
/* Pack a JSON scalar (string or integer) as @key: a list cursor. */
void cli_pack_kv_json(struct cli_pack *p, const char *key, const json_t *v);

/* ---- calls to the cluster (cli/call.c) -------------------------------- */

/* Open the client (it connects on the first call).  Returns CLI_EXIT_OK, or
 * prints the error and returns its exit status. */
int cli_open(struct cli *cli) CLI_WARN_UNUSED;
void cli_close(struct cli *cli);

/* The exit status of an augur_err code. */
int cli_exit_status(int status);

/* Print "augur: WORDS: ERRNAME: MESSAGE" on stderr and return the exit
 * status of @status.  An empty @msg prints augur_strerror(@status). */
int cli_fail(struct cli *cli, int status, const char *msg);

/* Print "augur: WORDS: MESSAGE; see 'augur WORDS --help'" on stderr and
 * return CLI_EXIT_USAGE. */
int cli_usage(struct cli *cli, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Convert the answer @reply into *@out (null when it has no result), owned
 * by the caller.  Returns CLI_EXIT_OK, or prints the refusal or failure and
 * returns its exit status. */
int cli_reply_take(struct cli *cli,
                   const struct augur_reply *reply,
                   json_t **out) CLI_WARN_UNUSED;

/* Call @op with the map in @args (NULL: none): a read (served per --stale) or a
 * write. On success *@out is the result as JSON (null when there is none),
 * owned by the caller.  Returns CLI_EXIT_OK, or prints the error and returns
 * its exit status. */
int cli_call(struct cli *cli,
             const char *op,
             const struct cli_pack *args,
             bool read,
             json_t **out) CLI_WARN_UNUSED;

/* Read every page of the list @op ({"items", "next"}), with @filter_key =
 * @filter when @filter is not NULL.  *@items is a JSON array of all the
 * items, owned by the caller.  Returns as cli_call. */
int cli_list(struct cli *cli,
             const char *op,
             const char *filter_key,
             const char *filter,
             json_t **items) CLI_WARN_UNUSED;

/* The wire name of op ID, from the one op table (common/ops.h). */
#define CLI_OP(ID) augur_op_wire(AUGUR_OP_##ID)

/* ---- command bodies shared by several commands (cli/run.c) ------------ */

struct cli_column;

/* Get one object by @key = @id and print it. */
int cli_run_get(struct cli *cli,
                const char *op,
                const char *key,
                const char *id) CLI_WARN_UNUSED;
/* List every item and print them: a JSON array, or a table of @columns. */
int cli_run_list(struct cli *cli,
                 const char *op,
                 const char *filter_key,
                 const char *filter,
                 const struct cli_column *columns) CLI_WARN_UNUSED;
/* Perform the write @op and print its result, or its confirmation line. */
int cli_run_write(struct cli *cli,
                  const char *op,
                  const struct cli_pack *args) CLI_WARN_UNUSED;

/* ---- text output (cli/buf.c, cli/table.c, cli/summary.c) -------------- */

/* A growable string.  Appends after a failed allocation do nothing; the
 * failure shows when the string is taken. */
struct cli_buf
{
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

void cli_buf_init(struct cli_buf *b);
void cli_buf_close(struct cli_buf *b);
void cli_buf_append(struct cli_buf *b, const char *s, size_t n);
void cli_buf_puts(struct cli_buf *b, const char *s);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) CLI_PRINTF(2, 3);
/* The string, NUL-terminated and owned by the caller, who frees it; NULL
 * when an allocation failed.  Leaves @b empty. */
char *cli_buf_take(struct cli_buf *b);

/* A table column, or a "label: value" field: @template is text with
 * {path} placeholders ("{used.cpu}/{capacity.cpu}") filled from an object.
 * A missing or null value shows as "-", an object as "k=v,k=v". */
struct cli_column
{
    const char *header;
    const char *template;
};

/* Expand @template against @obj into @b. */
void cli_template_expand(struct cli_buf *b,
                         const char *template,
                         const json_t *obj);

/* Print the objects of the array @items as a table with a header row, its
 * columns aligned.  Returns 0 or AUGUR_ENOMEM. */
int cli_table_print(const struct cli_column *columns,
                    const json_t *items) CLI_WARN_UNUSED;
/* Print "label: value" lines, one per field of @fields, from @obj. */
int cli_fields_print(const struct cli_column *fields,
                     const json_t *obj) CLI_WARN_UNUSED;
/* Print "key: value" lines, one per member of the object @obj. */
int cli_object_print(const json_t *obj) CLI_WARN_UNUSED;

/* The one-line summary of a write @op with result @data ("claim w1 -> h2
 * epoch 4"), appended to @b; for an op without a summary, @data as JSON. */
void cli_summary(struct cli_buf *b, const char *op, const json_t *data);

/* ---- JSON (cli/output.c) ---------------------------------------------- */

/* Convert a msgpack object to JSON: nil -> null, floats that are not
 * finite -> null, str -> string (invalid UTF-8 replaced by U+FFFD), bin and
 * ext -> base64 strings, map keys that are not strings -> their text.
 * *@out is owned by the caller.  Returns 0, AUGUR_ENOMEM, or AUGUR_EPROTO
 * when nested too deep. */
int cli_json_from_msgpack(const msgpack_object *o,
                          json_t **out) CLI_WARN_UNUSED;

/* Print @j on one line of stdout, compact, keys in their order.  Returns 0
 * or AUGUR_ENOMEM. */
int cli_json_print(const json_t *j) CLI_WARN_UNUSED;

/* Format @d with the fewest digits (15 to 17) that read back as @d. */
void cli_format_real(double d, char *out, size_t size);

#endif
