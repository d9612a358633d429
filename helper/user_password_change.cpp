// avn-user password-change: changes the password; the agent keeps the session
// going with the token the API hands back.
#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"

namespace avn::helper {

namespace {

// avn refuses before prompting when nobody is logged in. The agent's status tells that without
// an API call; an agent whose status has no session section leaves the answer to the op.
std::optional<int> refuse_early(user_session& s) {
    if (s.env.auth_token) {
        return std::nullopt;
    }
    const call_result r = s.call("status", secret_args());
    if (r.failure != call_failure::none) {
        return report_failure(s.con, "status", r);
    }
    const auto* root = r.reply.ok ? r.reply.result.if_object() : nullptr;
    const auto* session = root != nullptr ? root->if_contains("session") : nullptr;
    const auto* logged_in = session != nullptr && session->is_object()
                                ? session->get_object().if_contains("logged_in")
                                : nullptr;
    if (logged_in != nullptr && logged_in->is_bool() && !logged_in->get_bool()) {
        return report_user_error(s.con,
                                 "not authenticated: please login first with 'avn user login'");
    }
    return std::nullopt;
}

}  // namespace

int user_password_change(user_session& s) {
    if (const auto refused = refuse_early(s)) {
        return *refused;
    }
    // avn reads the current password with getpass() alone: AIVEN_PASSWORD does not replace it.
    auto current = s.con.getpass("Current password: ");
    if (!current) {
        return report_end_of_input(s.con);
    }
    auto fresh = obtain_new_password(s, "New password: ");
    if (!fresh) {
        return exit_failed;
    }
    boost::json::object args = session_args(s.env);
    args["password"] = current->expose();
    args["new_password"] = fresh->expose();
    const call_result r = s.call("password_change", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "password_change", r);
    }
    s.con.out(
        "Password changed. Next, use 'avn user login' to log in again using your new password.\n");
    const auto* result = r.reply.result.if_object();
    if (const auto* kept = result != nullptr ? result->if_contains("session_kept") : nullptr;
        kept != nullptr && kept->is_bool() && kept->get_bool()) {
        log_info(s.con, "avn-agent keeps the session with the new token: no need to log in again");
    }
    return exit_ok;
}

}  // namespace avn::helper
