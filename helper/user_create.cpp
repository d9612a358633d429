// avn-user create: signs up a new user, who becomes the session.
#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"

namespace avn::helper {

int user_create(user_session& s, const user_create_args& a) {
    auto password = obtain_new_password(s, "New aiven.io password for " + a.email + ": ");
    if (!password) {
        return exit_failed;
    }
    boost::json::object args = secret_args();
    args["email"] = a.email;
    args["real_name"] = a.real_name;
    args["password"] = password->expose();
    const call_result r = s.call("user_create", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "user_create", r);
    }
    log_info(s.con, "Aiven credentials stored in avn-agent");
    return exit_ok;
}

}  // namespace avn::helper
