#include "helper/terminal.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

#include "helper/exit_codes.hpp"
#include "protocol/buffer.hpp"

namespace avn::helper {

namespace {

// What the SIGINT handler needs to give the terminal its echo back. The handler may run at any
// instruction, so the saved attributes are complete before the descriptor is published.
volatile std::sig_atomic_t echo_off_fd = -1;
termios saved_attributes{};

constexpr int exit_output_truncated = 13;  // avn's value: SIGPIPE's number

extern "C" void on_interrupt(int /*signal*/) {
    // Only async-signal-safe calls here: tcsetattr, write, _exit.
    const int fd = echo_off_fd;
    if (fd >= 0) {
        ::tcsetattr(fd, TCSAFLUSH, &saved_attributes);
    }
    static constexpr char message[] = "ERROR\t*** terminated by keyboard ***\n";
    write_all(STDERR_FILENO, std::string_view(message, sizeof message - 1));
    ::_exit(exit_usage);
}

// One line from `fd`, read a byte at a time so that nothing after the line is consumed: the
// next prompt reads the next line of the same stdin, as Python's shared sys.stdin does.
// A line longer than 64 KiB (no password is) is refused, so that a stream
// without line ends (/dev/zero, a binary file) cannot grow memory without end.
std::optional<platform::secret> read_line_from(int fd) {
    constexpr std::size_t max_line = 64 * 1024;
    protocol::wiping_buffer line;  // a typed password leaves no unwiped copy behind
    bool any = false;
    for (;;) {
        char c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        any = true;
        if (c == '\n') {
            break;
        }
        if (line.size() == max_line) {
            write_all(STDERR_FILENO, "avn-user: the line read is longer than 64 KiB; not used\n");
            return std::nullopt;
        }
        line.push_back(c);
    }
    if (!any) {
        return std::nullopt;
    }
    std::string_view text = line.view();
    if (!text.empty() && text.back() == '\r') {
        text.remove_suffix(1);
    }
    return platform::secret(text);
}

}  // namespace

std::optional<platform::secret> terminal_console::input(std::string_view prompt) {
    out(prompt);
    return read_line_from(STDIN_FILENO);
}

std::optional<platform::secret> terminal_console::getpass(std::string_view prompt) {
    // getpass prefers the controlling terminal even when stdin is redirected; without one it
    // falls back to stdin, with the prompt on stderr.
    const int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    const int in_fd = tty >= 0 ? tty : STDIN_FILENO;
    const int prompt_fd = tty >= 0 ? tty : STDERR_FILENO;
    std::fflush(stdout);

    std::optional<platform::secret> answer;
    termios attributes{};
    if (::tcgetattr(in_fd, &attributes) == 0) {
        saved_attributes = attributes;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        echo_off_fd = in_fd;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        termios quiet = attributes;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(in_fd, TCSAFLUSH, &quiet);
        write_all(prompt_fd, prompt);
        answer = read_line_from(in_fd);
        ::tcsetattr(in_fd, TCSAFLUSH, &attributes);
        echo_off_fd = -1;
    } else {
        write_all(prompt_fd, prompt);
        answer = read_line_from(in_fd);
    }
    if (answer) {
        write_all(prompt_fd, "\n");
    }
    if (tty >= 0) {
        ::close(tty);
    }
    return answer;
}

std::optional<platform::secret> terminal_console::read_line() {
    return read_line_from(STDIN_FILENO);
}

void terminal_console::out(std::string_view text) {
    if (stdout_broken_) {
        return;
    }
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
        stdout_broken_ = true;
    }
}

void terminal_console::err(std::string_view text) {
    std::fflush(stdout);
    write_all(STDERR_FILENO, text);
}

int run_with_terminal(const context& ctx, const std::function<int(user_session&)>& command) {
    struct sigaction interrupt {};
    interrupt.sa_handler = on_interrupt;
    sigemptyset(&interrupt.sa_mask);
    ::sigaction(SIGINT, &interrupt, nullptr);
    // Python ignores SIGPIPE and avn turns the EPIPE into a message and a status.
    std::signal(SIGPIPE, SIG_IGN);

    terminal_console con;
    const user_env env = user_env_from_process();
    // A fresh connection per op: the agent closes a connection that stays silent past its idle
    // timeout, and a user can take longer than that to type a two-factor code.
    user_session session{con,
                         [&ctx](std::string_view op, const boost::json::object& args) {
                             agent_client client(ctx.location);
                             return client.call(op, args, ctx.api_timeout);
                         },
                         env};
    const int status = command(session);
    if (con.stdout_broken()) {
        con.err("ERROR\t*** output truncated ***\n");
        return exit_output_truncated;
    }
    return status;
}

void write_all(int fd, std::string_view text) noexcept {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace avn::helper
