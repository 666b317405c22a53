/* Files embedded in augurd at build time (the web UI, docs/HTTP.md "Web
 * UI"): node/CMakeLists.txt lists them, cmake/embed_assets.cmake turns them
 * into byte arrays, and this finds one by its path. */
#ifndef AUGUR_NODE_ASSETS_H
#define AUGUR_NODE_ASSETS_H

#include <stddef.h>

/* One embedded file.  Everything is static storage, never freed.  @data
 * holds @len bytes followed by one NUL (not counted). */
struct node_asset
{
    const char *path;         /* "ui/index.html": no leading slash */
    const char *content_type; /* from the file's extension */
    const unsigned char *data;
    size_t len;
};

/* The asset whose path is exactly @path, or NULL. */
const struct node_asset *node_asset_find(const char *path);

/* The generated table (build dir, assets_data.c), for node/assets.c. */
extern const struct node_asset node__assets[];
extern const size_t node__assets_count;

#endif
