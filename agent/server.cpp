#include "agent/server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <csignal>

#include "agent/log.hpp"
#include "platform/secret.hpp"
#include "platform/unix_socket.hpp"
#include "protocol/codec.hpp"

namespace avn::agent {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string describe(const client_info& c) {
    return "connection " + std::to_string(c.connection_id) + " (pid " + std::to_string(c.pid) + ")";
}

}  // namespace

// One client connection. Owned by shared_ptr: the server's list, the reader,
// the writer and each running handler hold a reference.
class connection : public std::enable_shared_from_this<connection> {
  public:
    connection(server& srv, asio::local::stream_protocol::socket sock, client_info info)
        : srv_(srv),
          sock_(std::move(sock)),
          info_(info),
          decoder_(srv.config_.limits),
          slot_timer_(sock_.get_executor()) {}

    void start() {
        sock_.non_blocking(true);
        asio::co_spawn(sock_.get_executor(), read_loop(), asio::detached);
    }

    /// Shutdown: close now when idle, otherwise after the in-flight work.
    void finish_soon() {
        closing_ = true;
        if (in_flight_ == 0 && !writing_ && pending_.empty()) {
            close();
        }
    }

    void close() {
        if (closed_) {
            return;
        }
        closed_ = true;
        auto keep = shared_from_this();  // the server's list may hold the last reference
        boost::system::error_code ignored;
        sock_.close(ignored);
        slot_timer_.cancel();
        pending_.clear();
        srv_.connection_closed(this);
    }

    /// Closes the connection when a deadline has passed: idle (no request
    /// in flight, nothing to write) or a reply the peer does not read.
    /// Deadlines are checked by the server's sweep rather than by a timer
    /// per read and per reply, which would cost system calls on every
    /// request.
    void sweep(std::chrono::steady_clock::time_point now) {
        const auto& cfg = srv_.config_;
        const char* what = nullptr;
        if (writing_ && now - write_started_ > cfg.write_timeout) {
            what = "reply not read";
        } else if (in_flight_ == 0 && !writing_ && now - last_activity_ > cfg.idle_timeout) {
            what = "idle";
        }
        if (what != nullptr) {
            log_info(describe(info_) + ": closed, deadline passed (" + what + ")");
            close();
        }
    }

    std::list<std::shared_ptr<connection>>::iterator self_in_list;

  private:
    asio::awaitable<void> read_loop() {
        auto self = shared_from_this();
        const auto& cfg = srv_.config_;
        while (!closed_) {
            drain_decoder();
            if (closing_ || closed_) {
                break;
            }
            if (in_flight_ >= cfg.max_in_flight || backlogged()) {
                // Back-pressure: stop reading until a request completes or
                // the peer has read enough of its replies.
                slot_timer_.expires_at(asio::steady_timer::time_point::max());
                co_await slot_timer_.async_wait(use_tuple);
                continue;
            }
            if (peer_done_) {
                break;  // every whole line has been handed out
            }
            if (in_flight_ == 0) {
                touch();  // silence from here on counts toward the idle deadline
            }
            // A read, not a wait for readability: Asio re-arms a wait with an
            // epoll_ctl each time, while a read costs one speculative read
            // that finds the socket empty.
            auto [ec, n] = co_await sock_.async_read_some(asio::buffer(inbox_), use_tuple);
            if (closed_) {
                break;
            }
            if (ec || n == 0) {
                // The peer is done sending; what it sent is still answered,
                // waiting for slots and for it to read, as above.
                peer_done_ = true;
                continue;
            }
            touch();
            decoder_.feed(std::string_view(inbox_.data(), n));
            platform::wipe(inbox_.data(), n);
        }
        if (peer_done_ && !closed_ && !closing_ && !decoder_.failed()) {
            if (decoder_.buffered() != 0) {
                // The peer half-closed in the middle of a line.
                queue_error(nullptr, protocol::error{protocol::errc::bad_json,
                                                     "request ended without a newline (truncated)",
                                                     std::nullopt, std::nullopt});
            }
        }
        closing_ = true;
        maybe_close();
    }

    // Decodes what has arrived and answers it: requests that can be answered
    // at once are, in order, and their replies leave in one write; the others
    // run as coroutines and reply when done.
    void drain_decoder() {
        while (!closing_ && !closed_ && in_flight_ < srv_.config_.max_in_flight && !backlogged()) {
            auto r = decoder_.next();
            if (r.what == protocol::decode_result::kind::need_more) {
                break;
            }
            if (r.what == protocol::decode_result::kind::request) {
                ++srv_.stats_.requests;
                if (auto out = answer_now(r.req)) {
                    queue_reply(r.req.id, *out);
                    continue;
                }
                ++in_flight_;
                asio::co_spawn(sock_.get_executor(), handle(std::move(r.req)), asio::detached);
                continue;
            }
            log_debug(describe(info_) + ": " + std::string(protocol::to_string(r.err.code)) + ": " +
                      r.err.message);
            protocol::encode_error(pending_, r.id, r.err);
            if (r.fatal) {
                closing_ = true;
            }
        }
        kick_writer();
    }

