// avn-user info: the logged-in user, as `avn user info` shows it.
#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

int user_info(user_session& s, const user_info_args& a) {
    static const std::vector<std::string> columns = {
        "user", "real_name", "state", "token_validity_begin", "projects", "auth"};
    const call_result r = s.call("user_info", session_args(s.env));
    if (!succeeded(r)) {
        return report_failure(s.con, "user_info", r);
    }
    // The op answers the API's body; avn prints only its "user" member.
    const auto* root = r.reply.result.if_object();
    const auto* user = root != nullptr ? root->if_contains("user") : nullptr;
    if (user == nullptr || !user->is_object()) {
        return report_bad_result(s.con, "user_info", "no \"user\" object in the result");
    }
    boost::json::array rows(protocol::wiping_storage());
    rows.push_back(*user);
    print_rows(s.con, rows, columns, a.json);
    return exit_ok;
}

}  // namespace avn::helper
