#ifndef PUFA_CRC32C_H
#define PUFA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli), as used by iSCSI and ext4; crc starts at 0. */
uint32_t pufa_crc32c(uint32_t crc, const void *data, size_t len);

#endif
