/* The HTTP/JSON API, /v1 (node/http_v1.c, docs/HTTP.md "API"). */
#ifndef AUGUR_NODE_HTTP_V1_H
#define AUGUR_NODE_HTTP_V1_H

#include <stdbool.h>
#include <stdint.h>

#include "node/http.h"

struct node;
struct node_token;
struct api_call;

/* Answer a request under /v1/ (at once, or later through its exchange). */
void node__http_v1(struct node *n,
                   const struct node_http_request *req,
                   struct node_http_reply *reply);
/* Check the request's bearer token: true with @t filled, or false with
 * @reply filled (401, or 503 from a node that does not serve yet). */
bool node__http_authorize(struct node *n,
                          const struct node_http_request *req,
                          struct node_http_reply *reply,
                          struct node_token *t);
/* http.forward: a follower's API request, run here under its token. */
void node__http_forward(struct node *n, struct api_call *call);

/* GET /v1/events (node/http_events.c): Server-Sent Events. */
void node__http_events(struct node *n,
                       const struct node_http_request *req,
                       struct node_http_reply *reply);
/* Wake the streams that have a revision to send. */
void node__http_events_applied(struct node *n);
/* Keepalives, and the streams' tokens checked again. */
void node__http_events_tick(struct node *n, uint64_t now);
int node__http_events_init(struct node *n);
void node__http_events_close(struct node *n);

int node__http_v1_init(struct node *n);
/* Answer the requests past their deadline. */
void node__http_v1_tick(struct node *n, uint64_t now);
void node__http_v1_close(struct node *n);

#endif
