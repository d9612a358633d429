#include "protocol/buffer.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <cstring>

namespace avn::protocol {

void secure_wipe(void* p, std::size_t n) noexcept {
    if (p != nullptr && n != 0) {
        ::explicit_bzero(p, n);
    }
}

wiping_buffer::wiping_buffer(wiping_buffer&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_), capacity_(other.capacity_) {
    other.size_ = 0;
    other.capacity_ = 0;
}

wiping_buffer& wiping_buffer::operator=(wiping_buffer&& other) noexcept {
    if (this != &other) {
        clear();
        data_ = std::move(other.data_);
        size_ = other.size_;
        capacity_ = other.capacity_;
        other.size_ = 0;
        other.capacity_ = 0;
    }
    return *this;
}

wiping_buffer::~wiping_buffer() {
    clear();
}

void wiping_buffer::reserve(std::size_t n) {
    if (n <= capacity_) {
        return;
    }
    // Geometric growth keeps appends amortised O(1); the old block is wiped
    // before it goes back to the allocator.
    std::size_t cap = std::max<std::size_t>({n, capacity_ * 2, 256});
    auto fresh = std::make_unique_for_overwrite<char[]>(cap);
    if (size_ != 0) {
        std::memcpy(fresh.get(), data_.get(), size_);
    }
    secure_wipe(data_.get(), capacity_);
    data_ = std::move(fresh);
    capacity_ = cap;
}

void wiping_buffer::append(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    reserve(size_ + bytes.size());
    std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
}

void wiping_buffer::consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    if (n == 0) {
        return;
    }
    std::size_t rest = size_ - n;
    if (rest != 0) {
        std::memmove(data_.get(), data_.get() + n, rest);
    }
    secure_wipe(data_.get() + rest, n);
    size_ = rest;
}

void wiping_buffer::clear() noexcept {
    secure_wipe(data_.get(), capacity_);
    data_.reset();
    size_ = 0;
    capacity_ = 0;
}

}  // namespace avn::protocol
