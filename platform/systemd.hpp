// systemd integration: socket activation and readiness notification.
#pragma once

#include <string>
#include <string_view>

#include "platform/result.hpp"
#include "platform/unique_fd.hpp"

namespace avn::platform {

/// A listening socket handed over by the service manager.
struct activated_socket {
    unique_fd fd;      ///< invalid when the agent was not socket-activated
    std::string path;  ///< the path it is bound to
};

/// Adopts a socket passed with LISTEN_FDS. Strict: LISTEN_PID must name this
/// process, exactly one descriptor must be passed, and it must be a listening
/// Unix stream socket. Without LISTEN_FDS it returns an empty result. The
/// LISTEN_* variables are removed so children do not inherit them.
result<activated_socket> adopt_activated_socket();

/// Sends a state line ("READY=1", "STOPPING=1", "STATUS=...") to the service
/// manager when NOTIFY_SOCKET is set; a no-op otherwise.
void notify(std::string_view state);

}  // namespace avn::platform
