// avn-user tokens-expire: invalidates every token of the user, the session's too.
#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"

namespace avn::helper {

int user_tokens_expire(user_session& s) {
    const call_result r = s.call("tokens_expire", session_args(s.env));
    if (!succeeded(r)) {
        return report_failure(s.con, "tokens_expire", r);
    }
    const auto* result = r.reply.result.if_object();
    const auto* message = result != nullptr ? result->if_contains("message") : nullptr;
    if (message == nullptr || !message->is_string()) {
        return report_bad_result(s.con, "tokens_expire", "no \"message\" in the result");
    }
    std::string line(message->get_string());
    line += '\n';
    s.con.out(line);
    if (const auto* cleared = result->if_contains("session_cleared");
        cleared != nullptr && cleared->is_bool() && cleared->get_bool()) {
        log_info(s.con,
                 "The session's token expired with the others; log in again with 'avn-user login'");
    }
    return exit_ok;
}

}  // namespace avn::helper
