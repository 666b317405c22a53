/* raft/crc.c: the checksum libraft's copy uses must be libraft's own, bit
 * for bit (it is in every segment file and snapshot on disk), whatever the
 * length, the alignment and the value it continues from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/crc.h"

/* libraft 0.15's byteCrc32, one bit at a time. */
static unsigned crc_reference(const void *buf, size_t size, unsigned init)
{
    const uint8_t *p = buf;
    uint32_t crc = init;

    while (size-- > 0) {
        crc ^= (uint32_t)*p++ << 24;
        for (int k = 0; k < 8; k++) {
            crc =
                (crc & 0x80000000u) != 0 ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
        }
    }
    return crc;
}

static void same_values_as_libraft(void **state)
{
    uint8_t data[1100];
    uint32_t seed = 12345;

    (void)state;
    for (size_t i = 0; i < sizeof data; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    /* Every length up to 70 at every alignment up to 7, then long ones. */
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len <= 70; len++) {
            assert_int_equal(augur__raft_crc32(data + off, len, 0),
                             crc_reference(data + off, len, 0));
        }
    }
    assert_int_equal(augur__raft_crc32(data, sizeof data, 0),
                     crc_reference(data, sizeof data, 0));
    assert_int_equal(augur__raft_crc32(data + 3, 1027, 0xdeadbeefu),
                     crc_reference(data + 3, 1027, 0xdeadbeefu));
    /* "123456789", the usual check string: the reference's value, fixed
     * here so that a change to both would show. */
    assert_int_equal(augur__raft_crc32("123456789", 9, 0), 0x89A1897Fu);
}

/* libraft checksums a header and a body in two calls, the second
 * continuing from the first. */
static void continues_from_a_previous_value(void **state)
{
    uint8_t data[300];

    (void)state;
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7 + 3);
    }
    for (size_t cut = 0; cut <= sizeof data; cut += 13) {
        unsigned a = augur__raft_crc32(data, cut, 0);
        assert_int_equal(augur__raft_crc32(data + cut, sizeof data - cut, a),
                         augur__raft_crc32(data, sizeof data, 0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_values_as_libraft),
        cmocka_unit_test(continues_from_a_previous_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
