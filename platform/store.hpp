// Where the agent keeps secrets between restarts: the interface every
// keyring backend implements, and the in-memory backend.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "platform/result.hpp"
#include "platform/secret.hpp"

namespace avn::platform {

/// The non-secret identity of a stored item. These fields are visible to
/// anyone who can list the store (e.g. `secret-tool search`), so they hold
/// identifiers only: never a token or a password.
struct store_key {
    std::string api_url;  ///< the Aiven API the item belongs to
    std::string kind;     ///< "session" or "token"
    std::string name;     ///< "" for the session; the token's name otherwise
    std::string account;  ///< the user's email (informational; not part of the identity)

    /// Items are identified by (api_url, kind, name).
    [[nodiscard]] bool same_item(const store_key& o) const noexcept {
        return api_url == o.api_url && kind == o.kind && name == o.name;
    }
};

/// Why a store call failed. `locked` is told apart from "not found" (which is
/// not an error: `get` answers nullopt) so the agent never mistakes a locked
/// keyring for a logged-out user.
enum class store_errc : unsigned char {
    unavailable,  ///< no backend answers (no D-Bus session, no Secret Service)
    locked,       ///< the collection is locked; unlocking it is the user's move
    timeout,      ///< the backend did not answer within its deadline
    denied,       ///< permissions (e.g. a store file open to others)
    io,           ///< any other failure reading or writing
    corrupt,      ///< stored data that cannot be parsed
};

struct store_error {
    store_errc code = store_errc::io;
    std::string message;  ///< one line: what failed and, where there is one, the fix
};

[[noreturn]] inline void throw_exception_from_error(const store_error& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.message);
}

template <class T>
using store_result = boost::system::result<T, store_error>;

/// A backend. Calls may block (a keyring over D-Bus): the agent runs them off
/// its event loop. Implementations are safe to call from one thread at a time.
class secret_store {
  public:
    virtual ~secret_store() = default;
    /// "memory", "file" or "secret-service".
    [[nodiscard]] virtual std::string_view backend() const noexcept = 0;
    /// Stores `payload` under `key`, replacing an existing item.
    virtual store_result<void> put(const store_key& key, const secret& payload) = 0;
    /// The payload under `key`; nullopt when there is none.
    virtual store_result<std::optional<secret>> get(const store_key& key) = 0;
    /// Removes the item; removing a missing item is not an error.
    virtual store_result<void> erase(const store_key& key) = 0;
    /// Every item this agent stored (all API URLs).
    virtual store_result<std::vector<store_key>> list() = 0;
};

/// Nothing persists: the items live as long as the process.
std::unique_ptr<secret_store> make_memory_store();

}  // namespace avn::platform
