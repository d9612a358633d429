#include "agent/session_ops.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>

#include "agent/log.hpp"
#include "protocol/codec.hpp"

namespace avn::agent {

namespace {

using boost::beast::http::verb;
using protocol::errc;

constexpr std::string_view logged_out = "logged out";

outcome missing(std::string_view op, std::string_view what) {
    return outcome::failure(errc::bad_request, std::string(op) + " needs " + std::string(what));
}

std::optional<outcome> pick_credentials(const boost::json::object& a, const session_manager& sm,
                                        session_ops::credentials& c) {
    if (const auto* t = str_arg(a, "auth_token"); t != nullptr && !t->empty()) {
        c.token = platform::secret(std::string_view(*t));
        c.is_session = false;
        return std::nullopt;
    }
    if (const session* s = sm.current()) {
        c.token = s->token.clone();
        c.is_session = true;
        return std::nullopt;
    }
    return outcome::failure(errc::not_logged_in, not_logged_in_message);
}

outcome store_failure_reply(const platform::store_error& e, std::string_view what) {
    return outcome::failure(keyring_errc(e), std::string(what) + e.message);
}

outcome store_failure(const platform::store_error& e) {
    return store_failure_reply(e, "cannot write the session to the store: ");
}

}  // namespace

outcome api_failure(const api::error& e) {
    outcome out;
    out.ok = false;
    out.err.message = e.message;
    switch (e.kind) {
        case api::error_kind::http_status:
            out.err.code = errc::api_error;
            out.err.api_status = e.status;
            out.err.api_message = e.api_message;
            break;
        case api::error_kind::timeout:
            out.err.code = errc::timeout;
            break;
        case api::error_kind::tls:
            out.err.code = errc::tls_error;
            break;
        case api::error_kind::network:
        case api::error_kind::bad_response:
        case api::error_kind::bad_config:
            out.err.code = errc::network_error;
            break;
    }
    return out;
}

void session_ops::register_with(dispatcher& d) {
    using handler = asio::awaitable<outcome> (session_ops::*)(const args_t&);
    const std::pair<const char*, handler> table[] = {
        {"login", &session_ops::login},
        {"login_token", &session_ops::login_token},
        {"logout", &session_ops::logout},
        {"user_info", &session_ops::user_info},
        {"tokens_expire", &session_ops::tokens_expire},
        {"password_change", &session_ops::password_change},
        {"user_create", &session_ops::user_create},
        {"access_token_create", &session_ops::access_token_create},
        {"access_token_list", &session_ops::access_token_list},
        {"access_token_update", &session_ops::access_token_update},
        {"access_token_revoke", &session_ops::access_token_revoke},
    };
    for (const auto& [name, fn] : table) {
        d.add(name, [this, fn = fn](protocol::request& req, const client_info&) {
            return (this->*fn)(req.args);
        });
    }
    d.add_status_section(
        "session", [this](const boost::json::storage_ptr& sp) { return sessions_.status(sp); });
}

asio::awaitable<void> session_ops::refresh_meta() {
    const session* s = sessions_.current();
    if (s == nullptr) {
        co_return;
    }
    platform::secret token = s->token.clone();
    auto r = co_await api_.request(verb::get, "/v1/access_token", nullptr, &token);
    if (!r) {
        log_warning("cannot read the session token's metadata: " + r.error().message);
        co_return;
    }
    co_await apply_meta(token, r->body);
}

asio::awaitable<void> session_ops::apply_meta(const platform::secret& token,
                                              const boost::json::value& listing) {
    const auto* tokens = listing.is_object() ? listing.get_object().if_contains("tokens") : nullptr;
    if (tokens == nullptr || !tokens->is_array()) {
        log_warning("GET /v1/access_token answered without a token list");
        co_return;
    }
    for (const auto& row : tokens->get_array()) {
        const auto* o = row.if_object();
        if (o == nullptr) {
            continue;
        }
        const auto* active = o->if_contains("currently_active");
        if (active == nullptr || !active->is_bool() || !active->get_bool()) {
            continue;
        }
        token_meta meta;
        meta.known = true;
        if (const auto* p = str_arg(*o, "token_prefix")) {
            meta.token_prefix = std::string(*p);
        }
        if (const auto* e = o->if_contains("expiry_time")) {
            meta.expiry_time = *e;
        }
        if (const auto* m = o->if_contains("max_age_seconds")) {
            meta.max_age_seconds = *m;
        }
        if (const auto* x = o->if_contains("extend_when_used"); x != nullptr && x->is_bool()) {
            meta.extend_when_used = x->get_bool();
        }
        // Applied only if the session did not change while we asked.
        if (auto ok = co_await sessions_.update_meta(token, std::move(meta)); !ok) {
            log_warning("cannot store the session's metadata: " + ok.error().message);
        }
        co_return;
    }
}

asio::awaitable<outcome> session_ops::rejected(bool with_session, const api::error& e,
                                               bool forbidden_means_dead) {
    const bool dead = e.kind == api::error_kind::http_status &&
                      (e.status == 401 || (forbidden_means_dead && e.status == 403));
    if (with_session && dead) {
        // The API no longer takes the session token: say so and forget it,
        // rather than keep failing with a session that looks alive.
        std::string why = "the API refused the session token (" + e.api_message + ")";
        if (auto ok = co_await sessions_.clear(std::move(why)); !ok) {
            log_warning("cannot remove the dead session: " + ok.error().message);
        }
    }
    co_return api_failure(e);
}

asio::awaitable<std::optional<outcome>> session_ops::credentials_for(const args_t& a,
                                                                     credentials& c) {
    if (!a.contains("auth_token") && sessions_.restore_error()) {
        // The store could not be read at start (locked, hung, absent):
        // try again now, and say why when it still cannot.
        co_await restore();
        if (const auto& e = sessions_.restore_error()) {
            co_return store_failure_reply(*e, "cannot read the session from the store: ");
        }
    }
    co_return pick_credentials(a, sessions_, c);
}

asio::awaitable<void> session_ops::restore() {
    co_await load_stored();
    co_await check_restored();
}

asio::awaitable<void> session_ops::load_stored() {
    if (auto ok = co_await sessions_.restore(); !ok) {
        log_warning("cannot restore the session from the " +
                    std::string(sessions_.store_backend()) + " store: " + ok.error().message);
    }
}

asio::awaitable<void> session_ops::check_restored() {
    const session* s = sessions_.current();
    if (s == nullptr) {
        co_return;
    }
    platform::secret token = s->token.clone();
    auto r = co_await api_.request(verb::get, "/v1/access_token", nullptr, &token);
    if (!r) {
        const api::error e = r.error();
        if (api::token_refused(e)) {
            std::string why =
                "the stored session was no longer valid (" + e.api_message + "); log in again";
            if (auto ok = co_await sessions_.clear(std::move(why)); !ok) {
                log_warning("cannot remove the dead session: " + ok.error().message);
            }
        } else {
            log_warning("cannot check the restored session now: " + e.message);
        }
        co_return;
    }
    // The same listing says the session's expiry: no second request.
    co_await apply_meta(token, r->body);
}

asio::awaitable<outcome> session_ops::start_session(std::string email, platform::secret token) {
    session s;
    s.email = std::move(email);
    s.token = std::move(token);
    if (auto ok = co_await sessions_.adopt(std::move(s)); !ok) {
        co_return store_failure(ok.error());
    }
    co_await refresh_meta();
    boost::json::object r;
    r["user_email"] = sessions_.current() != nullptr ? sessions_.current()->email : "";
    co_return outcome::success(std::move(r));
}

asio::awaitable<bool> session_ops::drop_session_if_dead(const std::string& why) {
    const session* s = sessions_.current();
    if (s == nullptr) {
        co_return false;
    }
    platform::secret token = s->token.clone();
    auto r = co_await api_.request(verb::get, "/v1/me", nullptr, &token);
    if (r || !api::token_refused(r.error())) {
        co_return false;
    }
    if (const session* now = sessions_.current(); now != nullptr && now->token.equals(token)) {
        if (auto ok = co_await sessions_.clear(why); !ok) {
            log_warning("cannot remove the session from the store: " + ok.error().message);
        }
        co_return true;
    }
    co_return false;
}

asio::awaitable<outcome> session_ops::login(const args_t& a) {
    const auto* email = str_arg(a, "email");
    const auto* password = str_arg(a, "password");
    if (email == nullptr || email->empty() || password == nullptr) {
        co_return missing("login", "\"email\" and \"password\"");
    }
    boost::json::object body(protocol::wiping_storage());
    body["email"] = *email;
    body["password"] = *password;
    if (const auto* otp = str_arg(a, "otp"); otp != nullptr && !otp->empty()) {
        body["otp"] = *otp;
    }
    if (const auto* tenant = str_arg(a, "tenant"); tenant != nullptr && !tenant->empty()) {
        body["tenant"] = *tenant;
    }
    const boost::json::value jv(std::move(body), protocol::wiping_storage());
    auto r = co_await api_.request(verb::post, "/v1/userauth", &jv, nullptr);
    if (!r) {
        outcome out = api_failure(r.error());
        if (r.error().kind == api::error_kind::http_status && r.error().status == 510) {
            out.err.code = errc::otp_required;
            out.err.message = "two-factor authentication code required";
        }
        co_return out;
    }
    const auto* o = r->body.if_object();
    const auto* token = o != nullptr ? str_arg(*o, "token") : nullptr;
    if (token == nullptr || token->empty()) {
        co_return outcome::failure(errc::network_error, "the API's login reply has no token");
    }
    const auto* user_email = str_arg(*o, "user_email");
    std::string who(user_email != nullptr ? std::string_view(*user_email)
                                          : std::string_view(*email));
    platform::secret kept{std::string_view(*token)};
    co_return co_await start_session(std::move(who), std::move(kept));
}

asio::awaitable<outcome> session_ops::login_token(const args_t& a) {
    const auto* token = str_arg(a, "token");
    if (token == nullptr || token->empty()) {
        co_return missing("login_token", "\"token\"");
    }
    platform::secret t{std::string_view(*token)};
    // avn keeps a token without looking at it; we ask the API first, so a
    // mistyped or dead token is refused now rather than at the next command.
    auto r = co_await api_.request(verb::get, "/v1/me", nullptr, &t);
    if (!r) {
        co_return api_failure(r.error());
    }
    const auto* user = r->body.is_object() ? r->body.get_object().if_contains("user") : nullptr;
    const auto* email =
        user != nullptr && user->is_object() ? str_arg(user->get_object(), "user") : nullptr;
    std::string who = email != nullptr ? std::string(*email) : std::string();
    if (who.empty()) {
        if (const auto* given = str_arg(a, "email")) {
            who = std::string(*given);
        }
    }
    co_return co_await start_session(std::move(who), std::move(t));
}

asio::awaitable<outcome> session_ops::logout(const args_t& a) {
    bool revoke = true;
    if (const auto* v = a.if_contains("revoke"); v != nullptr && v->is_bool()) {
        revoke = v->get_bool();
    }
    credentials c;
    if (auto fail = co_await credentials_for(a, c)) {
        // The agent itself ended the session (the API stopped accepting it):
        // logging out is then already done, not an error.
        const std::string& why = sessions_.cleared_why();
        if (!why.empty() && why != logged_out) {
            boost::json::object done;
            done["revoked"] = false;
            done["reason"] = "no session to log out of: " + why;
            co_return outcome::success(std::move(done));
        }
        co_return std::move(*fail);
    }
    if (before_logout && c.is_session) {
        co_await before_logout();
    }
    boost::json::object result;
    if (!revoke) {
        result["revoked"] = false;
        result["reason"] = "not revoked on request (--no-token-revoke)";
    } else {
        std::string path = "/v1/access_token/" + api::encode_path_segment(c.token.expose());
        auto r = co_await api_.request(verb::delete_, path, nullptr, &c.token);
        platform::wipe(path);  // it holds the token
        if (r) {
            result["revoked"] = true;
        } else if (api::token_refused(r.error()) ||
                   (r.error().kind == api::error_kind::http_status && r.error().status == 404)) {
            // avn keeps its file when the revoke fails, so an expired token
            // blocks logout; the token is gone either way, so we clear.
            result["revoked"] = false;
            result["reason"] = "the token was already invalid (" + r.error().api_message + ")";
        } else {
            co_return api_failure(r.error());
        }
    }
    // A store that cannot erase the item does not undo the logout: clear()
    // ends the session in memory and logs it; the item left behind is checked
    // with the API, and dropped, at the next start.
    co_await sessions_.clear(std::string(logged_out));
    co_return outcome::success(std::move(result));
}

asio::awaitable<outcome> session_ops::forward(const args_t& a, verb method, std::string path,
                                              const boost::json::value* body) {
    credentials c;
    if (auto fail = co_await credentials_for(a, c)) {
        co_return std::move(*fail);
    }
    auto r = co_await api_.request(method, std::move(path), body, &c.token);
    if (!r) {
        const api::error e = r.error();
        co_return co_await rejected(c.is_session, e, true);
    }
    co_return outcome::success(std::move(r->body));
}

asio::awaitable<outcome> session_ops::user_info(const args_t& a) {
    co_return co_await forward(a, verb::get, "/v1/me", nullptr);
}

asio::awaitable<outcome> session_ops::tokens_expire(const args_t& a) {
    credentials c;
    if (auto fail = co_await credentials_for(a, c)) {
        co_return std::move(*fail);
    }
    auto r = co_await api_.request(verb::post, "/v1/me/expire_tokens", nullptr, &c.token);
    if (!r) {
        const api::error e = r.error();
        co_return co_await rejected(c.is_session, e, true);
    }
    bool cleared = false;
    if (c.is_session) {
        // Every token issued before now is invalid, the session's too.
        co_await sessions_.clear("tokens expired (tokens-expire)");  // see logout
        cleared = true;
    } else {
        cleared = co_await drop_session_if_dead("tokens expired (tokens-expire)");
    }
    boost::json::value body = std::move(r->body);
    if (body.is_object()) {
        body.get_object()["session_cleared"] = cleared;
    }
    co_return outcome::success(std::move(body));
}

asio::awaitable<outcome> session_ops::password_change(const args_t& a) {
    const auto* password = str_arg(a, "password");
    const auto* new_password = str_arg(a, "new_password");
    if (password == nullptr || new_password == nullptr) {
        co_return missing("password_change", "\"password\" and \"new_password\"");
    }
    credentials c;
    if (auto fail = co_await credentials_for(a, c)) {
        co_return std::move(*fail);
    }
    boost::json::object body(protocol::wiping_storage());
    body["password"] = *password;
    body["new_password"] = *new_password;
    const boost::json::value jv(std::move(body), protocol::wiping_storage());
    auto r = co_await api_.request(verb::put, "/v1/me/password", &jv, &c.token);
    if (!r) {
        const api::error e = r.error();
        co_return co_await rejected(c.is_session, e, false);
    }
    const auto* o = r->body.if_object();
    const auto* token = o != nullptr ? str_arg(*o, "token") : nullptr;
    boost::json::object result;
    if (c.is_session && token != nullptr && !token->empty() && sessions_.current() != nullptr) {
        // The API invalidated every older token and handed us a new one:
        // keep it, so the user stays logged in (avn drops it).
        platform::secret kept{std::string_view(*token)};
        auto out = co_await start_session(sessions_.current()->email, std::move(kept));
        if (!out.ok) {
            co_return out;
        }
        result["session_kept"] = true;
    } else {
        result["session_kept"] = false;
        result["session_cleared"] = co_await drop_session_if_dead("password changed");
    }
    co_return outcome::success(std::move(result));
}

asio::awaitable<outcome> session_ops::user_create(const args_t& a) {
    const auto* email = str_arg(a, "email");
    const auto* real_name = str_arg(a, "real_name");
    const auto* password = str_arg(a, "password");
    if (email == nullptr || email->empty() || real_name == nullptr || password == nullptr) {
        co_return missing("user_create", "\"email\", \"real_name\" and \"password\"");
    }
    boost::json::object body(protocol::wiping_storage());
    body["email"] = *email;
    body["real_name"] = *real_name;
    body["password"] = *password;
    const boost::json::value jv(std::move(body), protocol::wiping_storage());
    auto r = co_await api_.request(verb::post, "/v1/user", &jv, nullptr);
    if (!r) {
        co_return api_failure(r.error());
    }
    const auto* o = r->body.if_object();
    const auto* token = o != nullptr ? str_arg(*o, "token") : nullptr;
    if (token == nullptr || token->empty()) {
        co_return outcome::failure(errc::network_error, "the API's reply has no token");
    }
    platform::secret kept{std::string_view(*token)};
    co_return co_await start_session(std::string(*email), std::move(kept));
}

asio::awaitable<outcome> session_ops::access_token_create(const args_t& a) {
    const auto* description = str_arg(a, "description");
    if (description == nullptr) {
        co_return missing("access_token_create", "\"description\"");
    }
    // A present argument of the wrong type is refused, never dropped: a
    // dropped `scopes` or `max_age_seconds` would make a token with more
    // power or a longer life than asked for.
    const auto* extend = a.if_contains("extend_when_used");
    const auto* max_age = a.if_contains("max_age_seconds");
    const auto* scopes = a.if_contains("scopes");
    if ((extend != nullptr && !extend->is_bool()) ||
        (max_age != nullptr && !max_age->is_number() && !max_age->is_null()) ||
        (scopes != nullptr && !scopes->is_array())) {
        co_return outcome::failure(errc::bad_request,
                                   "access_token_create: \"extend_when_used\" must be a boolean, "
                                   "\"max_age_seconds\" a number and \"scopes\" a list");
    }
    boost::json::object body;
    body["description"] = *description;
    body["extend_when_used"] = extend != nullptr && extend->get_bool();
    body["max_age_seconds"] = max_age != nullptr ? *max_age : nullptr;
    if (scopes != nullptr) {
        body["scopes"] = *scopes;
    }
    const boost::json::value jv(std::move(body));
    co_return co_await forward(a, verb::post, "/v1/access_token", &jv);
}

asio::awaitable<outcome> session_ops::access_token_list(const args_t& a) {
    co_return co_await forward(a, verb::get, "/v1/access_token", nullptr);
}

asio::awaitable<outcome> session_ops::access_token_update(const args_t& a) {
    const auto* prefix = str_arg(a, "token_prefix");
    const auto* description = str_arg(a, "description");
    if (prefix == nullptr || prefix->empty() || description == nullptr) {
        co_return missing("access_token_update", "\"token_prefix\" and \"description\"");
    }
    const boost::json::value body = {{"description", *description}};
    co_return co_await forward(a, verb::put,
                               "/v1/access_token/" + api::encode_path_segment(*prefix), &body);
}

asio::awaitable<outcome> session_ops::access_token_revoke(const args_t& a) {
    const auto* prefix = str_arg(a, "token_prefix");
    if (prefix == nullptr || prefix->empty()) {
        co_return missing("access_token_revoke", "\"token_prefix\"");
    }
    credentials c;
    if (auto fail = co_await credentials_for(a, c)) {
        co_return std::move(*fail);
    }
    const std::string target(*prefix);
    auto r = co_await api_.request(
        verb::delete_, "/v1/access_token/" + api::encode_path_segment(target), nullptr, &c.token);
    if (!r) {
        const api::error e = r.error();
        co_return co_await rejected(c.is_session, e, true);
    }
    // Revoking the session's own token ends the session.
    bool cleared = false;
    if (const session* s = sessions_.current(); s != nullptr && s->token.starts_with(target)) {
        co_await sessions_.clear("its token was revoked");  // see logout
        cleared = true;
    }
    boost::json::value body = std::move(r->body);
    if (body.is_object()) {
        body.get_object()["session_cleared"] = cleared;
    }
    co_return outcome::success(std::move(body));
}

}  // namespace avn::agent