    // Never reached once a stop began: stop() marks every connection
    // closing, and nothing more is decoded then.
    std::optional<outcome> answer_now(protocol::request& req) {
        try {
            return srv_.handler_.now(req, info_);
        } catch (const std::exception& e) {
            return failed(req, e);
        }
    }

    outcome failed(const protocol::request& req, const std::exception& e) {
        log_error(describe(info_) + ": request '" + req.op + "' failed: " + e.what());
        return outcome::failure(protocol::errc::internal,
                                "internal error in the agent; see its log");
    }

    asio::awaitable<void> handle(protocol::request req) {
        auto self = shared_from_this();
        outcome out;
        try {
            out = co_await srv_.handler_.later(req, info_);
        } catch (const std::exception& e) {
            out = failed(req, e);
        }
        if (!closed_) {
            queue_reply(req.id, out);
            kick_writer();
        }
        --in_flight_;
        slot_timer_.cancel();
        if (in_flight_ == 0) {
            touch();
        }
        maybe_close();
    }

    void queue_reply(const boost::json::value& id, const outcome& out) {
        if (out.ok) {
            protocol::encode_result(pending_, id, out.result);
        } else {
            protocol::encode_error(pending_, id, out.err);
        }
    }

    void queue_error(const boost::json::value& id, const protocol::error& err) {
        protocol::encode_error(pending_, id, err);
        kick_writer();
    }

    void kick_writer() {
        if (writing_ || closed_ || pending_.empty()) {
            return;
        }
        // Most replies fit the socket buffer: write them at once, without
        // a coroutine or a deadline timer; only the rest waits for
        // writability.
        boost::system::error_code ec;
        const std::size_t n = sock_.write_some(asio::buffer(pending_.data(), pending_.size()), ec);
        if (!ec) {
            pending_.consume(n);
        } else if (ec != asio::error::would_block && ec != asio::error::try_again) {
            log_debug(describe(info_) + ": write failed: " + ec.message());
            close();
            return;
        }
        if (!pending_.empty()) {
            writing_ = true;
            asio::co_spawn(sock_.get_executor(), write_loop(), asio::detached);
        }
    }

    asio::awaitable<void> write_loop() {
        auto self = shared_from_this();
        while (!pending_.empty() && !closed_) {
            std::swap(sending_, pending_);
            write_started_ = std::chrono::steady_clock::now();
            auto [ec, n] = co_await asio::async_write(
                sock_, asio::buffer(sending_.data(), sending_.size()), use_tuple);
            sending_.consume(sending_.size());
            slot_timer_.cancel();  // the reader may be waiting for the backlog to drain
            if (ec) {
                log_debug(describe(info_) + ": write failed: " + ec.message());
                close();
                break;
            }
        }
        writing_ = false;
        maybe_close();
    }

    void maybe_close() {
        if (closing_ && in_flight_ == 0 && !writing_ && pending_.empty()) {
            close();
        }
    }

    void touch() { last_activity_ = std::chrono::steady_clock::now(); }

    /// Replies the peer has not read yet are capped: a client that keeps
    /// sending without reading is no longer read from (and then times out
    /// on its replies) instead of growing the agent's memory.
    [[nodiscard]] bool backlogged() const noexcept {
        return pending_.size() + sending_.size() > srv_.config_.max_reply_backlog;
    }

    server& srv_;
    asio::local::stream_protocol::socket sock_;
    client_info info_;
    protocol::frame_decoder decoder_;
    // Small, because every idle connection has one: a request line is mostly
    // under 200 bytes, and a longer one arrives in several reads.
    std::array<char, 512> inbox_;
    protocol::wiping_buffer pending_;
    protocol::wiping_buffer sending_;
    asio::steady_timer slot_timer_;
    std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point write_started_{};
    std::size_t in_flight_ = 0;
    bool writing_ = false;
    bool peer_done_ = false;
    bool closing_ = false;
    bool closed_ = false;
};

