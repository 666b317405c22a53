/* Finding an embedded file by its path (node/assets.h); the files
 * themselves are in the generated assets_data.c. */
#include <string.h>

#include "node/assets.h"

const struct node_asset *node_asset_find(const char *path)
{
    /* A handful of files: a linear search is all it takes. */
    for (size_t i = 0; i < node__assets_count; i++) {
        if (strcmp(node__assets[i].path, path) == 0) {
            return &node__assets[i];
        }
    }
    return NULL;
}
