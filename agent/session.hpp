// The user's Aiven session as the agent holds it: who is logged in, the
// session token and what the API says about it. Written through to a
// secret_store before any reply that depends on it.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "agent/store_runner.hpp"
#include "platform/secret.hpp"
#include "platform/store.hpp"
#include "protocol/wire.hpp"

namespace avn::agent {

/// The error code a keyring failure is answered with.
inline protocol::errc keyring_errc(const platform::store_error& e) {
    return e.code == platform::store_errc::locked ? protocol::errc::keyring_locked
                                                  : protocol::errc::keyring_error;
}

/// What every op that needs a session says without one (avn's own words).
inline constexpr const char* not_logged_in_message =
    "not authenticated: please login first with 'avn user login'";

/// What the API reports for a token (`GET /v1/access_token`).
struct token_meta {
    std::string token_prefix;
    boost::json::value expiry_time;      ///< string, or null: never expires / unknown
    boost::json::value max_age_seconds;  ///< number as the API sent it, or null
    bool extend_when_used = false;
    bool known = false;  ///< false until the API was asked
};

struct session {
    std::string email;
    platform::secret token;
    token_meta meta;
    std::chrono::system_clock::time_point logged_in_at = std::chrono::system_clock::now();
};

class session_manager {
  public:
    session_manager(std::string api_url, store_runner& store)
        : api_url_(std::move(api_url)), store_(store) {}

    /// Called after every change of the session (login, logout, cleared).
    std::function<void()> on_change;

    /// The session, or null when logged out.
    [[nodiscard]] const session* current() const noexcept {
        return current_ ? &*current_ : nullptr;
    }
    [[nodiscard]] const std::string& api_url() const noexcept { return api_url_; }
    [[nodiscard]] std::string_view store_backend() const noexcept { return store_.backend(); }

    /// Keeps `s` as the session: the store first, then memory, so a reply
    /// sent after this returns is backed by the store.
    asio::awaitable<platform::store_result<void>> adopt(session s);
    /// Updates the metadata of the current session (and the store), unless
    /// the session changed meanwhile (its token is no longer `token`).
    asio::awaitable<platform::store_result<void>> update_meta(const platform::secret& token,
                                                              token_meta meta);
    /// Forgets the session, in the store and in memory. `why` is shown by
    /// `status` until the next login.
    asio::awaitable<platform::store_result<void>> clear(std::string why);
    /// Loads a session left in the store by an earlier run, if any.
    asio::awaitable<platform::store_result<void>> restore();
    /// Why the last restore from the store failed; empty once one succeeded.
    [[nodiscard]] const std::optional<platform::store_error>& restore_error() const noexcept {
        return restore_error_;
    }
    /// Why the session was cleared last ("" when it was not).
    [[nodiscard]] const std::string& cleared_why() const noexcept { return cleared_why_; }

    /// The `session` section of `status`. No secret in it.
    [[nodiscard]] boost::json::value status(const boost::json::storage_ptr& sp) const;

  private:
    platform::store_key key(const std::string& email) const;

    std::string api_url_;
    store_runner& store_;
    std::optional<session> current_;
    std::string cleared_why_;
    std::optional<platform::store_error> restore_error_;
};

/// The stored form of a session (a secret: it holds the token).
platform::secret encode_session(const session& s);
/// Parses `encode_session`'s output; nullopt when it is not one.
std::optional<session> decode_session(const platform::secret& payload);

}  // namespace avn::agent
