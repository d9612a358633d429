// What the `avn user` commands share: the console they prompt on, the link to
// the agent, avn's environment variables, and avn's way of reporting a failure.
// Nothing here touches the process's terminal or socket (terminal.hpp does), so
// the commands run unchanged against a scripted console and a canned agent.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helper/client.hpp"
#include "platform/secret.hpp"

namespace avn::helper {

/// Prompts and output, the way avn's Python does them.
class console {
  public:
    console() = default;
    console(const console&) = delete;
    console& operator=(const console&) = delete;
    virtual ~console() = default;

    /// Python's input(): writes `prompt` to stdout (no newline) and reads one line from stdin.
    /// The answer comes without its "\n" (or "\r\n"); nullopt at end of input before any byte.
    virtual std::optional<platform::secret> input(std::string_view prompt) = 0;
    /// Python's getpass(): on the controlling terminal when there is one, with echo off while
    /// the line is typed, the prompt and a closing "\n" written to the terminal; without one,
    /// the prompt and the "\n" go to stderr and the line comes from stdin. Same line rules as
    /// input().
    virtual std::optional<platform::secret> getpass(std::string_view prompt) = 0;
    /// One line from stdin with no prompt (`--password-stdin`). Same line rules as input().
    virtual std::optional<platform::secret> read_line() = 0;
    /// Writes to stdout.
    virtual void out(std::string_view text) = 0;
    /// Writes to stderr.
    virtual void err(std::string_view text) = 0;
};

/// Sends one op with its args to the agent and waits for the reply.
using agent_call = std::function<call_result(std::string_view op, const boost::json::object& args)>;

/// avn's environment variables. Each is set only when the variable is present and not empty,
/// as avn tests them.
struct user_env {
    std::optional<platform::secret> password;      ///< AIVEN_PASSWORD
    std::optional<platform::secret> auth_token;    ///< AIVEN_AUTH_TOKEN
    std::optional<platform::secret> new_password;  ///< AIVEN_NEW_PASSWORD
};

/// Reads the three variables from the process's environment.
user_env user_env_from_process();

/// Everything a command needs.
struct user_session {
    console& con;
    agent_call call;
    const user_env& env;
};

/// Empty args whose storage is wiped when freed (they may carry passwords).
boost::json::object secret_args();
/// secret_args() plus `auth_token` from AIVEN_AUTH_TOKEN when it is set: what every op that
/// uses the session sends.
boost::json::object session_args(const user_env& env);

/// True when the call produced a successful reply.
bool succeeded(const call_result& r) noexcept;

/// avn's stderr line, with its "\n", for a call that did not succeed:
/// - an `api_error` (or an `otp_required` answered to a code already sent):
///   "ERROR\tcommand failed: Error: <api_message> (status N)";
/// - `not_logged_in`: "ERROR\tcommand failed: UserError: not authenticated: please login first
///   with 'avn user login'";
/// - `network_error`, `tls_error`, `timeout`: "ERROR\tcommand failed: ConnectionError: ...",
///   "SSLError: ...", "Timeout: ..." with the agent's message;
/// - `unknown_op`: says that the agent is older than this avn-user and does not know `op`;
/// - any other error code: "ERROR\tcommand failed: <message> (<code>)";
/// - no reply at all: "avn-user: <why>" when no agent answers (the line `status` prints),
///   else "ERROR\tcommand failed: <why>".
std::string failure_line(std::string_view op, const call_result& r);
/// Prints failure_line() on stderr; returns exit_no_agent when no agent answered, else
/// exit_failed.
int report_failure(console& con, std::string_view op, const call_result& r);

/// Prints "ERROR\tcommand failed: UserError: <message>" (avn's argx.UserError) and returns
/// exit_failed.
int report_user_error(console& con, std::string_view message);
/// Prints "ERROR\tcommand failed: <message>" for a reply that has not the documented shape and
/// returns exit_failed.
int report_bad_result(console& con, std::string_view op, std::string_view what);
/// Prints avn's EOFError for a prompt that met the end of input and returns exit_failed.
int report_end_of_input(console& con);
/// Prints "INFO\t<message>" on stderr, as avn's log.info().
void log_info(console& con, std::string_view message);

/// A password, token or new password the way avn's enter_password() gets one, with
/// `--password-stdin` first:
/// - `from_stdin`: one line of stdin, no prompt; an empty line or none at all is a UserError;
/// - else `from_env` when set;
/// - else getpass(`prompt`).
/// On failure the error is printed and nullopt returned (the exit status is exit_failed).
std::optional<platform::secret> obtain_secret(user_session& s, bool from_stdin,
                                              const std::optional<platform::secret>& from_env,
                                              std::string_view prompt);
/// avn's new-password rule (create, password-change): AIVEN_NEW_PASSWORD when set, else
/// getpass(`prompt`) then getpass("Confirm password again: "); different answers are the
/// UserError "Passwords do not match", found before anything is sent. Errors are printed and
/// give nullopt.
std::optional<platform::secret> obtain_new_password(user_session& s, std::string_view prompt);

/// Prints `rows` on stdout as avn's print_response() does: with `json`, the array as
/// to_avn_json(); else render_table() under `columns` (nothing for no rows).
void print_rows(console& con, const boost::json::array& rows,
                const std::vector<std::string>& columns, bool json);

}  // namespace avn::helper
