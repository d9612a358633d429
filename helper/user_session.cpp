#include "helper/user_session.hpp"

#include <cstdlib>

#include "helper/exit_codes.hpp"
#include "helper/render.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

namespace {

std::optional<platform::secret> env_secret(const char* name) {
    // avn reads these with os.environ.get() and tests them for truth: empty means unset.
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        return std::nullopt;
    }
    return platform::secret(value);
}

std::string command_failed(std::string_view what) {
    std::string line = "ERROR\tcommand failed: ";
    line += what;
    line += '\n';
    return line;
}

}  // namespace

user_env user_env_from_process() {
    user_env env;
    env.password = env_secret("AIVEN_PASSWORD");
    env.auth_token = env_secret("AIVEN_AUTH_TOKEN");
    env.new_password = env_secret("AIVEN_NEW_PASSWORD");
    return env;
}

boost::json::object secret_args() {
    return boost::json::object(protocol::wiping_storage());
}

boost::json::object session_args(const user_env& env) {
    boost::json::object args = secret_args();
    if (env.auth_token) {
        args["auth_token"] = env.auth_token->expose();
    }
    return args;
}

bool succeeded(const call_result& r) noexcept {
    return r.failure == call_failure::none && r.reply.ok;
}

std::string failure_line(std::string_view op, const call_result& r) {
    if (r.failure == call_failure::no_agent) {
        return "avn-user: " + r.message + "\n";
    }
    if (r.failure != call_failure::none) {
        return command_failed(r.message);
    }
    const protocol::error& e = r.reply.err;
    const std::string_view code = r.reply.code_text;
    // avn prints "<exception class>: <text>"; the class names are those avn users see for the
    // same trouble (requests' ConnectionError, SSLError and Timeout, argx's UserError).
    if (code == "api_error" || code == "otp_required") {
        std::string what = "Error: ";
        what += e.api_message ? *e.api_message : e.message;
        if (e.api_status) {
            what += " (status " + std::to_string(*e.api_status) + ")";
        }
        return command_failed(what);
    }
    if (code == "not_logged_in") {
        return command_failed(
            "UserError: not authenticated: please login first with 'avn user login'");
    }
    if (code == "network_error") {
        return command_failed("ConnectionError: " + e.message);
    }
    if (code == "tls_error") {
        return command_failed("SSLError: " + e.message);
    }
    if (code == "timeout") {
        return command_failed("Timeout: " + e.message);
    }
    if (code == "unknown_op") {
        return command_failed("the agent does not know the op '" + std::string(op) +
                              "': it is older than this avn-user; restart it from the same "
                              "installation");
    }
    return command_failed(e.message + " (" + std::string(code) + ")");
}

int report_failure(console& con, std::string_view op, const call_result& r) {
    con.err(failure_line(op, r));
    return r.failure == call_failure::no_agent ? exit_no_agent : exit_failed;
}

int report_user_error(console& con, std::string_view message) {
    con.err(command_failed("UserError: " + std::string(message)));
    return exit_failed;
}

int report_bad_result(console& con, std::string_view op, std::string_view what) {
    con.err(command_failed("unexpected reply from the agent to '" + std::string(op) +
                           "': " + std::string(what)));
    return exit_failed;
}

int report_end_of_input(console& con) {
    // Python's input() and getpass() raise EOFError, which avn does not catch: it dies with a
    // traceback and exit status 1. The status is kept; the traceback becomes one line.
    con.err(command_failed("EOFError: end of input at the prompt"));
    return exit_failed;
}

void log_info(console& con, std::string_view message) {
    std::string line = "INFO\t";
    line += message;
    line += '\n';
    con.err(line);
}

std::optional<platform::secret> obtain_secret(user_session& s, bool from_stdin,
                                              const std::optional<platform::secret>& from_env,
                                              std::string_view prompt) {
    if (from_stdin) {
        auto line = s.con.read_line();
        if (!line || line->empty()) {
            report_user_error(s.con, "--password-stdin: no password on the first line of stdin");
            return std::nullopt;
        }
        return line;
    }
    if (from_env) {
        return from_env->clone();
    }
    auto typed = s.con.getpass(prompt);
    if (!typed) {
        report_end_of_input(s.con);
    }
    return typed;
}

std::optional<platform::secret> obtain_new_password(user_session& s, std::string_view prompt) {
    if (s.env.new_password) {
        return s.env.new_password->clone();
    }
    auto first = s.con.getpass(prompt);
    if (!first) {
        report_end_of_input(s.con);
        return std::nullopt;
    }
    auto again = s.con.getpass("Confirm password again: ");
    if (!again) {
        report_end_of_input(s.con);
        return std::nullopt;
    }
    if (!first->equals(*again)) {
        report_user_error(s.con, "Passwords do not match");
        return std::nullopt;
    }
    return first;
}

void print_rows(console& con, const boost::json::array& rows,
                const std::vector<std::string>& columns, bool json) {
    // The text can hold a full token (access-token create): wiped once written.
    std::string text = json ? to_avn_json(rows) : render_table(rows, columns);
    con.out(text);
    platform::wipe(text);
}

}  // namespace avn::helper
