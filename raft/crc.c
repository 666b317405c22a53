/* The CRC32 of libraft's log segments, snapshots and messages, eight bytes
 * at a time.
 *
 * libraft 0.15 checksums every entry it writes, sends and loads with
 * byteCrc32: CRC-32 with polynomial 0x04C11DB7, most significant bit first,
 * no reflection, no final xor, one byte per table lookup.  On a loaded
 * leader that loop was 3-4% of the process's CPU.  The build's copy of
 * libraft.a calls augur__raft_crc32 instead (CMakeLists.txt: the symbol is
 * renamed and made weak there, so this definition wins), which computes the
 * same values with slicing-by-8 (eight tables, one lookup per byte but
 * eight independent ones per step).  The values must stay bit for bit
 * libraft's: they are in every segment file on disk.  raft_crc_test checks
 * them against the byte-wise loop. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "raft/crc.h"

#define CRC_POLY 0x04C11DB7u

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_tables_make(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i << 24;
        for (int k = 0; k < 8; k++) {
            c = (c & 0x80000000u) != 0 ? (c << 1) ^ CRC_POLY : c << 1;
        }
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = crc_table[t - 1][i];
            crc_table[t][i] = (c << 8) ^ crc_table[0][c >> 24];
        }
    }
}

unsigned augur__raft_crc32(const void *buf, size_t size, unsigned init)
{
    const uint8_t *p = buf;
    uint32_t crc = init;

    pthread_once(&crc_once, crc_tables_make);
    while (size >= 8) {
        uint32_t hi = crc ^ ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                             (uint32_t)p[2] << 8 | (uint32_t)p[3]);
        crc = crc_table[7][hi >> 24] ^ crc_table[6][(hi >> 16) & 255] ^
              crc_table[5][(hi >> 8) & 255] ^ crc_table[4][hi & 255] ^
              crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
              crc_table[0][p[7]];
        p += 8;
        size -= 8;
    }
    while (size-- > 0) {
        crc = (crc << 8) ^ crc_table[0][((crc >> 24) ^ *p++) & 255];
    }
    return crc;
}
