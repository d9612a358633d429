#include "agent/session.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <ctime>

#include "agent/iso8601.hpp"
#include "agent/log.hpp"
#include "protocol/codec.hpp"

namespace avn::agent {

platform::secret encode_session(const session& s) {
    boost::json::object o(protocol::wiping_storage());
    o["v"] = 1;
    o["email"] = s.email;
    o["token"] = s.token.expose();
    o["token_prefix"] = s.meta.token_prefix;
    o["expiry_time"] = s.meta.expiry_time;
    o["max_age_seconds"] = s.meta.max_age_seconds;
    o["extend_when_used"] = s.meta.extend_when_used;
    o["meta_known"] = s.meta.known;
    o["logged_in_at"] =
        std::chrono::duration_cast<std::chrono::seconds>(s.logged_in_at.time_since_epoch()).count();
    std::string text = boost::json::serialize(o);
    return platform::secret::take(text);
}

std::optional<session> decode_session(const platform::secret& payload) {
    boost::system::error_code ec;
    auto jv = boost::json::parse(payload.expose(), ec, protocol::wiping_storage());
    const auto* o = jv.if_object();
    if (ec || o == nullptr) {
        return std::nullopt;
    }
    const auto* email = o->if_contains("email");
    const auto* token = o->if_contains("token");
    if (email == nullptr || !email->is_string() || token == nullptr || !token->is_string() ||
        token->get_string().empty()) {
        return std::nullopt;
    }
    session s;
    s.email = std::string(email->get_string());
    s.token = platform::secret(std::string_view(token->get_string()));
    if (const auto* p = o->if_contains("token_prefix"); p != nullptr && p->is_string()) {
        s.meta.token_prefix = std::string(p->get_string());
    }
    if (const auto* e = o->if_contains("expiry_time"); e != nullptr) {
        s.meta.expiry_time = *e;
    }
    if (const auto* m = o->if_contains("max_age_seconds"); m != nullptr) {
        s.meta.max_age_seconds = *m;
    }
    if (const auto* x = o->if_contains("extend_when_used"); x != nullptr && x->is_bool()) {
        s.meta.extend_when_used = x->get_bool();
    }
    if (const auto* k = o->if_contains("meta_known"); k != nullptr && k->is_bool()) {
        s.meta.known = k->get_bool();
    }
    if (const auto* t = o->if_contains("logged_in_at"); t != nullptr && t->is_int64()) {
        s.logged_in_at =
            std::chrono::system_clock::time_point(std::chrono::seconds(t->get_int64()));
    }
    return s;
}

platform::store_key session_manager::key(const std::string& email) const {
    return platform::store_key{api_url_, "session", "", email};
}

asio::awaitable<platform::store_result<void>> session_manager::adopt(session s) {
    auto payload = std::make_shared<platform::secret>(encode_session(s));
    auto job = [k = key(s.email), payload](platform::secret_store& st) {
        return st.put(k, *payload);
    };
    auto ok = co_await store_.run(std::move(job));
    if (!ok) {
        co_return ok;
    }
    if (current_ && current_->email != s.email) {
        log_info("session of " + current_->email + " replaced");
    }
    log_info("logged in as " + s.email);
    current_ = std::move(s);
    cleared_why_.clear();
    if (on_change) {
        on_change();
    }
    co_return ok;
}

asio::awaitable<platform::store_result<void>> session_manager::update_meta(
    const platform::secret& token, token_meta meta) {
    if (!current_ || !current_->token.equals(token)) {
        co_return platform::store_result<void>();
    }
    session updated{current_->email, current_->token.clone(), std::move(meta),
                    current_->logged_in_at};
    auto payload = std::make_shared<platform::secret>(encode_session(updated));
    auto job = [k = key(updated.email), payload](platform::secret_store& st) {
        return st.put(k, *payload);
    };
    auto ok = co_await store_.run(std::move(job));
    if (ok && current_ && current_->token.equals(updated.token)) {
        current_ = std::move(updated);
    }
    co_return ok;
}

asio::awaitable<platform::store_result<void>> session_manager::clear(std::string why) {
    if (!current_) {
        cleared_why_ = std::move(why);
        co_return platform::store_result<void>();
    }
    const std::string email = current_->email;
    auto job = [k = key(email)](platform::secret_store& st) { return st.erase(k); };
    auto ok = co_await store_.run(std::move(job));
    if (!ok) {
        // The session ends all the same: its token may already be revoked,
        // and a session that looks alive but is not would be worse. A left-
        // over item is checked with the API (and dropped) at the next start.
        log_warning("session of " + email +
                    " ended, but its item stays in the store: " + ok.error().message);
    }
    if (current_ && current_->email == email) {
        log_info("session of " + email + " cleared: " + why);
        current_.reset();
        cleared_why_ = std::move(why);
        if (on_change) {
            on_change();
        }
    }
    co_return ok;
}

asio::awaitable<platform::store_result<void>> session_manager::restore() {
    const std::string url = api_url_;
    auto job =
        [url](
            platform::secret_store& st) -> platform::store_result<std::optional<platform::secret>> {
        auto keys = st.list();
        if (!keys) {
            return keys.error();
        }
        for (const auto& k : *keys) {
            if (k.api_url == url && k.kind == "session") {
                return st.get(k);
            }
        }
        return std::optional<platform::secret>();
    };
    auto found = co_await store_.run(std::move(job));
    if (!found) {
        restore_error_ = found.error();
        co_return found.error();
    }
    restore_error_.reset();
    if (!*found) {
        co_return platform::store_result<void>();
    }
    if (auto s = decode_session(**found)) {
        log_info("restored the session of " + s->email + " from the " +
                 std::string(store_.backend()) + " store");
        current_ = std::move(*s);
        co_return platform::store_result<void>();
    }
    co_return platform::store_error{platform::store_errc::corrupt,
                                    "the stored session cannot be read; log in again"};
}

boost::json::value session_manager::status(const boost::json::storage_ptr& sp) const {
    boost::json::object o(sp);
    o.reserve(10);
    o["api_url"] = api_url_;
    o["store"] = store_.backend();
    o["logged_in"] = current_.has_value();
    if (current_) {
        o["user_email"] = current_->email;
        o["token_prefix"] = current_->meta.token_prefix;
        o["expiry_time"] = current_->meta.expiry_time;
        o["max_age_seconds"] = current_->meta.max_age_seconds;
        o["extend_when_used"] = current_->meta.extend_when_used;
        o["logged_in_at"] = format_iso8601(current_->logged_in_at);
    } else if (!cleared_why_.empty()) {
        o["cleared"] = cleared_why_;
    }
    if (restore_error_) {
        o["restore_error"] = restore_error_->message;
        o["restore_code"] = protocol::to_string(keyring_errc(*restore_error_));
    }
    return o;
}

}  // namespace avn::agent
