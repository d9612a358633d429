// The `avn user` commands as agent ops (docs/PROTOCOL.md, "Session ops"):
// each one calls the Aiven API and keeps the session up to date.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <functional>

#include "agent/api_client.hpp"
#include "agent/dispatch.hpp"
#include "agent/session.hpp"

namespace avn::agent {

class session_ops {
  public:
    session_ops(api::client& api, session_manager& sessions) : api_(api), sessions_(sessions) {}

    /// The token a request runs with, owned for the request's duration (the
    /// session may change while the request waits for the API).
    struct credentials {
        platform::secret token;
        bool is_session = false;
    };

    /// Called by `logout` before the session's token is revoked (derived
    /// tokens are revoked with it).
    std::function<asio::awaitable<void>()> before_logout;

    /// Registers the ops and the `session` section of `status`.
    void register_with(dispatcher& d);

    /// Asks the API about the session token (`GET /v1/access_token`, the row
    /// with `currently_active`). Failures are logged, not fatal.
    asio::awaitable<void> refresh_meta();

    /// At start: loads the session an earlier run stored and checks it with
    /// the API. A 401/403 means it is gone: it is cleared and `status` says
    /// so. A network failure keeps it (checked again on next use).
    asio::awaitable<void> restore();
    /// The first half of restore(): reads the store only. The agent runs it
    /// before it announces itself, so no command sees a session still
    /// being read as "not logged in".
    asio::awaitable<void> load_stored();
    /// The second half: asks the API about the loaded session.
    asio::awaitable<void> check_restored();

  private:
    using args_t = boost::json::object;

    /// Takes the session's row (`currently_active`) from a `GET
    /// /v1/access_token` listing made with `token`.
    asio::awaitable<void> apply_meta(const platform::secret& token,
                                     const boost::json::value& listing);

    asio::awaitable<outcome> login(const args_t& a);
    asio::awaitable<outcome> login_token(const args_t& a);
    asio::awaitable<outcome> logout(const args_t& a);
    asio::awaitable<outcome> user_info(const args_t& a);
    asio::awaitable<outcome> tokens_expire(const args_t& a);
    asio::awaitable<outcome> password_change(const args_t& a);
    asio::awaitable<outcome> user_create(const args_t& a);
    asio::awaitable<outcome> access_token_create(const args_t& a);
    asio::awaitable<outcome> access_token_list(const args_t& a);
    asio::awaitable<outcome> access_token_update(const args_t& a);
    asio::awaitable<outcome> access_token_revoke(const args_t& a);

    /// The request's `auth_token`, else the session's token (retrying a
    /// restore that failed at start first); an error reply when neither.
    asio::awaitable<std::optional<outcome>> credentials_for(const args_t& a, credentials& c);
    /// Sends one request with the request's credentials and answers the
    /// API's body (or the failure, ending a dead session).
    asio::awaitable<outcome> forward(const args_t& a, boost::beast::http::verb method,
                                     std::string path, const boost::json::value* body);
    /// Keeps `token` for `email` as the session and learns its metadata.
    asio::awaitable<outcome> start_session(std::string email, platform::secret token);
    /// After a call that may have invalidated the session's token: checks it
    /// and clears the session when the API no longer accepts it.
    asio::awaitable<bool> drop_session_if_dead(const std::string& why);
    /// The reply to an API failure. When the request ran with the session's
    /// token and the API answered 401 (or 403, unless `forbidden_means_dead`
    /// is false: a wrong current password is also a 403), the session is
    /// dead: it is cleared and `status` says why.
    asio::awaitable<outcome> rejected(bool with_session, const api::error& e,
                                      bool forbidden_means_dead);

    api::client& api_;
    session_manager& sessions_;
};

/// Maps an API client failure to the reply a client sees.
outcome api_failure(const api::error& e);

}  // namespace avn::agent
