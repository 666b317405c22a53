/* Fuzz target: the telemetry batch decoder, as augurd's report op will
 * meet it.  A batch that decodes must encode again and decode to the same
 * batch; its bounds must hold. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "wire/telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The clock the corpus was recorded at (tests/unit/agent's golden). */
#define NOW 1764590000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct telemetry_batch b;
    struct telemetry_batch again;
    msgpack_sbuffer buf;
    char errmsg[TELEMETRY_ERRMSG_SIZE];

    telemetry_batch_init(&b);
    telemetry_batch_init(&again);
    if (telemetry_decode_bytes(data, size, NOW, TELEMETRY_PAST_MS,
                               TELEMETRY_FUTURE_MS, &b, errmsg) == 0) {
        if (b.n > TELEMETRY_SAMPLES_MAX || b.resource[0] == '\0') {
            __builtin_trap();
        }
        for (size_t i = 0; i < b.n; i++) {
            const char *name = telemetry_sample_name(&b, i);
            if (!isfinite(b.s[i].value) ||
                !telemetry_name_valid(name, strlen(name))) {
                __builtin_trap();
            }
        }
        msgpack_sbuffer_init(&buf);
        if (telemetry_encode(&b, &buf) != 0 ||
            telemetry_decode_bytes((const uint8_t *)buf.data, buf.size, NOW,
                                   TELEMETRY_PAST_MS, TELEMETRY_FUTURE_MS,
                                   &again, errmsg) != 0 ||
            again.n != b.n || again.t_ms != b.t_ms ||
            again.dropped != b.dropped ||
            strcmp(again.resource, b.resource) != 0) {
            __builtin_trap();
        }
        for (size_t i = 0; i < b.n; i++) {
            if (again.s[i].value != b.s[i].value ||
                again.s[i].dt_ms != b.s[i].dt_ms ||
                strcmp(telemetry_sample_name(&again, i),
                       telemetry_sample_name(&b, i)) != 0) {
                __builtin_trap();
            }
        }
        msgpack_sbuffer_destroy(&buf);
    }
    telemetry_batch_close(&b);
    telemetry_batch_close(&again);
    return 0;
}
