#include "agent/dispatch.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <ctime>

#include "agent/iso8601.hpp"
#include "avn/version.hpp"
#include "platform/secure_memory.hpp"

namespace avn::agent {

namespace {

template <class F>
request_handler sync_handler(F f) {
    return [f](protocol::request& req, const client_info& c) -> asio::awaitable<outcome> {
        co_return f(req, c);
    };
}

}  // namespace

dispatcher::dispatcher(server& srv) : srv_(srv) {
    add("hello", sync_handler([this](auto&, auto&) { return hello(); }));
    add("status", sync_handler([this](auto&, auto&) { return status(); }));
    add("shutdown", sync_handler([this](auto&, const client_info& c) { return shutdown(c); }));
}

void dispatcher::add(std::string op, request_handler h) {
    handlers_[std::move(op)] = std::move(h);
}

void dispatcher::add_status_section(std::string name, std::function<boost::json::value()> f) {
    status_sections_.emplace_back(std::move(name), std::move(f));
}

std::vector<std::string> dispatcher::ops() const {
    std::vector<std::string> names;
    for (const auto& [name, h] : handlers_) {
        names.push_back(name);
    }
    return names;
}

asio::awaitable<outcome> dispatcher::handle(protocol::request& req, const client_info& client) {
    auto it = handlers_.find(req.op);
    if (it == handlers_.end()) {
        co_return outcome::failure(protocol::errc::unknown_op,
                                   "unknown op '" + req.op + "'; 'hello' lists the supported ones");
    }
    co_return co_await it->second(req, client);
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
    const auto& st = srv_.stats();
    const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - st.started);
    boost::json::object agent;
    agent["version"] = avn::version_string;
    agent["protocol"] = protocol::version;
    agent["pid"] = ::getpid();
    agent["uid"] = ::geteuid();
    agent["socket"] = srv_.socket_path();
    agent["started_at"] = format_iso8601(started_wall_);
    agent["uptime_seconds"] = uptime.count();
    agent["connections_served"] = st.connections_served;
    agent["connections_active"] = st.connections_active;
    agent["connections_refused"] = st.connections_refused;
    agent["requests"] = st.requests;
    const auto mem = platform::secure_memory_usage();
    agent["secret_memory"] = {{"locked", mem.locked},
                              {"arena_bytes", mem.arena_bytes},
                              {"in_use", mem.in_use},
                              {"heap_blocks", mem.heap_blocks}};
    boost::json::object r;
    r["agent"] = std::move(agent);
    for (const auto& [name, f] : status_sections_) {
        r[name] = f();
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
