/* raft/crc.c: libraft's entry checksum, faster (see there). */
#ifndef AUGUR_RAFT_CRC_H
#define AUGUR_RAFT_CRC_H

#include <stddef.h>

/* The CRC32 libraft 0.15's byteCrc32 computes of @size bytes at @buf,
 * continuing from @init (0 to start). */
unsigned augur__raft_crc32(const void *buf, size_t size, unsigned init);

#endif
