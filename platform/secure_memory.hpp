// Memory for secrets: a small arena locked into RAM (mlock, so tokens are not
// written to swap) and excluded from core dumps (MADV_DONTDUMP). When the
// arena is full or cannot be locked (RLIMIT_MEMLOCK), blocks come from the
// heap instead; either way they are wiped when freed.
#pragma once

#include <cstddef>

namespace avn::platform {

/// At least `n` bytes (n > 0), aligned for any char data. Thread-safe.
void* secure_alloc(std::size_t n);
/// Wipes `n` bytes at `p` and frees the block; `n` must be the size given
/// to secure_alloc. Null is ignored.
void secure_free(void* p, std::size_t n) noexcept;

struct secure_memory_stats {
    bool locked = false;          ///< the arena is mlock'ed
    std::size_t arena_bytes = 0;  ///< the arena's size (0 before first use)
    std::size_t in_use = 0;       ///< bytes of the arena in use
    std::size_t heap_blocks = 0;  ///< blocks that had to come from the heap
};
secure_memory_stats secure_memory_usage() noexcept;

}  // namespace avn::platform
