// A secret (password, OTP, token) in memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace avn::platform {

/// Move-only bytes that are wiped (OPENSSL_cleanse) when dropped, held in
/// locked memory where the limit allows (secure_memory.hpp). There is no
/// implicit conversion to a string and no stream operator: getting at the
/// bytes takes an explicit `expose()`, which is easy to grep for.
class secret {
  public:
    secret() = default;
    /// Copies `bytes`.
    explicit secret(std::string_view bytes);
    /// Takes the bytes of `s` and wipes `s`.
    static secret take(std::string& s);

    secret(const secret&) = delete;
    secret& operator=(const secret&) = delete;
    secret(secret&& o) noexcept;
    secret& operator=(secret&& o) noexcept;
    ~secret();

    /// An explicit copy.
    [[nodiscard]] secret clone() const { return secret(expose()); }
    [[nodiscard]] std::string_view expose() const noexcept { return {data_, size_}; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// Wipes and empties.
    void clear() noexcept;

    /// Constant-time comparison (CRYPTO_memcmp); only the lengths may leak.
    [[nodiscard]] bool equals(std::string_view other) const noexcept;
    [[nodiscard]] bool equals(const secret& other) const noexcept { return equals(other.expose()); }
    /// Constant-time prefix test; only the lengths may leak.
    [[nodiscard]] bool starts_with(std::string_view prefix) const noexcept;

  private:
    char* data_ = nullptr;  ///< from secure_alloc (locked memory when possible)
    std::size_t size_ = 0;
};

/// Wipes `n` bytes at `p` (OPENSSL_cleanse).
void wipe(void* p, std::size_t n) noexcept;
/// Wipes the characters of `s` and empties it.
void wipe(std::string& s) noexcept;

}  // namespace avn::platform
