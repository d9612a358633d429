#include "platform/secret.hpp"

#ifndef AVN_NO_OPENSSL
#include <openssl/crypto.h>
#endif
#include <string.h>  // explicit_bzero

#include <cstring>
#include <utility>

#include "platform/secure_memory.hpp"

namespace avn::platform {

namespace {

// The agent uses OpenSSL's primitives; the command-line clients, which
// link no OpenSSL (it would cost them a millisecond of start-up), use
// glibc's explicit_bzero and a comparison that reads every byte.
int constant_time_compare(const void* a, const void* b, std::size_t n) noexcept {
#ifdef AVN_NO_OPENSSL
    const auto* x = static_cast<const volatile unsigned char*>(a);
    const auto* y = static_cast<const volatile unsigned char*>(b);
    unsigned char diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
        diff = static_cast<unsigned char>(diff | (x[i] ^ y[i]));
    }
    return diff;
#else
    return CRYPTO_memcmp(a, b, n);
#endif
}

}  // namespace

void wipe(void* p, std::size_t n) noexcept {
    if (p != nullptr && n != 0) {
#ifdef AVN_NO_OPENSSL
        ::explicit_bzero(p, n);
#else
        OPENSSL_cleanse(p, n);
#endif
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
    return size_ == 0 || constant_time_compare(data_, other.data(), size_) == 0;
}

bool secret::starts_with(std::string_view prefix) const noexcept {
    if (prefix.size() > size_) {
        return false;
    }
    return prefix.empty() || constant_time_compare(data_, prefix.data(), prefix.size()) == 0;
}

}  // namespace avn::platform
