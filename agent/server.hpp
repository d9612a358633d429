// The agent's socket server: accepts connections, checks the peer, frames
// requests and replies, enforces deadlines and caps. What a request means is
// the dispatcher's business (agent/dispatch.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "platform/unique_fd.hpp"
#include "protocol/wire.hpp"

namespace avn::agent {

namespace asio = boost::asio;

struct server_config {
    /// A connection that has no request in flight and sends nothing (or half
    /// a line) for this long is closed.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
    /// A reply that the peer does not read within this long closes it.
    std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};
    /// How long in-flight requests may run after a shutdown starts.
    std::chrono::milliseconds shutdown_grace{std::chrono::seconds(3)};
    std::size_t max_connections = 4096;
    std::size_t max_in_flight = 16;  ///< per connection
    /// Reply bytes a connection may have unread before it is no longer read.
    std::size_t max_reply_backlog = 1024 * 1024;
    protocol::limits limits;
};

/// Counters shown by `status`.
struct server_stats {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::uint64_t connections_served = 0;   ///< accepted and admitted
    std::uint64_t connections_refused = 0;  ///< wrong uid or over the cap
    std::uint64_t requests = 0;
    std::size_t connections_active = 0;
};

/// Who is on the other end of a connection (from SO_PEERCRED).
struct client_info {
    int pid = 0;  ///< the uid is always the agent's own: others are refused
    std::uint64_t connection_id = 0;
};

/// The result of one request: a `result` value or an `error`.
struct outcome {
    bool ok = true;
    boost::json::value result;
    protocol::error err;

    static outcome success(boost::json::value v) { return {true, std::move(v), {}}; }
    static outcome failure(protocol::errc code, std::string message) {
        return {false, nullptr, {code, std::move(message), std::nullopt, std::nullopt}};
    }
};

/// Handles decoded requests, on the server's executor. `now` answers at
/// once when it can do so without waiting (most requests do: hello, status,
/// a token that is fresh enough); when it returns nothing, the server runs
/// `later` as a coroutine, which may suspend. The split spares the common
/// request a coroutine frame and a trip through the scheduler.
struct request_handler {
    std::function<std::optional<outcome>(protocol::request&, const client_info&)> now;
    std::function<asio::awaitable<outcome>(protocol::request&, const client_info&)> later;
};

class connection;

class server {
  public:
    /// `listener` is a bound, listening Unix socket. `socket_path` is removed
    /// at shutdown when `owns_socket_file` (not under socket activation,
    /// where the service manager owns the file).
    server(asio::io_context& io, platform::unique_fd listener, std::string socket_path,
           bool owns_socket_file, server_config config);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void set_handler(request_handler h) { handler_ = std::move(h); }
    /// Called once when the server has stopped accepting (for sd_notify).
    void on_stopping(std::function<void()> f) { on_stopping_ = std::move(f); }

    /// Starts accepting and handling SIGTERM/SIGINT.
    void start();
    /// Graceful stop: no new connections, the socket file removed, idle
    /// connections closed, in-flight requests given `shutdown_grace`.
    void stop(const std::string& why);

    [[nodiscard]] const server_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const std::string& socket_path() const noexcept { return socket_path_; }
    [[nodiscard]] const server_config& config() const noexcept { return config_; }
    [[nodiscard]] asio::io_context::executor_type executor() const noexcept {
        return io_.get_executor();
    }

  private:
    friend class connection;
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> sweep_loop();
    void connection_closed(connection* c);
    void maybe_finish();
    void remove_socket_file();

    asio::io_context& io_;
    asio::local::stream_protocol::acceptor acceptor_;
    std::string socket_path_;
    bool owns_socket_file_;
    unsigned long socket_inode_ = 0;
    server_config config_;
    server_stats stats_;
    request_handler handler_;
    std::function<void()> on_stopping_;
    asio::signal_set signals_;
    asio::steady_timer grace_timer_;
    asio::steady_timer sweep_timer_;
    std::list<std::shared_ptr<connection>> connections_;
    bool stopping_ = false;
    std::uint64_t next_connection_id_ = 1;
};

}  // namespace avn::agent
