/* augur-check: check a chaos history file and print the summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: augur-check [--max-steps N] [--witness N] HISTORY\n"
            "\n"
            "Checks a chaos history (JSON lines written by tests/chaos/run):\n"
            "linearizability of every workload's claim operations against a\n"
            "register-with-compare-and-set model, no acknowledged write lost,\n"
            "none applied twice, epochs strictly increasing, every node's\n"
            "final state identical.  Prints a summary ending 'valid: true'\n"
            "or 'valid: false'.\n"
            "\n"
            "  --max-steps N  search steps per workload before giving up\n"
            "                 (default 200000000; 0 = no bound)\n"
            "  --witness N    operations printed of a failing sub-history\n"
            "                 (default 40)\n"
            "\n"
            "Exit status: 0 valid, 1 not valid (or undecided), 2 usage or\n"
            "unreadable history.\n");
}

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-') {
        return -1;
    }
    *out = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct chaos_options opt;
    struct chaos_history h;
    const char *path = NULL;
    unsigned long long v;
    bool valid;

    chaos_options_init(&opt);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--max-steps") == 0) {
            if (parse_u64(i + 1 < argc ? argv[++i] : NULL, &v) != 0) {
                usage(stderr);
                return 2;
            }
            opt.max_steps = v;
        } else if (strcmp(argv[i], "--witness") == 0) {
            if (parse_u64(i + 1 < argc ? argv[++i] : NULL, &v) != 0 ||
                v > 100000) {
                usage(stderr);
                return 2;
            }
            opt.witness_max = (unsigned)v;
        } else if (argv[i][0] == '-' || path != NULL) {
            usage(stderr);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    chaos_history_init(&h);
    if (chaos_history_load(&h, path) != 0) {
        fprintf(stderr, "augur-check: %s: %s\n", path, h.errmsg);
        chaos_history_close(&h);
        return 2;
    }
    printf("history: %s\n", path);
    valid = chaos_check(&h, &opt, stdout);
    chaos_history_close(&h);
    return valid ? 0 : 1;
}
