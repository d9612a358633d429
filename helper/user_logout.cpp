// avn-user logout: ends the session, revoking its token unless told not to.
#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"

namespace avn::helper {

int user_logout(user_session& s, const user_logout_args& a) {
    boost::json::object args = session_args(s.env);
    args["revoke"] = !a.no_token_revoke;
    const call_result r = s.call("logout", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "logout", r);
    }
    // avn keeps its credentials when the revoke fails, so an expired token blocks its logout.
    // The agent clears the session all the same and tells why the token was not revoked.
    const auto* result = r.reply.result.if_object();
    const auto* revoked = result != nullptr ? result->if_contains("revoked") : nullptr;
    if (!a.no_token_revoke && revoked != nullptr && revoked->is_bool() && !revoked->get_bool()) {
        const auto* reason = result->if_contains("reason");
        std::string line = "Logged out; the token was not revoked";
        if (reason != nullptr && reason->is_string()) {
            line += ": ";
            line += reason->get_string();
        }
        log_info(s.con, line);
    }
    return exit_ok;
}

}  // namespace avn::helper
