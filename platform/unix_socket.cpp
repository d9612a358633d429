#include "platform/unix_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace avn::platform {

namespace {

result<sockaddr_un> make_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        return os_error{"socket path " + path + " is empty or longer than " +
                        std::to_string(sizeof(addr.sun_path) - 1) +
                        " bytes; set AVN_AGENT_SOCK to a shorter path"};
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

const sockaddr* as_sockaddr(const sockaddr_un& a) {
    return reinterpret_cast<const sockaddr*>(&a);
}

}  // namespace

socket_state probe_socket(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return socket_state::absent;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return socket_state::not_socket;
    }
    auto addr = make_address(path);
    if (!addr) {
        return socket_state::not_socket;
    }
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        return socket_state::stale;
    }
    if (::connect(fd.get(), as_sockaddr(*addr), sizeof(sockaddr_un)) == 0) {
        return socket_state::live;
    }
    // EAGAIN: a listener whose backlog is full is still alive.
    return errno == EAGAIN ? socket_state::live : socket_state::stale;
}

result<unique_fd> listen_unix(const std::string& path, int backlog) {
    auto addr = make_address(path);
    if (!addr) {
        return addr.error();
    }
    switch (probe_socket(path)) {
        case socket_state::live:
            return os_error{"an agent is already running on " + path +
                            "; stop it with 'avn-agent -k' or set AVN_AGENT_SOCK to another path"};
        case socket_state::not_socket:
            return os_error{path +
                            " exists and is not a socket; remove it or set AVN_AGENT_SOCK "
                            "to another path"};
        case socket_state::stale:
            if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
                return errno_error("cannot remove stale socket " + path, errno);
            }
            break;
        case socket_state::absent:
            break;
    }
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        return errno_error("cannot create socket", errno);
    }
    // The socket file takes its mode from the umask at bind time: 0177 makes
    // it 0600 with no window in which it is looser.
    const mode_t old = ::umask(0177);
    const int rc = ::bind(fd.get(), as_sockaddr(*addr), sizeof(sockaddr_un));
    const int bind_errno = errno;
    ::umask(old);
    if (rc != 0) {
        if (bind_errno == EADDRINUSE) {
            return os_error{"another agent took " + path +
                            " while this one was starting; "
                            "stop it with 'avn-agent -k' or set AVN_AGENT_SOCK to another path"};
        }
        return errno_error("cannot bind " + path, bind_errno);
    }
    if (::listen(fd.get(), backlog) != 0) {
        const int e = errno;
        ::unlink(path.c_str());
        return errno_error("cannot listen on " + path, e);
    }
    return fd;
}

result<unique_fd> connect_unix(const std::string& path, std::chrono::milliseconds timeout) {
    auto addr = make_address(path);
    if (!addr) {
        return addr.error();
    }
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return errno_error("cannot create socket", errno);
    }
    // A non-blocking Unix connect to a full backlog fails at once with EAGAIN
    // and leaves nothing pending to poll for. A blocking one waits for room,
    // bounded by SO_SNDTIMEO (0 would mean forever, hence at least 1 ms).
    const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 1);
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), as_sockaddr(*addr), sizeof(sockaddr_un)) != 0) {
        const int e = errno;
        if (e == EAGAIN || e == EINPROGRESS || e == EINTR) {
            return os_error{"timed out connecting to " + path, ETIMEDOUT};
        }
        return errno_error("cannot connect to " + path, e);
    }
    tv = {};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

result<peer_credentials> peer_of(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return errno_error("cannot read peer credentials", errno);
    }
    return peer_credentials{cred.pid, cred.uid, cred.gid};
}

std::string bound_path(int fd) {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path) ||
        addr.sun_path[0] == '\0') {
        return {};
    }
    return std::string(addr.sun_path, strnlen(addr.sun_path, sizeof addr.sun_path));
}

}  // namespace avn::platform
