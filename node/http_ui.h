/* The web UI's static files over HTTP (docs/HTTP.md, "Web UI"). */
#ifndef AUGUR_NODE_HTTP_UI_H
#define AUGUR_NODE_HTTP_UI_H

#include <stdbool.h>

#include "node/http.h"

/* Answer @req when its path is the UI's: / and /ui redirect (302) to /ui/,
 * /ui/ is ui/index.html and /ui/NAME the embedded file ui/NAME (404
 * ENOTFOUND when there is none), GET and HEAD only (405 otherwise).
 * Returns true when @reply was filled, false when the path is not the UI's
 * (@reply untouched).  No token is needed: the files hold no data; the
 * page's API calls carry the token. */
bool node__http_ui(const struct node_http_request *req,
                   struct node_http_reply *reply);

#endif
