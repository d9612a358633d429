#include "agent/token_keeper.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "agent/log.hpp"
#include "agent/session_ops.hpp"
#include "protocol/codec.hpp"

namespace avn::agent {

namespace {

using boost::beast::http::verb;
using protocol::errc;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::optional<std::int64_t> int_arg(const boost::json::object& a, std::string_view key) {
    const auto* v = a.if_contains(key);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (v->is_int64()) {
        return v->get_int64();
    }
    if (v->is_uint64() && v->get_uint64() < (1ULL << 62)) {
        return static_cast<std::int64_t>(v->get_uint64());
    }
    // Doubles within range only: casting a larger one is undefined.
    if (v->is_double() && std::abs(v->get_double()) < 0x1p62) {
        return static_cast<std::int64_t>(v->get_double());
    }
    return std::nullopt;
}

bool valid_name(std::string_view n) {
    if (n.empty() || n.size() > 64) {
        return false;
    }
    for (char c : n) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::string host_name() {
    char buf[256] = "";
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "this host";
    }
    return buf;
}

std::string seconds_text(std::chrono::steady_clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

steady_time server_clock::steady_now() const {
    return std::chrono::steady_clock::now() + offset_;
}

sys_time server_clock::now() const {
    if (!server_anchor_) {
        return std::chrono::system_clock::now() +
               std::chrono::duration_cast<std::chrono::system_clock::duration>(offset_);
    }
    return *server_anchor_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 steady_now() - steady_anchor_);
}

void server_clock::observe(std::optional<sys_time> server_date) {
    if (server_date) {
        server_anchor_ = *server_date;
        steady_anchor_ = steady_now();
    }
}

// A refresh or a creation that concurrent callers share: the first caller
// runs it, the others wait for `done`.
struct token_keeper::in_flight {
    explicit in_flight(const asio::any_io_executor& ex) : done(ex) {
        done.expires_at(asio::steady_timer::time_point::max());
    }
    void finish() {
        finished = true;
        done.cancel();
    }
    asio::awaitable<void> wait() {
        if (!finished) {
            co_await done.async_wait(use_tuple);
        }
    }
    asio::steady_timer done;
    bool finished = false;
    bool ok = false;
    outcome result;
};

token_keeper::token_keeper(asio::any_io_executor ex, api::client& api, session_manager& sessions,
                           store_runner& store, keeper_config cfg)
    : ex_(ex),
      api_(api),
      sessions_(sessions),
      store_(store),
      cfg_(cfg),
      wake_(ex),
      rng_(std::random_device{}()) {}

void token_keeper::register_with(dispatcher& d) {
    d.add(
        "token", [this](protocol::request& req, const client_info&) { return token_now(req.args); },
        [this](protocol::request& req, const client_info&) { return token_op(req.args); });
    d.add("token_check",
          [this](protocol::request& req, const client_info&) { return token_check_op(req.args); });
    if (cfg_.test_clock) {
        d.add("debug_advance_clock",
              [this](protocol::request& req, const client_info&) -> asio::awaitable<outcome> {
                  const auto s = int_arg(req.args, "seconds").value_or(0);
                  clock_.advance(std::chrono::seconds(s));
                  // Settle: run what fell due before answering, so a test sees the
                  // agent\'s reaction to the jump deterministically.
                  co_await run_due();
                  kick();
                  co_return outcome::success(
                      boost::json::object{{"server_now", format_iso8601(clock_.now())}});
              });
    }
    d.add_status_section("tokens", [this](const boost::json::storage_ptr& sp) {
        session_entry();  // follow a login or logout since the last look
        return status(sp);
    });
}

void token_keeper::start() {
    if (!started_) {
        started_ = true;
        asio::co_spawn(ex_, run_scheduler(), asio::detached);
    }
}

void token_keeper::kick() {
    wake_.cancel();
}

token_keeper::kept* token_keeper::find(const std::string& name) {
    auto it = tokens_.find(name);
    return it == tokens_.end() ? nullptr : &it->second;
}

token_keeper::kept* token_keeper::session_entry() {
    const session* s = sessions_.current();
    if (s == nullptr) {
        tokens_.erase("");
        return nullptr;
    }
    kept* k = find("");
    // A new session, or the first news of its metadata (a login is
    // announced before the API has told its expiry).
    const bool same = k != nullptr && k->token.equals(s->token);
    if (same && (k->meta_known || !s->meta.known)) {
        return k;
    }
    kept fresh;
    fresh.token = s->token.clone();
    fresh.prefix = s->meta.token_prefix;
    fresh.meta_known = s->meta.known;
    if (s->meta.expiry_time.is_string()) {
        fresh.expiry = parse_iso8601(s->meta.expiry_time.get_string());
    }
    if (s->meta.max_age_seconds.is_number()) {
        fresh.max_age = static_cast<std::int64_t>(s->meta.max_age_seconds.to_number<double>());
    }
    fresh.extend_when_used = s->meta.extend_when_used;
    if (same) {
        fresh.last_requested = k->last_requested;
        fresh.last_extended = k->last_extended;
        fresh.refreshing = k->refreshing;
    }
    tokens_[""] = std::move(fresh);
    k = find("");
    plan(*k);
    return k;
}

std::chrono::seconds token_keeper::backoff(int failures) {
    // About 1 s, doubling, capped at 5 min, with ±20 % jitter so that many
    // agents do not retry in step.
    double base = static_cast<double>(cfg_.backoff_min.count());
    for (int i = 1; i < failures && base < static_cast<double>(cfg_.backoff_max.count()); ++i) {
        base *= 2;
    }
    base = std::min(base, static_cast<double>(cfg_.backoff_max.count()));
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return std::chrono::seconds(
        std::max<std::int64_t>(1, static_cast<std::int64_t>(base * jitter(rng_))));
}

void token_keeper::plan(kept& k) {
    k.next_check.reset();
    if (k.name.empty() && !k.meta_known) {
        // The session's expiry is not known (the API did not say at login):
        // ask again, backing off, rather than serve it without a lifetime.
        k.next_check = clock_.steady_now() +
                       std::max<std::chrono::seconds>(cfg_.meta_retry, backoff(k.failures + 1));
        return;
    }
    if (!k.expiry || k.max_age <= 0) {
        return;  // never expires, or nothing known to plan with
    }
    const auto now = clock_.steady_now();
    const auto max_age = std::chrono::seconds(k.max_age);
    if (!k.name.empty() && (!k.last_requested || now - *k.last_requested > max_age)) {
        return;  // a derived token nobody asked for: let it expire
    }
    if (k.name.empty() && !k.extend_when_used) {
        return;  // a session token that cannot be extended: nothing to do
    }
    const auto remaining = *k.expiry - clock_.now();
    const auto lead = std::chrono::duration_cast<std::chrono::seconds>(max_age * cfg_.extend_at);
    std::uniform_int_distribution<std::int64_t> jitter(0,
                                                       std::max<std::int64_t>(1, k.max_age / 30));
    const auto delay = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        remaining - lead - std::chrono::seconds(jitter(rng_)));
    k.next_check = now + std::max(delay, std::chrono::steady_clock::duration::zero());
}

void token_keeper::apply_row(kept& k, const boost::json::object& row) {
    if (const auto* p = str_arg(row, "token_prefix")) {
        k.prefix = std::string(*p);
    }
    if (const auto* e = row.if_contains("expiry_time")) {
        k.expiry = e->is_string() ? parse_iso8601(e->get_string()) : std::nullopt;
    }
    if (const auto* m = row.if_contains("max_age_seconds"); m != nullptr && m->is_number()) {
        k.max_age = static_cast<std::int64_t>(m->to_number<double>());
    }
    if (const auto* x = row.if_contains("extend_when_used"); x != nullptr && x->is_bool()) {
        k.extend_when_used = x->get_bool();
    }
}

asio::awaitable<void> token_keeper::run_scheduler() {
    for (;;) {
        const session* s = sessions_.current();
        const bool other_user = s != nullptr && !owner_.empty() && s->email != owner_;
        if ((session_entry() == nullptr && !tokens_.empty()) || other_user) {
            // The session ended without a logout (expired, refused, tokens
            // expired): its derived tokens go too, store items included.
            co_await forget_all();
            owner_.clear();
            session_entry();
        }
        std::optional<steady_time> due;
        for (const auto& [name, k] : tokens_) {
            if (k.next_check && (!due || *k.next_check < *due)) {
                due = k.next_check;
            }
        }
        if (due) {
            wake_.expires_after(
                std::max(*due - clock_.steady_now(), std::chrono::steady_clock::duration::zero()));
        } else {
            wake_.expires_at(asio::steady_timer::time_point::max());
        }
        co_await wake_.async_wait(use_tuple);
        co_await run_due();
    }
}

asio::awaitable<void> token_keeper::run_due() {
    session_entry();
    std::vector<std::string> names;
    const auto now = clock_.steady_now();
    for (const auto& [name, k] : tokens_) {
        if (k.next_check && *k.next_check <= now) {
            names.push_back(name);
        }
    }
    for (const auto& name : names) {
        kept* k = find(name);
        if (k == nullptr) {
            continue;
        }
        if (!k->name.empty() && (!k->last_requested || clock_.steady_now() - *k->last_requested >
                                                           std::chrono::seconds(k->max_age))) {
            log_info("derived token '" + name +
                     "' was not asked for in its max age; letting it expire");
            k->next_check.reset();
            continue;
        }
        if (!k->name.empty() && !k->extend_when_used) {
            // Using it would not extend it: replace it before it ends
            // (create the new one, hand it out, revoke the old).
            const auto max_age = k->max_age;
            boost::json::value scopes = k->scopes;
            auto out = co_await create_derived(name, max_age, std::move(scopes));
            if (!out.ok) {
                log_warning("cannot replace token '" + name + "': " + out.err.message);
            }
            continue;
        }
        co_await refresh(name);
    }
}

asio::awaitable<bool> token_keeper::refresh(std::string name) {
    kept* k = find(name);
    if (k == nullptr) {
        co_return false;
    }
    if (k->refreshing) {
        auto op = k->refreshing;
        co_await op->wait();
        co_return op->ok;
    }
    auto op = std::make_shared<in_flight>(ex_);
    k->refreshing = op;
    const bool ok = co_await do_refresh(name);
    op->ok = ok;
    op->finish();
    if (kept* again = find(name); again != nullptr && again->refreshing == op) {
        again->refreshing.reset();
    }
    co_return ok;
}

asio::awaitable<bool> token_keeper::do_refresh(const std::string& name) {
    kept* k = find(name);
    if (k == nullptr) {
        co_return false;
    }
    // One cheap authenticated call extends the token that makes it, and the
    // listing tells the new expiry of every token of the user.
    platform::secret token = k->token.clone();
    auto r = co_await api_.request(verb::get, "/v1/access_token", nullptr, &token);
    k = find(name);
    if (k == nullptr || !k->token.equals(token)) {
        co_return false;  // replaced or dropped meanwhile
    }
    if (r) {
        clock_.observe(r->server_date);
        const auto* rows =
            r->body.is_object() ? r->body.get_object().if_contains("tokens") : nullptr;
        if (rows != nullptr && rows->is_array()) {
            for (const auto& row : rows->get_array()) {
                const auto* o = row.if_object();
                if (o == nullptr) {
                    continue;
                }
                const auto* active = o->if_contains("currently_active");
                if (active != nullptr && active->is_bool() && active->get_bool()) {
                    apply_row(*k, *o);
                }
            }
        }
        k->failures = 0;
        k->last_error.clear();
        k->last_extended = clock_.now();
        k->meta_known = true;
        plan(*k);
        if (name.empty()) {
            token_meta meta;
            meta.known = true;
            meta.token_prefix = k->prefix;
            meta.expiry_time = k->expiry ? boost::json::value(format_iso8601(*k->expiry))
                                         : boost::json::value(nullptr);
            meta.max_age_seconds = k->max_age;
            meta.extend_when_used = k->extend_when_used;
            if (auto ok = co_await sessions_.update_meta(token, std::move(meta)); !ok) {
                log_warning("cannot store the session's new expiry: " + ok.error().message);
            }
        } else {
            co_await persist(*k);
        }
        co_return true;
    }
    const api::error e = r.error();
    if (api::token_refused(e)) {
        if (name.empty()) {
            std::string why = "the API refused the session token while extending it (" +
                              e.api_message + "); log in again";
            log_warning(why);
            if (auto ok = co_await sessions_.clear(std::move(why)); !ok) {
                log_warning("cannot remove the dead session: " + ok.error().message);
            }
            co_await forget_all();
        } else {
            log_warning("derived token '" + name + "' was refused by the API (" + e.api_message +
                        "); it is re-created on the next request");
            tokens_.erase(name);
            co_await erase_stored(name);
        }
        co_return false;
    }
    // Network trouble, timeouts, 5xx, 429: the token is still valid until
    // its expiry, so keep serving it and try again later.
    k->failures += 1;
    k->last_error = e.message;
    const auto wait = backoff(k->failures);
    k->next_check = clock_.steady_now() + wait;
    log_warning("extending " +
                (name.empty() ? std::string("the session token") : "token '" + name + "'") +
                " failed (" + std::to_string(k->failures) + " in a row): " + e.message +
                "; retrying in " + seconds_text(wait));
    co_return false;
}

asio::awaitable<outcome> token_keeper::create_derived(std::string name, std::int64_t max_age,
                                                      boost::json::value scopes) {
    if (auto it = creating_.find(name); it != creating_.end()) {
        auto op = it->second;
        co_await op->wait();
        co_return op->result;
    }
    auto op = std::make_shared<in_flight>(ex_);
    creating_[name] = op;
    const session* s = sessions_.current();
    outcome out;
    if (s == nullptr) {
        out = outcome::failure(errc::not_logged_in, not_logged_in_message);
    } else {
        platform::secret session_token = s->token.clone();
        boost::json::object body;
        body["description"] = "avn-agent " + name + " on " + host_name();
        body["extend_when_used"] = true;
        body["max_age_seconds"] = max_age;
        if (!scopes.is_null()) {
            body["scopes"] = scopes;
        }
        const boost::json::value jv(std::move(body));
        auto r = co_await api_.request(verb::post, "/v1/access_token", &jv, &session_token);
        const auto* o = r ? r->body.if_object() : nullptr;
        const auto* full = o != nullptr ? str_arg(*o, "full_token") : nullptr;
        if (!r) {
            out = api_failure(r.error());
        } else if (full == nullptr || full->empty()) {
            out = outcome::failure(errc::network_error, "the API's reply has no full_token");
        } else {
            clock_.observe(r->server_date);
            kept k;
            k.name = name;
            k.token = platform::secret(std::string_view(*full));
            k.scopes = scopes;
            apply_row(k, *o);
            k.last_requested = clock_.steady_now();
            std::optional<platform::secret> old;
            if (kept* prev = find(name)) {
                old = prev->token.clone();
            }
            tokens_[name] = std::move(k);
            if (const session* owner = sessions_.current()) {
                owner_ = owner->email;
            }
            kept& now = tokens_[name];
            plan(now);
            // `now` may be erased (logout, token_check) while the store works.
            const std::string prefix = now.prefix;
            co_await persist(now);
            log_info("created derived token '" + name + "' (" + prefix + "…)");
            if (old) {
                // Replaced: the old one goes, so tokens do not pile up
                // against the API's limit.
                std::string path = "/v1/access_token/" + api::encode_path_segment(old->expose());
                auto gone = co_await api_.request(verb::delete_, path, nullptr, &session_token);
                platform::wipe(path);  // it holds the token
                if (!gone && !api::token_refused(gone.error()) && gone.error().status != 404) {
                    log_warning("cannot revoke the replaced token '" + name +
                                "': " + gone.error().message);
                }
            }
            out = outcome::success(nullptr);
            kick();
        }
    }
    op->result = out;
    op->finish();
    creating_.erase(name);
    co_return out;
}

// A `token` request is planned by `next_token_step`, which either answers or
// names one API step to take first; `token_op` takes the steps. Each kind of
// step is taken at most once per request (`created`, `refreshed`), so a
// request ends after at most two of them. When the first plan is an answer,
// as it is for a token that is fresh enough, `token_now` gives it without a
// coroutine.
token_keeper::token_step token_keeper::next_token_step(const boost::json::object& a, bool created,
                                                       bool refreshed) {
    const auto answer = [](outcome o) {
        token_step s;
        s.answer = std::move(o);
        return s;
    };
    const auto asked_ttl = int_arg(a, "min_ttl");
    const auto min_ttl = asked_ttl.value_or(0);
    if ((a.contains("min_ttl") && !asked_ttl) || min_ttl < 0 || min_ttl > 315360000) {
        return answer(
            outcome::failure(errc::bad_request, "\"min_ttl\" must be 0..315360000 seconds"));
    }
    std::string name;
    if (const auto* n = str_arg(a, "name")) {
        name = std::string(*n);
        if (!valid_name(name)) {
            return answer(
                outcome::failure(errc::bad_request, "a token name is 1-64 of A-Z a-z 0-9 . _ -"));
        }
    }
    if (sessions_.current() == nullptr) {
        if (refreshed && name.empty()) {
            return answer(outcome::failure(errc::not_logged_in,
                                           "the session ended: " + sessions_.cleared_why()));
        }
        if (const auto& e = sessions_.restore_error()) {
            return answer(outcome::failure(
                keyring_errc(*e), "cannot read the session from the store: " + e->message));
        }
        return answer(outcome::failure(errc::not_logged_in, not_logged_in_message));
    }
    kept* k = nullptr;
    if (name.empty()) {
        k = session_entry();
    } else {
        k = find(name);
        if (k == nullptr && refreshed) {
            return answer(outcome::failure(errc::api_error, "the API refused token '" + name +
                                                                "'; ask again to re-create it"));
        }
        // Absent options keep what an existing token has; given ones that
        // differ replace it.
        const auto asked_age = int_arg(a, "max_age_seconds");
        const std::int64_t max_age =
            asked_age.value_or(k != nullptr && k->max_age > 0 ? k->max_age : cfg_.default_max_age);
        if ((a.contains("max_age_seconds") && !asked_age) || max_age < 600 || max_age > 315360000) {
            return answer(
                outcome::failure(errc::bad_request, "\"max_age_seconds\" must be 600..315360000"));
        }
        const auto* asked_scopes = a.if_contains("scopes");
        if (asked_scopes != nullptr && !asked_scopes->is_array()) {
            return answer(
                outcome::failure(errc::bad_request, "\"scopes\" must be a list of strings"));
        }
        const bool expired = k != nullptr && k->expiry && *k->expiry <= clock_.now();
        const boost::json::value none;
        const auto& scopes = asked_scopes != nullptr ? *asked_scopes
                             : k != nullptr          ? k->scopes
                                                     : none;
        if (!created && (k == nullptr || expired || k->max_age != max_age || k->scopes != scopes)) {
            return {std::nullopt, token_step::action::create, name, max_age, scopes};
        }
    }
    if (k == nullptr) {
        return answer(outcome::failure(errc::not_logged_in, not_logged_in_message));
    }
    k->last_requested = clock_.steady_now();
    if (!k->next_check && k->failures == 0) {
        plan(*k);
        kick();
    }
    if (name.empty() && !k->meta_known && min_ttl > 0 && !refreshed) {
        // Its expiry is unknown: ask the API (which extends it too) before
        // promising a lifetime; if the API cannot say, it is served as is.
        return {std::nullopt, token_step::action::refresh, name, 0, nullptr};
    }
    if (k->expiry && *k->expiry - clock_.now() < std::chrono::seconds(min_ttl)) {
        if (refreshed) {
            return answer(outcome::failure(
                errc::insufficient_ttl,
                "cannot provide a token valid for " + std::to_string(min_ttl) + " s" +
                    (k->last_error.empty() ? std::string() : ": " + k->last_error)));
        }
        if (k->max_age > 0 && min_ttl > k->max_age) {
            return answer(outcome::failure(errc::insufficient_ttl,
                                           "cannot provide a token valid for " +
                                               std::to_string(min_ttl) + " s: its max age is " +
                                               std::to_string(k->max_age) + " s"));
        }
        if (!name.empty() && !k->extend_when_used) {
            return {std::nullopt, token_step::action::rotate, name, k->max_age, k->scopes};
        }
        return {std::nullopt, token_step::action::refresh, name, 0, nullptr};
    }
    boost::json::object r(protocol::wiping_storage());
    r["token"] = k->token.expose();
    r["name"] = name.empty() ? boost::json::value(nullptr) : boost::json::value(name);
    if (k->expiry) {
        r["expiry_time"] = format_iso8601(*k->expiry);
        r["expires_in"] =
            std::chrono::duration_cast<std::chrono::seconds>(*k->expiry - clock_.now()).count();
    } else {
        r["expiry_time"] = nullptr;
        r["expires_in"] = nullptr;
    }
    r["user_email"] = sessions_.current()->email;
    return answer(outcome::success(boost::json::value(std::move(r), protocol::wiping_storage())));
}

std::optional<outcome> token_keeper::token_now(const boost::json::object& a) {
    return next_token_step(a, false, false).answer;
}

asio::awaitable<outcome> token_keeper::token_op(const boost::json::object& a) {
    bool created = false;
    bool refreshed = false;
    for (;;) {
        auto step = next_token_step(a, created, refreshed);
        if (step.answer) {
            co_return std::move(*step.answer);
        }
        if (step.act == token_step::action::refresh) {
            co_await refresh(step.name);
            refreshed = true;
            continue;
        }
        auto out = co_await create_derived(step.name, step.max_age, std::move(step.scopes));
        if (!out.ok) {
            co_return out;
        }
        (step.act == token_step::action::create ? created : refreshed) = true;
    }
}

asio::awaitable<outcome> token_keeper::token_check_op(const boost::json::object& a) {
    const auto* t = str_arg(a, "token");
    if (t == nullptr || t->empty()) {
        co_return outcome::failure(errc::bad_request, "token_check needs \"token\"");
    }
    session_entry();
    std::optional<std::string> which;
    for (const auto& [name, k] : tokens_) {
        if (k.token.equals(std::string_view(*t))) {
            which = name;
        }
    }
    boost::json::object r;
    if (!which) {
        r["known"] = false;
        r["valid"] = nullptr;
        r["action"] = "none";
        co_return outcome::success(std::move(r));
    }
    platform::secret token{std::string_view(*t)};
    auto resp = co_await api_.request(verb::get, "/v1/me", nullptr, &token);
    r["known"] = true;
    if (resp) {
        clock_.observe(resp->server_date);
        r["valid"] = true;
        r["action"] = "none";
        co_return outcome::success(std::move(r));
    }
    const api::error e = resp.error();
    if (!api::token_refused(e)) {
        co_return api_failure(e);
    }
    r["valid"] = false;
    if (which->empty()) {
        std::string why = "the API refused the session token (" + e.api_message + ")";
        if (auto ok = co_await sessions_.clear(std::move(why)); !ok) {
            log_warning("cannot remove the dead session: " + ok.error().message);
        }
        co_await forget_all();
        r["action"] = "session_cleared";
    } else {
        tokens_.erase(*which);
        co_await erase_stored(*which);
        r["action"] = "dropped";
    }
    co_return outcome::success(std::move(r));
}

asio::awaitable<void> token_keeper::persist(const kept& k) {
    const session* s = sessions_.current();
    boost::json::object o(protocol::wiping_storage());
    o["v"] = 1;
    o["token"] = k.token.expose();
    o["token_prefix"] = k.prefix;
    o["expiry_time"] = k.expiry ? boost::json::value(format_iso8601(*k.expiry)) : nullptr;
    o["max_age_seconds"] = k.max_age;
    o["extend_when_used"] = k.extend_when_used;
    o["scopes"] = k.scopes;
    std::string text = boost::json::serialize(o);
    auto payload = std::make_shared<platform::secret>(platform::secret::take(text));
    platform::store_key key{sessions_.api_url(), "token", k.name, s != nullptr ? s->email : ""};
    auto job = [key, payload](platform::secret_store& st) { return st.put(key, *payload); };
    // Only `key` after this point: `k` may be erased while the store works.
    if (auto ok = co_await store_.run(std::move(job)); !ok) {
        log_warning("cannot store token '" + key.name + "': " + ok.error().message);
    }
}

asio::awaitable<void> token_keeper::erase_stored(const std::string& name) {
    platform::store_key key{sessions_.api_url(), "token", name, ""};
    auto job = [key](platform::secret_store& st) { return st.erase(key); };
    if (auto ok = co_await store_.run(std::move(job)); !ok) {
        log_warning("cannot remove token '" + name + "' from the store: " + ok.error().message);
    }
}

asio::awaitable<void> token_keeper::load_stored() {
    const std::string url = sessions_.api_url();
    using loaded = std::vector<std::pair<std::string, platform::secret>>;
    auto job = [url](platform::secret_store& st) -> platform::store_result<loaded> {
        auto keys = st.list();
        if (!keys) {
            return keys.error();
        }
        loaded out;
        for (const auto& k : *keys) {
            if (k.api_url != url || k.kind != "token") {
                continue;
            }
            auto v = st.get(k);
            if (v && *v) {
                out.emplace_back(k.name, std::move(**v));
            }
        }
        return out;
    };
    auto items = co_await store_.run(std::move(job));
    if (!items) {
        co_return;  // the session's restore reports store trouble
    }
    for (auto& [name, payload] : *items) {
        boost::system::error_code ec;
        auto jv = boost::json::parse(payload.expose(), ec, protocol::wiping_storage());
        const auto* o = jv.if_object();
        const auto* tok = o != nullptr ? str_arg(*o, "token") : nullptr;
        if (ec || tok == nullptr || tok->empty() || !valid_name(name)) {
            continue;
        }
        kept k;
        k.name = name;
        k.token = platform::secret(std::string_view(*tok));
        apply_row(k, *o);
        if (const auto* sc = o->if_contains("scopes")) {
            k.scopes = *sc;
        }
        tokens_[name] = std::move(k);  // planned when first asked for
        if (const session* s = sessions_.current()) {
            owner_ = s->email;
        }
    }
}

std::vector<std::string> token_keeper::derived_names() const {
    std::vector<std::string> names;
    for (const auto& [name, k] : tokens_) {
        if (!name.empty()) {
            names.push_back(name);
        }
    }
    return names;
}

asio::awaitable<void> token_keeper::revoke_all() {
    const session* s = sessions_.current();
    if (s == nullptr) {
        co_await forget_all();
        co_return;
    }
    platform::secret session_token = s->token.clone();
    co_await drop_derived(&session_token);
}

asio::awaitable<void> token_keeper::forget_all() {
    co_await drop_derived(nullptr);
}

asio::awaitable<void> token_keeper::drop_derived(const platform::secret* with) {
    for (const auto& name : derived_names()) {
        kept* k = find(name);
        if (k == nullptr) {
            continue;
        }
        // Without a session there is no other token to revoke it with; a
        // token may revoke itself. Already dead ones answer 401 or 404.
        platform::secret own = k->token.clone();
        tokens_.erase(name);
        std::string path = "/v1/access_token/" + api::encode_path_segment(own.expose());
        auto r = co_await api_.request(verb::delete_, path, nullptr, with != nullptr ? with : &own);
        platform::wipe(path);  // it holds the token
        if (r) {
            log_info("revoked derived token '" + name + "'");
        } else if (!api::token_refused(r.error()) && r.error().status != 404) {
            log_warning("cannot revoke derived token '" + name + "': " + r.error().message);
        }
        co_await erase_stored(name);
    }
    kick();
}

boost::json::value token_keeper::status(const boost::json::storage_ptr& sp) const {
    boost::json::array out(sp);
    out.reserve(tokens_.size());
    const auto now = clock_.steady_now();
    const auto server_now = clock_.now();
    auto at = [&](steady_time t) {
        return format_iso8601(
            server_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - now));
    };
    for (const auto& [name, k] : tokens_) {
        boost::json::object o(sp);
        o.reserve(10);
        o["name"] = name.empty() ? boost::json::value(nullptr) : boost::json::value(name);
        o["token_prefix"] = k.prefix;
        o["expiry_time"] = k.expiry ? boost::json::value(format_iso8601(*k.expiry)) : nullptr;
        o["max_age_seconds"] = k.max_age;
        o["extend_when_used"] = k.extend_when_used;
        o["last_extended"] =
            k.last_extended ? boost::json::value(format_iso8601(*k.last_extended)) : nullptr;
        o["next_extension"] = k.next_check ? boost::json::value(at(*k.next_check)) : nullptr;
        o["failures"] = k.failures;
        o["last_error"] =
            k.last_error.empty() ? boost::json::value(nullptr) : boost::json::value(k.last_error);
        o["last_requested"] =
            k.last_requested ? boost::json::value(at(*k.last_requested)) : nullptr;
        out.push_back(std::move(o));
    }
    return out;
}

}  // namespace avn::agent
