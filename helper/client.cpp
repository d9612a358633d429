#include "helper/client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/secret.hpp"
#include "platform/unix_socket.hpp"

namespace avn::helper {

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

std::string seconds_text(std::chrono::milliseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

call_result failed(call_failure f, std::string message) {
    call_result r;
    r.failure = f;
    r.message = std::move(message);
    return r;
}

}  // namespace

std::string no_agent_message(const std::string& path, const std::string& detail) {
    return "no agent is running on " + path + " (" + detail +
           "); start one with 'eval \"$(avn-agent)\"' or 'systemctl --user start avn-agent.socket'";
}

call_result agent_client::connect(clock::time_point deadline) {
    auto fd = platform::connect_unix(loc_.path, std::chrono::milliseconds(remaining_ms(deadline)));
    if (!fd) {
        const int e = fd.error().sys_errno;
        if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
            return failed(call_failure::no_agent, no_agent_message(loc_.path, std::strerror(e)));
        }
        if (e == EACCES || e == EPERM) {
            return failed(call_failure::no_agent,
                          "cannot open the agent's socket " + loc_.path + " (" + std::strerror(e) +
                              "); it belongs to another user: start your own agent");
        }
        if (e == ETIMEDOUT) {
            return failed(call_failure::timeout,
                          "the agent on " + loc_.path +
                              " did not take the connection in time (too busy); try again");
        }
        return failed(call_failure::io, fd.error().message);
    }
    fd_ = std::move(*fd);
    return {};
}

call_result agent_client::call(std::string_view op, const boost::json::object& args,
                               std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    if (!fd_) {
        if (auto r = connect(deadline); r.failure != call_failure::none) {
            return r;
        }
    }
    const std::int64_t id = next_id_++;
    protocol::wiping_buffer out;
    protocol::encode_request(out, id, op, args);

    std::size_t sent = 0;
    while (sent < out.size()) {
        const ssize_t n = ::send(fd_.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int e = errno;
            fd_.reset();
            if (e == EPIPE || e == ECONNRESET) {
                return failed(call_failure::io,
                              "the agent on " + loc_.path +
                                  " closed the connection (it may have refused this user)");
            }
            return failed(call_failure::io,
                          std::string("cannot send to the agent: ") + std::strerror(e));
        }
        sent += static_cast<std::size_t>(n);
    }

    std::array<char, 16 * 1024> chunk;
    for (;;) {
        const std::string_view have = inbox_.view();
        if (const auto nl = have.find('\n'); nl != std::string_view::npos) {
            call_result r;
            std::string why;
            if (!protocol::decode_reply(have.substr(0, nl), r.reply, why)) {
                inbox_.consume(nl + 1);
                return failed(call_failure::bad_reply, "unexpected reply from the agent: " + why);
            }
            inbox_.consume(nl + 1);
            return r;
        }
        if (have.size() > 16 * 1024 * 1024) {
            fd_.reset();
            return failed(call_failure::bad_reply, "the agent's reply is too long");
        }
        pollfd p{fd_.get(), POLLIN, 0};
        const int ready = ::poll(&p, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            fd_.reset();
            return failed(
                call_failure::timeout,
                "the agent on " + loc_.path + " did not answer within " + seconds_text(timeout));
        }
        const ssize_t n = ::recv(fd_.get(), chunk.data(), chunk.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fd_.reset();
            return failed(call_failure::io,
                          "the agent on " + loc_.path +
                              " closed the connection without answering (is it yours? it refuses "
                              "other users)");
        }
        inbox_.append(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
        platform::wipe(chunk.data(), static_cast<std::size_t>(n));
    }
}

}  // namespace avn::helper
