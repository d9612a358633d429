// avn-user token: a token for a tool, bare, as JSON or as a Kubernetes ExecCredential.
#include <boost/json/parse.hpp>
#include <cstdio>
#include <ctime>

#include "helper/exit_codes.hpp"
#include "helper/render.hpp"
#include "helper/user_commands.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

namespace {

constexpr std::string_view api_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view api_v1beta1 = "client.authentication.k8s.io/v1beta1";

// A member that may be absent or null; false when present with another type than `want`.
bool optional_member(const boost::json::object& o, std::string_view key, boost::json::kind want,
                     const boost::json::value*& out) {
    out = nullptr;
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return true;
    }
    if (v->kind() != want) {
        return false;
    }
    out = v;
    return true;
}

}  // namespace

std::optional<served_token> read_token_result(const boost::json::value& result, std::string& why) {
    const auto* o = result.if_object();
    if (o == nullptr) {
        why = "the result is not an object";
        return std::nullopt;
    }
    const auto* token = o->if_contains("token");
    if (token == nullptr || !token->is_string() || token->get_string().empty()) {
        why = "no \"token\" string in the result";
        return std::nullopt;
    }
    served_token t;
    t.token = platform::secret(std::string_view(token->get_string()));
    const boost::json::value* v = nullptr;
    if (!optional_member(*o, "expiry_time", boost::json::kind::string, v)) {
        why = "\"expiry_time\" is not a string";
        return std::nullopt;
    }
    if (v != nullptr) {
        t.expiry_time = std::string(v->get_string());
    }
    if (!optional_member(*o, "name", boost::json::kind::string, v)) {
        why = "\"name\" is not a string";
        return std::nullopt;
    }
    if (v != nullptr) {
        t.name = std::string(v->get_string());
    }
    if (!optional_member(*o, "user_email", boost::json::kind::string, v)) {
        why = "\"user_email\" is not a string";
        return std::nullopt;
    }
    if (v != nullptr) {
        t.user_email = std::string(v->get_string());
    }
    const auto* in = o->if_contains("expires_in");
    if (in != nullptr && !in->is_null()) {
        if (in->is_int64()) {
            t.expires_in = in->get_int64();
        } else if (in->is_uint64()) {
            why = "\"expires_in\" is out of range";
            return std::nullopt;
        } else if (in->is_double()) {
            // A whole number of seconds written as a double is still one.
            const double d = in->get_double();
            if (!(d >= -9.0e15 && d <= 9.0e15)) {
                why = "\"expires_in\" is out of range";
                return std::nullopt;
            }
            t.expires_in = static_cast<std::int64_t>(d);
        } else {
            why = "\"expires_in\" is not a number";
            return std::nullopt;
        }
    }
    return t;
}

std::optional<std::int64_t> local_expiry(const served_token& t, std::int64_t now_unix) noexcept {
    if (!t.expires_in) {
        return std::nullopt;
    }
    return now_unix + *t.expires_in;
}

std::string rfc3339_utc(std::int64_t unix_seconds) {
    const auto when = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    if (::gmtime_r(&when, &tm) == nullptr) {
        return "1970-01-01T00:00:00Z";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::string exec_credential_api_version(std::optional<std::string_view> exec_info) {
    if (exec_info) {
        boost::system::error_code ec;
        const boost::json::value info = boost::json::parse(*exec_info, ec);
        const auto* o = ec ? nullptr : info.if_object();
        const auto* version = o != nullptr ? o->if_contains("apiVersion") : nullptr;
        if (version != nullptr && version->is_string() &&
            (version->get_string() == api_v1 || version->get_string() == api_v1beta1)) {
            return std::string(version->get_string());
        }
    }
    return std::string(api_v1);
}

std::string format_exec_credential(std::string_view token, std::optional<std::int64_t> expiry_unix,
                                   std::string_view api_version) {
    boost::json::object status(protocol::wiping_storage());
    status["token"] = token;
    if (expiry_unix) {
        status["expirationTimestamp"] = rfc3339_utc(*expiry_unix);
    }
    boost::json::object credential(protocol::wiping_storage());
    credential["apiVersion"] = api_version;
    credential["kind"] = "ExecCredential";
    credential["status"] = std::move(status);
    return to_avn_json(credential);
}

std::optional<served_token> request_token(user_session& s, const token_request& req, int& status) {
    boost::json::object args = secret_args();
    args["min_ttl"] = req.min_ttl;
    if (req.name) {
        args["name"] = *req.name;
    }
    if (req.max_age_seconds) {
        args["max_age_seconds"] = *req.max_age_seconds;
    }
    if (!req.scopes.empty()) {
        boost::json::array scopes;
        for (const auto& scope : req.scopes) {
            scopes.emplace_back(scope);
        }
        args["scopes"] = std::move(scopes);
    }
    const call_result r = s.call("token", args);
    if (!succeeded(r)) {
        if (r.failure == call_failure::none && r.reply.code_text == "insufficient_ttl") {
            // The agent's message already says how long the token lasts and what was asked.
            s.con.err("ERROR\tcommand failed: " + r.reply.err.message + "\n");
            status = exit_failed;
        } else {
            status = report_failure(s.con, "token", r);
        }
        return std::nullopt;
    }
    std::string why;
    auto t = read_token_result(r.reply.result, why);
    if (!t) {
        status = report_bad_result(s.con, "token", why);
    }
    return t;
}

int user_token(user_session& s, const user_token_args& a) {
    int status = exit_ok;
    const auto t = request_token(s, a.request, status);
    if (!t) {
        return status;
    }
    std::string text;
    switch (a.output) {
        case token_output::bare:
            text.reserve(t->token.size() + 1);  // no reallocation leaves a copy behind
            text = t->token.expose();
            text += '\n';
            break;
        case token_output::json: {
            boost::json::object o(protocol::wiping_storage());
            o["token"] = t->token.expose();
            o["expiry_time"] = t->expiry_time ? boost::json::value(*t->expiry_time) : nullptr;
            o["name"] = t->name ? boost::json::value(*t->name) : nullptr;
            text = to_avn_json(o);
            break;
        }
        case token_output::exec_credential:
            text = format_exec_credential(t->token.expose(), local_expiry(*t, a.now_unix),
                                          exec_credential_api_version(a.exec_info));
            break;
    }
    s.con.out(text);
    platform::wipe(text);
    return exit_ok;
}

}  // namespace avn::helper
