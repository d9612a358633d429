#include "platform/secure_memory.hpp"

#include <sys/mman.h>

#include <array>
#include <bitset>
#include <cstdlib>
#include <mutex>
#include <new>

#include "platform/secret.hpp"

namespace avn::platform {

namespace {

// 64 KiB in 64-byte cells: room for a few hundred tokens, well under the
// 8 MiB RLIMIT_MEMLOCK that unprivileged users get.
constexpr std::size_t cell = 64;
constexpr std::size_t cells = 1024;
constexpr std::size_t arena_size = cell * cells;

class arena {
  public:
    void* alloc(std::size_t n) {
        std::lock_guard lock(mu_);
        if (!init()) {
            return nullptr;
        }
        const std::size_t need = (n + cell - 1) / cell;
        std::size_t run = 0;
        for (std::size_t i = 0; i < cells; ++i) {
            run = used_[i] ? 0 : run + 1;
            if (run == need) {
                const std::size_t first = i + 1 - need;
                for (std::size_t j = first; j <= i; ++j) {
                    used_[j] = true;
                }
                in_use_ += need * cell;
                return base_ + first * cell;
            }
        }
        return nullptr;
    }

    bool owns(const void* p) const noexcept {
        const auto* c = static_cast<const char*>(p);
        return base_ != nullptr && c >= base_ && c < base_ + arena_size;
    }

    void release(void* p, std::size_t n) noexcept {
        std::lock_guard lock(mu_);
        const std::size_t first = static_cast<std::size_t>(static_cast<char*>(p) - base_) / cell;
        const std::size_t count = (n + cell - 1) / cell;
        for (std::size_t j = first; j < first + count && j < cells; ++j) {
            used_[j] = false;
        }
        in_use_ -= count * cell;
    }

    secure_memory_stats stats() noexcept {
        std::lock_guard lock(mu_);
        return {locked_, base_ != nullptr ? arena_size : 0, in_use_, heap_blocks_};
    }

    void count_heap_block() noexcept {
        std::lock_guard lock(mu_);
        ++heap_blocks_;
    }

  private:
    bool init() {
        if (base_ != nullptr) {
            return true;
        }
        if (failed_) {
            return false;
        }
        void* p =
            ::mmap(nullptr, arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            failed_ = true;
            return false;
        }
        // Without the lock the arena still keeps secrets out of core dumps;
        // status shows whether the lock held.
        locked_ = ::mlock(p, arena_size) == 0;
        ::madvise(p, arena_size, MADV_DONTDUMP);
        base_ = static_cast<char*>(p);
        return true;
    }

    std::mutex mu_;
    char* base_ = nullptr;
    bool failed_ = false;
    bool locked_ = false;
    std::bitset<cells> used_;
    std::size_t in_use_ = 0;
    std::size_t heap_blocks_ = 0;
};

arena& the_arena() {
    // Never destroyed: secrets in static objects may be freed after main.
    static arena* a = new arena();
    return *a;
}

}  // namespace

void* secure_alloc(std::size_t n) {
    if (void* p = the_arena().alloc(n)) {
        return p;
    }
    the_arena().count_heap_block();
    void* p = std::malloc(n);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    return p;
}

void secure_free(void* p, std::size_t n) noexcept {
    if (p == nullptr) {
        return;
    }
    wipe(p, n);
    if (the_arena().owns(p)) {
        the_arena().release(p, n);
    } else {
        std::free(p);
    }
}

secure_memory_stats secure_memory_usage() noexcept {
    return the_arena().stats();
}

}  // namespace avn::platform
