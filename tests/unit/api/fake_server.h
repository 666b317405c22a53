/* A scripted augur server for libaugur's tests: one thread on 127.0.0.1
 * (port 0) that accepts connections one at a time and runs a script on
 * each, speaking the real frame protocol through api/proto.c.
 *
 * The thread never asserts (cmocka's asserts must stay on the test's
 * thread): it records what it saw, and the test checks the record after
 * fake_server_stop, which joins the thread. */
#ifndef AUGUR_TESTS_FAKE_SERVER_H
#define AUGUR_TESTS_FAKE_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/proto.h"

#define FAKE_REQUESTS_MAX 32
#define FAKE_HELLOS_MAX 8

/* One REQUEST as the server received it. */
struct fake_request
{
    unsigned conn; /* index of the connection it came on, from 0 */
    uint64_t id;
    uint64_t seq;
    uint64_t ack;
    char op[PROTO_OP_MAX + 1];
    int stale;
    uint32_t wait_ms;
    int has_args;
    char workload[64]; /* args "workload", "" when absent */
    uint64_t from;     /* args "from" (events) */
    uint64_t limit;    /* args "limit" (events) */
};

struct fake_server;

/* Runs on the server's thread for each accepted connection @fd (the
 * @conn-th, from 0); the thread closes @fd afterwards. */
typedef void (*fake_script)(struct fake_server *s, int fd, unsigned conn);

struct fake_server
{
    int lfd;
    uint16_t port;
    char addr[32]; /* "127.0.0.1:port" */
    pthread_t thread;
    int stop[2]; /* a pipe: writing to it ends the thread */
    fake_script script;
    void *data; /* for the script */

    /* What the server saw; read it after fake_server_stop. */
    unsigned conns;
    unsigned hellos;
    uint64_t hello_clients[FAKE_HELLOS_MAX]; /* the first ones */
    uint64_t hello_client;                   /* the last one */
    uint32_t hello_version;
    char hello_auth[16];
    unsigned n_requests;
    unsigned session_opens; /* answered by fake_read_request itself */
    int keep_session_opens; /* hand session.open to the script instead */
    struct fake_request requests[FAKE_REQUESTS_MAX];
    int surprises;      /* frames that broke the protocol */
    char surprise[256]; /* the first of them */
};

/* Listen on 127.0.0.1:0 and start the thread.  Returns 0 or -1. */
int fake_server_start(struct fake_server *s, fake_script script, void *data);

/* End the thread (after the client has closed, so that no script blocks
 * on a read) and close the listening socket. */
void fake_server_stop(struct fake_server *s);

/* Script steps.  Each returns 0, or -1 when the client went away or sent
 * something unexpected (recorded as a surprise). */

/* Read HELLO and record it; send WELCOME. */
int fake_handshake(struct fake_server *s, int fd);
/* Read HELLO and record it, and send nothing. */
int fake_read_hello(struct fake_server *s, int fd);
/* Read one REQUEST and record it; *@out (may be NULL) is its record. */
int fake_read_request(struct fake_server *s,
                      int fd,
                      unsigned conn,
                      struct fake_request **out);
/* Send a RESPONSE for @id with the answer {"status", "error"?, "rev"?,
 * "leader"?, "result"?}; @result is a packed object or NULL. */
int fake_answer(int fd,
                uint64_t id,
                int status,
                const char *error,
                uint64_t rev,
                const char *leader,
                const void *result,
                size_t result_len);
/* Send a RESPONSE with status 0 and {"workload": @workload} as result. */
int fake_answer_workload(int fd, uint64_t id, const char *workload);
/* Send a CLOSE frame. */
int fake_send_close(int fd, int status, const char *reason);
/* Send raw bytes. */
int fake_send(int fd, const void *buf, size_t len);
/* Read and discard until the client closes the connection. */
void fake_drain(int fd);

/* A port on 127.0.0.1 that refuses connections: a socket bound to it and
 * not listening.  Returns the socket (close it after the test) or -1. */
int fake_refusing_port(uint16_t *port);

#endif
