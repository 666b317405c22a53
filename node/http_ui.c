/* The web UI's static files (node/ui/, embedded by node/assets.c) served
 * at /ui/, under a strict Content-Security-Policy. */
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "node/assets.h"
#include "node/http_ui.h"

/* Only the page's own files: no inline script or style, no other origin,
 * no plugin, no framing, no form posted anywhere (the page's forms are
 * handled by its script). */
#define UI_CSP                                                      \
    "default-src 'self'; script-src 'self'; style-src 'self'; "     \
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

bool node__http_ui(const struct node_http_request *req,
                   struct node_http_reply *reply)
{
    bool get = strcmp(req->method, MHD_HTTP_METHOD_GET) == 0 ||
               strcmp(req->method, MHD_HTTP_METHOD_HEAD) == 0;
    bool redirect =
        strcmp(req->path, "/") == 0 || strcmp(req->path, "/ui") == 0;
    const struct node_asset *a;

    if (!redirect && strncmp(req->path, "/ui/", 4) != 0) {
        return false;
    }
    if (!get) {
        node_http_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED, "EINVAL",
                        "%.200s takes GET only, not %.20s", req->path,
                        req->method);
        reply->allow = "GET, HEAD";
        return true;
    }
    if (redirect) {
        reply->status = MHD_HTTP_FOUND;
        reply->location = "/ui/";
        return true;
    }
    reply->csp = UI_CSP;
    /* "/ui/" is the page; "/ui/NAME" the asset "ui/NAME", matched exactly
     * against the embedded list (so no path can reach anything else). */
    a = node_asset_find(strcmp(req->path, "/ui/") == 0 ? "ui/index.html"
                                                       : req->path + 1);
    if (a == NULL) {
        node_http_error(reply, MHD_HTTP_NOT_FOUND, "ENOTFOUND",
                        "no such file: %.200s", req->path);
        return true;
    }
    reply->body = malloc(a->len > 0 ? a->len : 1);
    if (reply->body == NULL) {
        node_http_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "ENOMEM",
                        "out of memory");
        return true;
    }
    memcpy(reply->body, a->data, a->len);
    reply->len = a->len;
    reply->status = MHD_HTTP_OK;
    reply->content_type = a->content_type;
    return true;
}
