#include "platform/secret.hpp"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace avn::platform {

void wipe(void* p, std::size_t n) noexcept {
    if (p != nullptr && n != 0) {
        OPENSSL_cleanse(p, n);
    }
}

void wipe(std::string& s) noexcept {
    // Wipe the whole capacity: a shorter string may sit on older bytes.
    s.resize(s.capacity());
    wipe(s.data(), s.size());
    s.clear();
}

secret::secret(std::string_view bytes) : size_(bytes.size()) {
    if (size_ != 0) {
        data_ = std::make_unique_for_overwrite<char[]>(size_);
        std::memcpy(data_.get(), bytes.data(), size_);
    }
}

secret secret::take(std::string& s) {
    secret out(s);
    wipe(s);
    return out;
}

secret::secret(secret&& o) noexcept : data_(std::move(o.data_)), size_(std::exchange(o.size_, 0)) {}

secret& secret::operator=(secret&& o) noexcept {
    if (this != &o) {
        clear();
        data_ = std::move(o.data_);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

secret::~secret() {
    clear();
}

void secret::clear() noexcept {
    wipe(data_.get(), size_);
    data_.reset();
    size_ = 0;
}

bool secret::equals(std::string_view other) const noexcept {
    if (other.size() != size_) {
        return false;
    }
    return size_ == 0 || CRYPTO_memcmp(data_.get(), other.data(), size_) == 0;
}

bool secret::starts_with(std::string_view prefix) const noexcept {
    if (prefix.size() > size_) {
        return false;
    }
    return prefix.empty() || CRYPTO_memcmp(data_.get(), prefix.data(), prefix.size()) == 0;
}

}  // namespace avn::platform
