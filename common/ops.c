/* The op table's lookups (see common/ops.h). */
#include "common/ops.h"

#include <string.h>

static const struct
{
    const char *wire;
    bool write;
    enum augur_role_rank role;
} ops[AUGUR_OP_COUNT] = {
#define AUGUR_OP__ROW(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    [AUGUR_OP_##ID] = {WIRE, AUGUR_OP__##ACCESS, AUGUR_ROLE_##ROLE},
#define AUGUR_OP__W true
#define AUGUR_OP__R false
    AUGUR_STORE_OPS(AUGUR_OP__ROW)
#undef AUGUR_OP__ROW
#define AUGUR_OP__ROW(ID, WIRE, ACCESS, ROLE, HANDLER) \
    [AUGUR_OP_##ID] = {WIRE, AUGUR_OP__##ACCESS, AUGUR_ROLE_##ROLE},
        AUGUR_NODE_OPS(AUGUR_OP__ROW)
#undef AUGUR_OP__ROW
#undef AUGUR_OP__W
#undef AUGUR_OP__R
};

const char *augur_op_wire(enum augur_op op)
{
    if ((unsigned)op == AUGUR_OP_NONE || (unsigned)op >= AUGUR_OP_COUNT) {
        return NULL;
    }
    return ops[op].wire;
}

enum augur_op augur_op_find(const char *name, size_t len)
{
    if (name == NULL) {
        return AUGUR_OP_NONE;
    }
    for (unsigned i = 1; i < AUGUR_OP_COUNT; i++) {
        if (strlen(ops[i].wire) == len && memcmp(ops[i].wire, name, len) == 0) {
            return (enum augur_op)i;
        }
    }
    return AUGUR_OP_NONE;
}

bool augur_op_is_write(enum augur_op op)
{
    return (unsigned)op < AUGUR_OP_COUNT && op != AUGUR_OP_NONE &&
           ops[op].write;
}

bool augur_op_is_store_write(enum augur_op op)
{
    switch (op) {
#define AUGUR_OP__W(ID) \
    case AUGUR_OP_##ID: \
        return true;
#define AUGUR_OP__R(ID)
#define AUGUR_OP__CASE(ID, NUM, WIRE, ACCESS, ROLE, HANDLER, ARGS) \
    AUGUR_OP__##ACCESS(ID)
        AUGUR_STORE_OPS(AUGUR_OP__CASE)
#undef AUGUR_OP__CASE
#undef AUGUR_OP__R
#undef AUGUR_OP__W
        default:
            return false;
    }
}

enum augur_role_rank augur_op_role(enum augur_op op)
{
    if ((unsigned)op == AUGUR_OP_NONE || (unsigned)op >= AUGUR_OP_COUNT) {
        return AUGUR_ROLE_INTERNAL;
    }
    return ops[op].role;
}
