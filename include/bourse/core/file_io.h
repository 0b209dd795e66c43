// Small POSIX helpers shared by the journal and the snapshot store.
#pragma once

#include <cstddef>

namespace bourse {

// Writes all `n` bytes, retrying short writes and EINTR. False on any other
// error (errno is left set).
bool write_all(int fd, const void* data, std::size_t n);

}  // namespace bourse
