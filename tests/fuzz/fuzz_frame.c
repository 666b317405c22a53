/* Fuzz target: the frame decoder, as a server meets it: a byte stream cut
 * into frames, each payload unpacked and decoded as HELLO or REQUEST, and
 * sealed frames opened with a fixed channel. */
#include <stdint.h>
#include <string.h>

#include "wire/proto.h"
#include "wire/secure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct secure_channel ch; /* all-zero keys; scratch reused */
    size_t off = 0;

    ch.ready = true;
    ch.rx_n = 0;
    while (off < size) {
        struct proto_frame f;
        struct proto_frame inner;
        msgpack_unpacked u;
        char errmsg[256];
        size_t used = 0;

        if (proto_frame_parse(data + off, size - off,
                              PROTO_FRAME_MAX + PROTO_SEAL_OVERHEAD, &f,
                              &used) != 0 ||
            used == 0) {
            break;
        }
        if (f.type == PROTO_SEALED && secure_open(&ch, &f, &inner) == 0) {
            f = inner;
        }
        msgpack_unpacked_init(&u);
        if (proto_payload_unpack(f.payload, f.len, &u) == 0) {
            if (f.type == PROTO_HELLO) {
                struct proto_hello h;
                (void)proto_hello_decode(&u.data, &h, errmsg);
            } else {
                struct proto_request req;
                if (proto_request_decode(&u.data, &req, errmsg) == 0 &&
                    req.op_len > 0 && req.op == NULL) {
                    __builtin_trap();
                }
            }
        }
        msgpack_unpacked_destroy(&u);
        off += used;
    }
    return 0;
}
