// A byte buffer for data that may hold secrets (request lines carry passwords
// and replies carry tokens). Storage is wiped before it is released or
// reallocated, and when bytes are consumed, so no stale copy is left behind.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string_view>

namespace avn::protocol {

/// Overwrites `n` bytes at `p` with zeros in a way the compiler keeps.
void secure_wipe(void* p, std::size_t n) noexcept;

class wiping_buffer {
  public:
    wiping_buffer() = default;
    wiping_buffer(const wiping_buffer&) = delete;
    wiping_buffer& operator=(const wiping_buffer&) = delete;
    wiping_buffer(wiping_buffer&& other) noexcept;
    wiping_buffer& operator=(wiping_buffer&& other) noexcept;
    ~wiping_buffer();

    /// Appends bytes, growing the storage (old storage is wiped, then freed).
    void append(std::string_view bytes);
    void push_back(char c) { append(std::string_view(&c, 1)); }
    /// Makes room for at least `n` more bytes and returns where they go;
    /// `commit` then adds the bytes actually written there.
    char* prepare(std::size_t n) {
        reserve(size_ + n);
        return data_.get() + size_;
    }
    void commit(std::size_t n) noexcept { size_ += std::min(n, capacity_ - size_); }
    /// Removes the first `n` bytes; the vacated tail is wiped.
    void consume(std::size_t n) noexcept;
    /// Wipes the contents and releases the storage.
    void clear() noexcept;

    [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] const char* data() const noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  private:
    void reserve(std::size_t n);

    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace avn::protocol
