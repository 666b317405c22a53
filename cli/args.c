/* The one flag parser: global and command flags, anywhere on the line. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* A token split into the flag it names and an inline value. */
struct flag_token
{
    const char *name; /* long name, or NULL for a short flag */
    size_t name_len;
    char short_name;
    const char *inline_value; /* after '=' or the short letter; or NULL */
};

static void token_split(const char *tok, struct flag_token *t)
{
    memset(t, 0, sizeof *t);
    if (tok[1] == '-') {
        const char *eq = strchr(tok + 2, '=');
        t->name = tok + 2;
        t->name_len = eq != NULL ? (size_t)(eq - t->name) : strlen(t->name);
        t->inline_value = eq != NULL ? eq + 1 : NULL;
    } else {
        t->short_name = tok[1];
        t->inline_value = tok[2] != '\0' ? tok + 2 : NULL;
    }
}

/* The index of the flag @t names in @spec, or -1. */
static int spec_find(const struct cli_flag *spec, const struct flag_token *t)
{
    for (int i = 0; spec != NULL && spec[i].name != NULL; i++) {
        if (t->name != NULL
                ? strlen(spec[i].name) == t->name_len &&
                      memcmp(spec[i].name, t->name, t->name_len) == 0
                : spec[i].short_name == t->short_name) {
            return i;
        }
    }
    return -1;
}

bool cli_flag_matches(const struct cli_flag *spec,
                      const char *tok,
                      bool *needs_value)
{
    struct flag_token t;
    int i;

    if (tok[0] != '-' || tok[1] == '\0') {
        return false;
    }
    token_split(tok, &t);
    i = spec_find(spec, &t);
    if (i < 0) {
        return false;
    }
    *needs_value = spec[i].value != NULL && t.inline_value == NULL;
    return true;
}

static int store_value(const struct cli_flag *f,
                       struct cli_flag_values *fv,
                       const char *value,
                       char *err)
{
    if (!(f->opts & CLI_FLAG_REPEAT)) {
        fv->v[0] = value;
        fv->n = 1;
        return 0;
    }
    if (fv->n == CLI_REPEAT_MAX) {
        snprintf(err, CLI_ERR_SIZE, "--%s given more than %d times", f->name,
                 CLI_REPEAT_MAX);
        return AUGUR_EINVAL;
    }
    fv->v[fv->n++] = value;
    return 0;
}

/* Parse the flag at argv[*i], taking its value from the next token when it
 * has none inline. */
static int parse_flag(struct cli_args *a,
                      int argc,
                      char **argv,
                      int *i,
                      char *err)
{
    const char *tok = argv[*i];
    struct flag_token t;
    const struct cli_flag *f;
    const char *value;
    int s = 1;
    int idx;

    /* A command's flag wins over a global one of the same name ("principal
     * add --key PUBFILE" is the new principal's key, not the caller's). */
    token_split(tok, &t);
    idx = spec_find(a->spec[1], &t);
    if (idx < 0) {
        s = 0;
        idx = spec_find(a->spec[0], &t);
    }
    if (idx < 0) {
        snprintf(err, CLI_ERR_SIZE, "unknown flag '%.*s'",
                 (int)(t.name != NULL ? t.name_len + 2 : 2), tok);
        return AUGUR_EINVAL;
    }
    f = &a->spec[s][idx];
    if (f->value == NULL) {
        if (t.inline_value != NULL) {
            snprintf(err, CLI_ERR_SIZE, "--%s takes no value", f->name);
            return AUGUR_EINVAL;
        }
        value = tok;
    } else if (t.inline_value != NULL) {
        value = t.inline_value;
    } else if (*i + 1 < argc) {
        value = argv[++*i];
    } else {
        snprintf(err, CLI_ERR_SIZE, "--%s needs a value (%s)", f->name,
                 f->value);
        return AUGUR_EINVAL;
    }
    return store_value(f, &a->values[s][idx], value, err);
}