server::server(asio::io_context& io, platform::unique_fd listener, std::string socket_path,
               bool owns_socket_file, server_config config)
    : io_(io),
      acceptor_(io),
      socket_path_(std::move(socket_path)),
      owns_socket_file_(owns_socket_file),
      config_(config),
      signals_(io, SIGTERM, SIGINT),
      grace_timer_(io),
      sweep_timer_(io) {
    acceptor_.assign(asio::local::stream_protocol(), listener.release());
    struct stat st {};
    if (owns_socket_file_ && ::lstat(socket_path_.c_str(), &st) == 0) {
        socket_inode_ = st.st_ino;
    }
}

server::~server() {
    for (auto& c : std::list(connections_)) {
        c->close();
    }
}

asio::awaitable<void> server::sweep_loop() {
    using namespace std::chrono;
    const auto period = std::clamp(
        duration_cast<milliseconds>(std::min(config_.idle_timeout, config_.write_timeout) / 4),
        milliseconds(50), milliseconds(1000));
    while (!stopping_) {
        sweep_timer_.expires_after(period);
        auto [ec] = co_await sweep_timer_.async_wait(use_tuple);
        if (ec || stopping_) {
            co_return;
        }
        const auto now = steady_clock::now();
        for (auto it = connections_.begin(); it != connections_.end();) {
            auto c = *it++;  // sweep() may erase c from the list
            c->sweep(now);
        }
    }
}

void server::start() {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    asio::co_spawn(io_, sweep_loop(), asio::detached);
    signals_.async_wait([this](boost::system::error_code ec, int signo) {
        if (!ec) {
            stop(signo == SIGTERM ? "SIGTERM received" : "SIGINT received");
        }
    });
}

asio::awaitable<void> server::accept_loop() {
    asio::steady_timer backoff(io_);
    while (!stopping_) {
        auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
        if (stopping_) {
            co_return;
        }
        if (ec) {
            if (ec == asio::error::operation_aborted) {
                co_return;
            }
            // Out of descriptors: wait a little instead of spinning.
            log_warning("accept failed: " + ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        auto cred = platform::peer_of(sock.native_handle());
        if (!cred) {
            ++stats_.connections_refused;
            log_warning("refused a connection: " + cred.error().message);
            continue;
        }
        if (cred->uid != ::geteuid()) {
            ++stats_.connections_refused;
            log_warning("refused a connection from uid " + std::to_string(cred->uid) + " (pid " +
                        std::to_string(cred->pid) + "): only uid " + std::to_string(::geteuid()) +
                        " may use this agent");
            continue;
        }
        if (connections_.size() >= config_.max_connections) {
            ++stats_.connections_refused;
            log_warning("refused a connection from pid " + std::to_string(cred->pid) + ": " +
                        std::to_string(connections_.size()) + " connections open (the limit)");
            protocol::wiping_buffer out;
            protocol::encode_error(out, nullptr,
                                   {protocol::errc::too_many_connections,
                                    "the agent has too many open connections; try again later",
                                    std::nullopt, std::nullopt});
            boost::system::error_code ignored;
            sock.non_blocking(true);
            sock.write_some(asio::buffer(out.data(), out.size()), ignored);
            continue;
        }
        ++stats_.connections_served;
        client_info info{cred->pid, next_connection_id_++};
        auto c = std::make_shared<connection>(*this, std::move(sock), info);
        connections_.push_front(c);
        c->self_in_list = connections_.begin();
        stats_.connections_active = connections_.size();
        c->start();
    }
}

void server::connection_closed(connection* c) {
    connections_.erase(c->self_in_list);
    stats_.connections_active = connections_.size();
    maybe_finish();
}

void server::stop(const std::string& why) {
    if (stopping_) {
        return;
    }
    stopping_ = true;
    log_info("stopping: " + why);
    if (on_stopping_) {
        on_stopping_();
    }
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    sweep_timer_.cancel();
    remove_socket_file();
    // A second signal during the grace period ends the agent at once.
    signals_.async_wait([this](boost::system::error_code ec, int) {
        if (!ec) {
            io_.stop();
        }
    });
    for (auto& c : std::list(connections_)) {
        c->finish_soon();
    }
    grace_timer_.expires_after(config_.shutdown_grace);
    grace_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            log_warning(std::to_string(connections_.size()) +
                        " connection(s) still busy at the end of the grace period; exiting");
            io_.stop();
        }
    });
    maybe_finish();
}

void server::remove_socket_file() {
    if (!owns_socket_file_) {
        return;
    }
    // Only our own socket: another agent may have replaced the file since.
    struct stat st {};
    if (::lstat(socket_path_.c_str(), &st) == 0 && st.st_ino == socket_inode_) {
        ::unlink(socket_path_.c_str());
    }
    owns_socket_file_ = false;
}

void server::maybe_finish() {
    if (stopping_ && connections_.empty()) {
        io_.stop();
    }
}

}  // namespace avn::agent
