#include "agent/dispatch.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <ctime>

#include "agent/iso8601.hpp"
#include "avn/version.hpp"
#include "platform/secure_memory.hpp"

namespace avn::agent {

dispatcher::dispatcher(server& srv) : srv_(srv) {
    add_now("hello", [this](auto&, auto&) { return hello(); });
    add_now("status", [this](auto&, auto&) { return status(); });
    add_now("shutdown", [this](auto&, const client_info& c) { return shutdown(c); });
}

void dispatcher::add(std::string op, now_fn now, later_fn later) {
    handlers_[std::move(op)] = entry{std::move(now), std::move(later)};
}

void dispatcher::add_now(std::string op,
                         std::function<outcome(protocol::request&, const client_info&)> f) {
    add(
        std::move(op),
        [f = std::move(f)](protocol::request& req, const client_info& c) -> std::optional<outcome> {
            return f(req, c);
        },
        nullptr);
}

void dispatcher::add_status_section(std::string name, section_fn f) {
    status_sections_.emplace_back(std::move(name), std::move(f));
}

std::vector<std::string> dispatcher::ops() const {
    std::vector<std::string> names;
    for (const auto& [name, h] : handlers_) {
        names.push_back(name);
    }
    return names;
}

request_handler dispatcher::handler() {
    return {[this](protocol::request& req, const client_info& c) { return answer_now(req, c); },
            [this](protocol::request& req, const client_info& c) { return answer_later(req, c); }};
}

std::optional<outcome> dispatcher::answer_now(protocol::request& req, const client_info& client) {
    auto it = handlers_.find(req.op);
    if (it == handlers_.end()) {
        return outcome::failure(protocol::errc::unknown_op,
                                "unknown op '" + req.op + "'; 'hello' lists the supported ones");
    }
    if (!it->second.now) {
        return std::nullopt;
    }
    return it->second.now(req, client);
}

asio::awaitable<outcome> dispatcher::answer_later(protocol::request& req,
                                                  const client_info& client) {
    auto it = handlers_.find(req.op);
    if (it != handlers_.end() && it->second.later) {
        co_return co_await it->second.later(req, client);
    }
    // Only reached for a request that `answer_now` declined.
    co_return outcome::failure(protocol::errc::internal, "op '" + req.op + "' cannot wait");
}

outcome dispatcher::hello() const {
    boost::json::object r;
    r["agent"] = "avn-agent";
    r["version"] = avn::version_string;
    r["protocol"] = {{"min", protocol::min_version}, {"max", protocol::version}};
    boost::json::array ops;
    for (const auto& name : this->ops()) {
        ops.emplace_back(name);
    }
    r["ops"] = std::move(ops);
    const auto& cfg = srv_.config();
    r["limits"] = {{"max_line_bytes", cfg.limits.max_line_bytes},
                   {"max_depth", cfg.limits.max_depth},
                   {"max_string_bytes", cfg.limits.max_string_bytes},
                   {"max_in_flight", cfg.max_in_flight},
                   {"idle_timeout_ms", cfg.idle_timeout.count()}};
    return outcome::success(std::move(r));
}

outcome dispatcher::status() const {
    // One bump-allocated arena for the whole reply (~1 KiB of small members,
    // none of them secret): allocating and freeing each member on its own
    // cost more than building and writing the reply.
    const auto sp = boost::json::make_shared_resource<boost::json::monotonic_resource>(4096);
    const auto& st = srv_.stats();
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - st.started);
    const auto mem = platform::secure_memory_usage();
    boost::json::object r(sp);
    r.reserve(1 + status_sections_.size());
    r["agent"] = {{"version", avn::version_string},
                  {"protocol", protocol::version},
                  {"pid", ::getpid()},
                  {"uid", ::geteuid()},
                  {"socket", srv_.socket_path()},
                  {"started_at", format_iso8601(started_wall_)},
                  {"uptime_seconds", uptime.count()},
                  {"connections_served", st.connections_served},
                  {"connections_active", st.connections_active},
                  {"connections_refused", st.connections_refused},
                  {"requests", st.requests},
                  {"secret_memory",
                   {{"locked", mem.locked},
                    {"arena_bytes", mem.arena_bytes},
                    {"in_use", mem.in_use},
                    {"heap_blocks", mem.heap_blocks}}}};
    for (const auto& [name, f] : status_sections_) {
        r[name] = f(sp);
    }
    return outcome::success(std::move(r));
}

outcome dispatcher::shutdown(const client_info& client) {
    // Stop after this reply is queued: the connection then closes once it
    // has been written.
    asio::post(srv_.executor(), [this, pid = client.pid] {
        srv_.stop("shutdown requested by pid " + std::to_string(pid));
    });
    boost::json::object r;
    r["stopping"] = true;
    return outcome::success(std::move(r));
}

}  // namespace avn::agent
