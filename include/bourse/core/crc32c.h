// CRC-32C (Castagnoli), as used by iSCSI, ext4 and leveldb. Uses the SSE4.2
// instruction when the CPU has it, a table otherwise; both are tested against
// the RFC 3720 vectors.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bourse {

// Extends `crc` (0 to start) over `n` bytes.
uint32_t crc32c_extend(uint32_t crc, const void* data, std::size_t n);
inline uint32_t crc32c(const void* data, std::size_t n) { return crc32c_extend(0, data, n); }
// The portable table implementation, exposed for tests.
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, std::size_t n);

}  // namespace bourse
