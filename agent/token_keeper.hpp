// Keeps tokens alive: the session token and the derived tokens handed to
// tools (`token --name`). Lifetimes are judged on the API server's clock
// (its Date header); timers run on the monotonic clock. Extensions happen in
// the background, never on a client's request path, unless a client asks
// for more remaining life than a token has; concurrent requests that need
// the same refresh share one API call.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/api_client.hpp"
#include "agent/dispatch.hpp"
#include "agent/iso8601.hpp"
#include "agent/session.hpp"
#include "agent/store_runner.hpp"

namespace avn::agent {

using steady_time = std::chrono::steady_clock::time_point;

/// The API server's clock, as seen through Date headers, advanced by the
/// monotonic clock in between. A local clock that is off or jumps changes
/// nothing. Tests may shift the monotonic clock (`advance`).
class server_clock {
  public:
    [[nodiscard]] steady_time steady_now() const;
    [[nodiscard]] sys_time now() const;
    void observe(std::optional<sys_time> server_date);
    void advance(std::chrono::seconds s) { offset_ += s; }

  private:
    std::chrono::steady_clock::duration offset_{};
    std::optional<sys_time> server_anchor_;
    steady_time steady_anchor_{};
};

struct keeper_config {
    /// Extend once remaining life falls under this share of the max age.
    double extend_at = 1.0 / 3.0;
    std::chrono::seconds backoff_min{1};
    std::chrono::seconds backoff_max{300};
    /// When the session's expiry is unknown, how soon to ask the API again.
    std::chrono::seconds meta_retry{30};
    /// Max age of a derived token when the client names none.
    std::int64_t default_max_age = 3600;
    /// Accept `debug_advance_clock` (tests only).
    bool test_clock = false;
};

class token_keeper {
  public:
    token_keeper(asio::any_io_executor ex, api::client& api, session_manager& sessions,
                 store_runner& store, keeper_config cfg);

    /// Registers `token`, `token_check` (and `debug_advance_clock` when
    /// enabled) and the `tokens` section of `status`.
    void register_with(dispatcher& d);
    /// Starts the background scheduler.
    void start();
    /// Loads derived tokens an earlier run stored.
    asio::awaitable<void> load_stored();
    /// Logout: revokes every derived token and forgets them (store too).
    asio::awaitable<void> revoke_all();
    /// The session ended: forget the derived tokens (they were the user's).
    asio::awaitable<void> forget_all();
    /// Something (a login, a response) changed the session: re-plan.
    void kick();

  private:
    struct in_flight;
    struct kept {
        std::string name;  ///< "" for the session
        platform::secret token;
        std::string prefix;
        std::optional<sys_time> expiry;  ///< server time; none: never expires
        std::int64_t max_age = 0;        ///< seconds; 0: unknown or none
        bool extend_when_used = false;
        boost::json::value scopes;  ///< derived: as created (null: none)
        std::optional<sys_time> last_extended;
        std::optional<steady_time> next_check;
        std::optional<steady_time> last_requested;
        int failures = 0;
        std::string last_error;
        bool meta_known = true;  ///< session: the API has told its expiry
        std::shared_ptr<in_flight> refreshing;
    };

    /// What a `token` request needs next: its answer, or an API step first.
    struct token_step {
        std::optional<outcome> answer;
        enum class action { none, create, rotate, refresh } act = action::none;
        std::string name;
        std::int64_t max_age = 0;
        boost::json::value scopes;
    };
    token_step next_token_step(const boost::json::object& a, bool created, bool refreshed);
    std::optional<outcome> token_now(const boost::json::object& a);
    asio::awaitable<outcome> token_op(const boost::json::object& a);
    asio::awaitable<outcome> token_check_op(const boost::json::object& a);
    asio::awaitable<void> run_scheduler();
    /// Extends (or lets expire) every token whose planned time has come.
    asio::awaitable<void> run_due();

    /// The session's entry, rebuilt when the session changed.
    kept* session_entry();
    /// Extends `k` now (shared by concurrent callers). True on success.
    asio::awaitable<bool> refresh(std::string name);
    asio::awaitable<bool> do_refresh(const std::string& name);
    /// Creates (or replaces) the derived token `name` (shared).
    asio::awaitable<outcome> create_derived(std::string name, std::int64_t max_age,
                                            boost::json::value scopes);
    void plan(kept& k);
    void apply_row(kept& k, const boost::json::object& row);
    asio::awaitable<void> persist(const kept& k);
    asio::awaitable<void> erase_stored(const std::string& name);
    kept* find(const std::string& name);
    [[nodiscard]] std::vector<std::string> derived_names() const;
    /// Revokes every derived token (with `with`, else with itself) and
    /// forgets it, store included.
    asio::awaitable<void> drop_derived(const platform::secret* with);
    [[nodiscard]] boost::json::value status(const boost::json::storage_ptr& sp) const;
    [[nodiscard]] std::chrono::seconds backoff(int failures);

    asio::any_io_executor ex_;
    api::client& api_;
    session_manager& sessions_;
    store_runner& store_;
    keeper_config cfg_;
    server_clock clock_;
    asio::steady_timer wake_;
    std::map<std::string, kept> tokens_;  ///< "" is the session
    std::map<std::string, std::shared_ptr<in_flight>> creating_;
    std::minstd_rand rng_;
    std::string owner_;  ///< whose derived tokens these are
    bool started_ = false;
};

}  // namespace avn::agent
