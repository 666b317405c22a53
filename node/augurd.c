/* augurd: the program: configuration, logging, then one node until it
 * stops (node/node.c). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "node/node.h"

int main(int argc, char **argv)
{
    struct node_config cfg;
    struct node *n;
    char errmsg[NODE_ERRMSG_SIZE];
    char tag[32];
    int rv;

    rv = node_config_parse(&cfg, argc, argv, errmsg);
    if (rv == NODE_CONFIG_DONE) {
        return 0;
    }
    if (rv != 0) {
        fprintf(stderr, "augurd: %s\n", errmsg);
        return 2;
    }
    snprintf(tag, sizeof tag, "node %" PRIu64, cfg.id);
    log_setup(cfg.log_level, tag);
    signal(SIGPIPE, SIG_IGN);

    n = malloc(sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "augurd: out of memory\n");
        return 1;
    }
    rv = node_start(n, &cfg);
    if (rv != 0) {
        LOG(LOG_LEVEL_ERROR, "cannot start: %s", n->errmsg);
        free(n);
        return 1;
    }
    uv_run(&n->loop, UV_RUN_DEFAULT);
    rv = uv_loop_close(&n->loop);
    if (rv != 0) {
        LOG(LOG_LEVEL_WARN, "loop closed with handles still open: %s",
            uv_strerror(rv));
    }
    if (n->lock_fd >= 0) {
        close(n->lock_fd);
    }
    msgpack_sbuffer_destroy(&n->scratch);
    free(n);
    return 0;
}
