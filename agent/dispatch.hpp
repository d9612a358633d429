// Maps request ops to their handlers and implements the agent's own ops
// (hello, status, shutdown). The session and token components register
// theirs here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/server.hpp"

namespace avn::agent {

/// A request's string argument, or nullptr when absent or not a string.
inline const boost::json::string* str_arg(const boost::json::object& a, std::string_view key) {
    const auto* v = a.if_contains(key);
    return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

class dispatcher {
  public:
    /// Answers at once, or returns nothing when the request must wait for I/O.
    using now_fn = std::function<std::optional<outcome>(protocol::request&, const client_info&)>;
    /// Answers, suspending as needed.
    using later_fn =
        std::function<asio::awaitable<outcome>(protocol::request&, const client_info&)>;

    explicit dispatcher(server& srv);

    /// Registers `op`; a later registration of the same name replaces it.
    /// `now` is tried first (it may be empty); `later` runs when it declines.
    void add(std::string op, now_fn now, later_fn later);
    /// An op that always waits for I/O.
    void add(std::string op, later_fn later) { add(std::move(op), nullptr, std::move(later)); }
    /// An op that always answers at once.
    void add_now(std::string op, std::function<outcome(protocol::request&, const client_info&)> f);
    /// Adds a member to every `status` reply (e.g. "session", "keyring"),
    /// built with the storage it is given.
    using section_fn = std::function<boost::json::value(const boost::json::storage_ptr&)>;
    void add_status_section(std::string name, section_fn f);

    /// The server's view of the dispatcher: unknown ops answer `unknown_op`.
    [[nodiscard]] request_handler handler();

    [[nodiscard]] std::vector<std::string> ops() const;

  private:
    struct entry {
        now_fn now;
        later_fn later;
    };
    std::optional<outcome> answer_now(protocol::request& req, const client_info& client);
    asio::awaitable<outcome> answer_later(protocol::request& req, const client_info& client);
    outcome hello() const;
    outcome status() const;
    outcome shutdown(const client_info& client);

    server& srv_;
    std::map<std::string, entry, std::less<>> handlers_;
    std::vector<std::pair<std::string, section_fn>> status_sections_;
    std::chrono::system_clock::time_point started_wall_ = std::chrono::system_clock::now();
};

}  // namespace avn::agent
