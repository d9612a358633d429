// One connection to the agent per invocation: connect, send one request,
// read its reply, each within a deadline. Blocking POSIX I/O with poll():
// no event loop, no TLS, no HTTP in the helper.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "platform/socket_path.hpp"
#include "platform/unique_fd.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

/// Why a call did not produce a reply.
enum class call_failure : unsigned char {
    none,
    no_agent,   ///< nothing listens on the socket (exit_no_agent)
    timeout,    ///< the agent did not answer in time
    io,         ///< the connection broke
    bad_reply,  ///< the agent answered something that is not a reply
};

struct call_result {
    call_failure failure = call_failure::none;
    std::string message;    ///< one line, with the fix, when failure != none
    protocol::reply reply;  ///< when failure == none
};

class agent_client {
  public:
    explicit agent_client(platform::socket_location loc) : loc_(std::move(loc)) {}

    /// Sends `op` with `args` and waits for its reply until `timeout` passes.
    call_result call(std::string_view op, const boost::json::object& args,
                     std::chrono::milliseconds timeout);

    [[nodiscard]] const std::string& socket_path() const noexcept { return loc_.path; }

  private:
    call_result connect(std::chrono::steady_clock::time_point deadline);

    platform::socket_location loc_;
    platform::unique_fd fd_;
    std::int64_t next_id_ = 1;
    protocol::wiping_buffer inbox_;
};

/// The one-line advice printed when no agent answers on `path`.
std::string no_agent_message(const std::string& path, const std::string& detail);

}  // namespace avn::helper