static bool is_skipped(int i, const int *skip, unsigned n_skip)
{
    for (unsigned k = 0; k < n_skip; k++) {
        if (skip[k] == i) {
            return true;
        }
    }
    return false;
}

static unsigned count_args(const struct cli_arg *args)
{
    unsigned n = 0;
    while (args != NULL && args[n].name != NULL) {
        n++;
    }
    return n < CLI_POS_MAX ? n : CLI_POS_MAX;
}

static unsigned count_flags(const struct cli_flag *flags)
{
    unsigned n = 0;
    while (flags != NULL && flags[n].name != NULL) {
        n++;
    }
    return n;
}

/* Every required flag and argument is there. */
static int check_required(const struct cli_args *a,
                          const struct cli_command *cmd,
                          char *err)
{
    const struct cli_flag *flags = cmd->flags;

    for (unsigned i = a->n_pos; i < count_args(cmd->args); i++) {
        if (!cmd->args[i].optional) {
            snprintf(err, CLI_ERR_SIZE, "missing argument %s",
                     cmd->args[i].name);
            return AUGUR_EINVAL;
        }
    }
    for (int i = 0; flags != NULL && flags[i].name != NULL; i++) {
        if ((flags[i].opts & CLI_FLAG_REQUIRED) && a->values[1][i].n == 0) {
            snprintf(err, CLI_ERR_SIZE, "missing --%s %s", flags[i].name,
                     flags[i].value != NULL ? flags[i].value : "");
            return AUGUR_EINVAL;
        }
    }
    return 0;
}

int cli_args_parse(struct cli_args *a,
                   const struct cli_flag *global,
                   const struct cli_command *cmd,
                   int argc,
                   char **argv,
                   const int *skip,
                   unsigned n_skip,
                   char *err)
{
    unsigned max_pos = count_args(cmd->args);
    bool flags_done = false;
    int rv;

    memset(a, 0, sizeof *a);
    /* The tables are code, but a release build has no assert: a spec too
     * long for cli_args must not write past it. */
    if (count_flags(global) > CLI_FLAGS_MAX ||
        count_flags(cmd->flags) > CLI_FLAGS_MAX) {
        snprintf(err, CLI_ERR_SIZE, "bug: over %d flags", CLI_FLAGS_MAX);
        return AUGUR_EINTERNAL;
    }
    a->spec[0] = global;
    a->spec[1] = cmd->flags;
    for (int i = 1; i < argc; i++) {
        const char *tok = argv[i];
        if (is_skipped(i, skip, n_skip)) {
            continue;
        }
        if (!flags_done && strcmp(tok, "--") == 0) {
            flags_done = true;
        } else if (!flags_done && tok[0] == '-' && tok[1] != '\0') {
            rv = parse_flag(a, argc, argv, &i, err);
            if (rv != 0) {
                return rv;
            }
        } else if (a->n_pos < max_pos) {
            a->pos[a->n_pos++] = tok;
        } else {
            snprintf(err, CLI_ERR_SIZE, "unexpected argument '%s'", tok);
            return AUGUR_EINVAL;
        }
    }
    return check_required(a, cmd, err);
}

/* The values of flag @name, in the command's spec first. */
const struct cli_flag_values *cli_args_all(const struct cli_args *a,
                                           const char *name)
{
    for (int s = 1; s >= 0; s--) {
        const struct cli_flag *spec = a->spec[s];
        for (int i = 0; spec != NULL && spec[i].name != NULL; i++) {
            if (strcmp(spec[i].name, name) == 0) {
                return &a->values[s][i];
            }
        }
    }
    return NULL;
}

const char *cli_args_get(const struct cli_args *a, const char *name)
{
    const struct cli_flag_values *fv = cli_args_all(a, name);
    return fv != NULL && fv->n > 0 ? fv->v[fv->n - 1] : NULL;
}
