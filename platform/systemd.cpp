#include "platform/systemd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "platform/unix_socket.hpp"

namespace avn::platform {

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
    const int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
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
    const std::string s(state);
    ::sd_notify(0, s.c_str());
}

}  // namespace avn::platform
