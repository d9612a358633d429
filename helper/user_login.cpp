// avn-user login: a password login, with the two-factor round when the API asks
// for a code, or a token login.
#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"

namespace avn::helper {

namespace {

constexpr std::string_view stored = "Aiven credentials stored in avn-agent";

bool otp_required(const call_result& r) {
    return r.failure == call_failure::none && !r.reply.ok && r.reply.code_text == "otp_required";
}

int login_with_token(user_session& s, const user_login_args& a, const std::string& email) {
    // Unlike avn, which saves whatever was typed, the agent checks the token with the API
    // first: a typo fails here instead of at the next command.
    auto token =
        obtain_secret(s, a.password_stdin, s.env.auth_token, email + "'s Aiven access token: ");
    if (!token) {
        return exit_failed;
    }
    boost::json::object args = secret_args();
    args["token"] = token->expose();
    if (!email.empty()) {
        args["email"] = email;
    }
    const call_result r = s.call("login_token", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "login_token", r);
    }
    log_info(s.con, stored);
    return exit_ok;
}

int login_with_password(user_session& s, const user_login_args& a, const std::string& email) {
    auto password =
        obtain_secret(s, a.password_stdin, s.env.password, email + "'s Aiven password: ");
    if (!password) {
        return exit_failed;
    }
    boost::json::object args = secret_args();
    args["email"] = email;
    args["password"] = password->expose();
    if (a.tenant) {
        args["tenant"] = *a.tenant;
    }
    call_result r = s.call("login", args);
    if (otp_required(r)) {
        // avn asks with input(): the prompt goes to stdout and the code is echoed. avn also
        // drops --tenant from this second request; it is kept here.
        auto otp = s.con.input("Two-factor authentication OTP: ");
        if (!otp) {
            return report_end_of_input(s.con);
        }
        args["otp"] = otp->expose();
        r = s.call("login", args);
    }
    if (!succeeded(r)) {
        return report_failure(s.con, "login", r);
    }
    log_info(s.con, stored);
    return exit_ok;
}

}  // namespace

int user_login(user_session& s, const user_login_args& a) {
    std::string email = a.email;
    if (email.empty()) {
        auto typed = s.con.input("Username (email): ");
        if (!typed) {
            return report_end_of_input(s.con);
        }
        email = std::string(typed->expose());
    }
    return a.token ? login_with_token(s, a, email) : login_with_password(s, a, email);
}

}  // namespace avn::helper
