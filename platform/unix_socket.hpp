// Unix stream sockets: listening, probing, connecting, peer credentials.
// Blocking-free where it matters; no event loop here.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "platform/result.hpp"
#include "platform/unique_fd.hpp"

namespace avn::platform {

/// What is at a socket path.
enum class socket_state : unsigned char {
    absent,      ///< nothing there
    live,        ///< something accepts connections
    stale,       ///< a socket file nobody listens on
    not_socket,  ///< another kind of file: never removed
};
socket_state probe_socket(const std::string& path);

/// Creates, binds (umask 0177, so the socket is 0600 from the start) and
/// listens; close-on-exec and non-blocking. Replaces a stale socket file;
/// refuses when a live agent answers on `path`.
result<unique_fd> listen_unix(const std::string& path, int backlog = 128);

/// Connects to `path` within `timeout` (Unix connects only wait when the
/// listener's backlog is full; then ETIMEDOUT). Close-on-exec; blocking mode.
result<unique_fd> connect_unix(const std::string& path, std::chrono::milliseconds timeout);

struct peer_credentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};
/// SO_PEERCRED of a connected Unix socket.
result<peer_credentials> peer_of(int fd);

/// The path a listening Unix socket is bound to ("" for unnamed ones).
std::string bound_path(int fd);

}  // namespace avn::platform
