/* Fuzz target: the command decoder (a Raft entry's bytes), the encoder on
 * what it accepts (which must decode to the same bytes again), and apply on
 * a scratch store: bad input is an answer, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *scratch_store(void)
{
    static struct store *s;
    static char dir[] = "/tmp/augur-fuzz-store-XXXXXX";
    char errmsg[STORE_ERRMSG_SIZE];

    if (s == NULL && mkdtemp(dir) != NULL &&
        store_open(dir, STORE_OPEN_RESET, &s, errmsg) != 0) {
        s = NULL;
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct store_cmd cmd, again;
    struct store *s = scratch_store();
    char errmsg[STORE_ERRMSG_SIZE];
    msgpack_sbuffer a, b, answer;

    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_init(&answer);
    if (store_cmd_decode(data, size, &cmd, errmsg) == 0) {
        if (store_cmd_encode(&cmd, &a) != 0 ||
            store_cmd_decode(a.data, a.size, &again, errmsg) != 0 ||
            store_cmd_encode(&again, &b) != 0 || a.size != b.size ||
            memcmp(a.data, b.data, a.size) != 0) {
            __builtin_trap(); /* accepted, but does not round-trip */
        }
    }
    if (s != NULL && store_apply_raw(s, data, size, &answer) != 0) {
        /* Only LMDB itself may fail here (a full map); not bad input. */
        answer.size = 0;
    }
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    msgpack_sbuffer_destroy(&answer);
    return 0;
}
