#include "platform/systemd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "platform/unix_socket.hpp"

// Both protocols are small and documented as stable interfaces (sd_listen_fds(3),
// sd_notify(3)); done here, they spare the agent libsystemd and the compression and
// crypto libraries it maps.

namespace avn::platform {

namespace {

// The first descriptor passed (SD_LISTEN_FDS_START).
constexpr int listen_fds_start = 3;

bool is_listening_unix_stream(int fd) {
    int type = 0;
    int listening = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
        return false;
    }
    len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
        return false;
    }
    sockaddr_storage addr{};
    len = sizeof addr;
    return ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
           addr.ss_family == AF_UNIX;
}

}  // namespace

result<activated_socket> adopt_activated_socket() {
    const char* fds = std::getenv("LISTEN_FDS");
    const char* pid = std::getenv("LISTEN_PID");
    if (fds == nullptr) {
        return activated_socket{};
    }
    const std::string fds_text = fds;
    const std::string pid_text = pid != nullptr ? pid : "";
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDNAMES");
    if (pid_text != std::to_string(::getpid())) {
        return os_error{"LISTEN_FDS is set but LISTEN_PID (" + pid_text +
                        ") does not name this process (" + std::to_string(::getpid()) +
                        "): refusing descriptors meant for another process"};
    }
    if (fds_text != "1") {
        return os_error{"expected exactly one socket from the service manager, got LISTEN_FDS=" +
                        fds_text + "; check avn-agent.socket"};
    }
    const int fd = listen_fds_start;
    if (!is_listening_unix_stream(fd)) {
        return os_error{
            "the socket passed by the service manager is not a listening Unix stream "
            "socket; check ListenStream= in avn-agent.socket"};
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    activated_socket out;
    out.fd.reset(fd);
    out.path = bound_path(fd);
    return out;
}

void notify(std::string_view state) {
    // NOTIFY_SOCKET is a datagram socket's path, or '@' and an abstract name.
    const char* where = std::getenv("NOTIFY_SOCKET");
    if (where == nullptr || (where[0] != '/' && where[0] != '@')) {
        return;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::size_t n = std::strlen(where);
    if (n < 2 || n >= sizeof addr.sun_path) {
        return;
    }
    std::memcpy(addr.sun_path, where, n);
    if (addr.sun_path[0] == '@') {
        addr.sun_path[0] = '\0';
    }
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
    unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return;
    }
    // Best effort, like sd_notify(): the service manager may be gone.
    (void)::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&addr), len);
}

}  // namespace avn::platform
