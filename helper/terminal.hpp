// The console of the real process (stdin, stdout, stderr and the controlling
// terminal, used the way Python's input() and getpass() use them) and the
// process-wide behaviour avn has around a command: Ctrl-C and a closed stdout.
#pragma once

#include <functional>
#include <string_view>

#include "helper/commands.hpp"
#include "helper/user_session.hpp"

namespace avn::helper {

class terminal_console final : public console {
  public:
    std::optional<platform::secret> input(std::string_view prompt) override;
    /// Opens /dev/tty for the prompt and the answer; without a controlling terminal it uses
    /// stdin, and turns echo off there when stdin is a terminal. While echo is off, SIGINT
    /// restores it before the process exits (see run_with_terminal).
    std::optional<platform::secret> getpass(std::string_view prompt) override;
    std::optional<platform::secret> read_line() override;
    /// Writes and flushes stdout. After a failed write (the reader went away) further output is
    /// dropped and stdout_broken() is true.
    void out(std::string_view text) override;
    void err(std::string_view text) override;

    [[nodiscard]] bool stdout_broken() const noexcept { return stdout_broken_; }

  private:
    bool stdout_broken_ = false;
};

/// Runs `command` with a terminal_console, avn's variables from the environment and the agent
/// of `ctx`, each op on a fresh connection waiting up to `ctx.api_timeout`. As avn:
/// - SIGINT at any point prints "ERROR\t*** terminated by keyboard ***" on stderr and exits
///   with exit_usage (2), after restoring the terminal's echo if a prompt had turned it off;
/// - when stdout's reader is gone (EPIPE), prints "ERROR\t*** output truncated ***" and
///   returns 13; SIGPIPE is ignored for that.
/// Returns the command's exit status otherwise.
int run_with_terminal(const context& ctx, const std::function<int(user_session&)>& command);

/// Writes all of `text` to `fd`, retrying after EINTR; gives up silently on
/// other errors (a closed stderr must not take the command down).
void write_all(int fd, std::string_view text) noexcept;

}  // namespace avn::helper
