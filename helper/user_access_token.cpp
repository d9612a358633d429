// avn-user access-token create|list|update|revoke: the user's access tokens.
#include <boost/json/array.hpp>

#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

namespace {

const std::vector<std::string>& created_columns() {
    static const std::vector<std::string> columns = {
        "expiry_time", "description", "max_age_seconds", "extend_when_used", "full_token"};
    return columns;
}

const std::vector<std::string>& listed_columns() {
    static const std::vector<std::string> columns = {
        "expiry_time",      "token_prefix",   "description", "max_age_seconds",
        "extend_when_used", "last_used_time", "last_ip",     "last_user_agent"};
    return columns;
}

// create and update answer one token object, which avn prints as a list of one.
int print_token(user_session& s, std::string_view op, const call_result& r,
                const std::vector<std::string>& columns, bool json) {
    if (!r.reply.result.is_object()) {
        return report_bad_result(s.con, op, "the result is not a token object");
    }
    boost::json::array rows(protocol::wiping_storage());
    rows.push_back(r.reply.result);
    print_rows(s.con, rows, columns, json);
    return exit_ok;
}

}  // namespace

int access_token_create(user_session& s, const access_token_create_args& a) {
    boost::json::object args = session_args(s.env);
    args["description"] = a.description;
    args["extend_when_used"] = a.extend_when_used;
    if (a.max_age_seconds) {
        args["max_age_seconds"] = *a.max_age_seconds;
    }
    if (!a.scopes.empty()) {
        boost::json::array scopes;
        for (const auto& scope : a.scopes) {
            scopes.emplace_back(scope);
        }
        args["scopes"] = std::move(scopes);
    }
    const call_result r = s.call("access_token_create", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "access_token_create", r);
    }
    return print_token(s, "access_token_create", r, created_columns(), a.json);
}

int access_token_list(user_session& s, const access_token_list_args& a) {
    const call_result r = s.call("access_token_list", session_args(s.env));
    if (!succeeded(r)) {
        return report_failure(s.con, "access_token_list", r);
    }
    const auto* result = r.reply.result.if_object();
    const auto* tokens = result != nullptr ? result->if_contains("tokens") : nullptr;
    if (tokens == nullptr || !tokens->is_array()) {
        return report_bad_result(s.con, "access_token_list", "no \"tokens\" list in the result");
    }
    print_rows(s.con, tokens->get_array(), listed_columns(), a.json);
    return exit_ok;
}

int access_token_update(user_session& s, const access_token_update_args& a) {
    boost::json::object args = session_args(s.env);
    args["token_prefix"] = a.token_prefix;
    args["description"] = a.description;
    const call_result r = s.call("access_token_update", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "access_token_update", r);
    }
    return print_token(s, "access_token_update", r, listed_columns(), a.json);
}

int access_token_revoke(user_session& s, const access_token_revoke_args& a) {
    boost::json::object args = session_args(s.env);
    args["token_prefix"] = a.token_prefix;
    const call_result r = s.call("access_token_revoke", args);
    if (!succeeded(r)) {
        return report_failure(s.con, "access_token_revoke", r);
    }
    s.con.out("Revoked\n");
    const auto* result = r.reply.result.if_object();
    if (const auto* cleared = result != nullptr ? result->if_contains("session_cleared") : nullptr;
        cleared != nullptr && cleared->is_bool() && cleared->get_bool()) {
        log_info(s.con, "That was the session's own token: logged out");
    }
    return exit_ok;
}

}  // namespace avn::helper
