#include "platform/secret.hpp"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

#include "platform/secure_memory.hpp"

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
        data_ = static_cast<char*>(secure_alloc(size_));
        std::memcpy(data_, bytes.data(), size_);
    }
}

secret secret::take(std::string& s) {
    secret out(s);
    wipe(s);
    return out;
}

secret::secret(secret&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

secret& secret::operator=(secret&& o) noexcept {
    if (this != &o) {
        clear();
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

secret::~secret() {
    clear();
}

void secret::clear() noexcept {
    secure_free(data_, size_);  // wipes first
    data_ = nullptr;
    size_ = 0;
}

bool secret::equals(std::string_view other) const noexcept {
    if (other.size() != size_) {
        return false;
    }
    return size_ == 0 || CRYPTO_memcmp(data_, other.data(), size_) == 0;
}

bool secret::starts_with(std::string_view prefix) const noexcept {
    if (prefix.size() > size_) {
        return false;
    }
    return prefix.empty() || CRYPTO_memcmp(data_, prefix.data(), prefix.size()) == 0;
}

}  // namespace avn::platform
