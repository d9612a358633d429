// avn-user status: is the agent up, and what does it hold.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "helper/commands.hpp"
#include "helper/exit_codes.hpp"
#include "helper/render.hpp"

namespace avn::helper {

namespace {

std::string field(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return "-";
    }
    if (v->is_string()) {
        return std::string(v->get_string());
    }
    return boost::json::serialize(*v);
}

std::string human_duration(std::int64_t s) {
    if (s < 60) {
        return std::to_string(s) + "s";
    }
    if (s < 3600) {
        return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    }
    if (s < 86400) {
        return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
    }
    return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

bool flag(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
}

void print_session(const boost::json::object& s) {
    std::printf("API:          %s\n", field(s, "api_url").c_str());
    if (!flag(s, "logged_in")) {
        std::printf("Session:      not logged in\n");
        if (s.contains("restore_error")) {
            std::printf("              the stored session could not be read: %s\n",
                        field(s, "restore_error").c_str());
        } else if (s.contains("cleared")) {
            std::printf("              ended: %s\n", field(s, "cleared").c_str());
        }
        return;
    }
    std::printf("Session:      %s (token %s…), logged in %s\n", field(s, "user_email").c_str(),
                field(s, "token_prefix").c_str(), field(s, "logged_in_at").c_str());
    std::printf("Expires:      %s (max age %s s, %s)\n", field(s, "expiry_time").c_str(),
                field(s, "max_age_seconds").c_str(),
                flag(s, "extend_when_used") ? "extended when used" : "not extended");
}

void print_tokens(const boost::json::array& tokens) {
    for (const auto& t : tokens) {
        const auto* o = t.if_object();
        if (o == nullptr) {
            continue;
        }
        const auto* name = o->if_contains("name");
        const std::string label = name != nullptr && name->is_string()
                                      ? "token '" + std::string(name->get_string()) + "'"
                                      : std::string("session token");
        std::printf("Token:        %s (%s…): expires %s, extended %s, next %s", label.c_str(),
                    field(*o, "token_prefix").c_str(), field(*o, "expiry_time").c_str(),
                    field(*o, "last_extended").c_str(), field(*o, "next_extension").c_str());
        const auto* failures = o->if_contains("failures");
        if (failures != nullptr && failures->is_int64() && failures->get_int64() > 0) {
            std::printf(", %lld failure(s) in a row: %s",
                        static_cast<long long>(failures->get_int64()),
                        field(*o, "last_error").c_str());
        }
        std::printf("\n");
    }
}

}  // namespace

int report_call_failure(const call_result& r) {
    std::fprintf(stderr, "avn-user: %s\n", r.message.c_str());
    return r.failure == call_failure::no_agent ? exit_no_agent : exit_failed;
}

int cmd_status(const context& ctx, const status_args& args) {
    agent_client client(ctx.location);
    call_result r = client.call("status", {}, ctx.timeout);
    if (r.failure != call_failure::none) {
        return report_call_failure(r);
    }
    if (!r.reply.ok) {
        std::fprintf(stderr, "avn-user: status failed: %s\n", r.reply.err.message.c_str());
        return exit_failed;
    }
    if (args.json) {
        const std::string text = to_avn_json(r.reply.result);
        std::fwrite(text.data(), 1, text.size(), stdout);
        return exit_ok;
    }
    const auto* root = r.reply.result.if_object();
    const auto* agent = root != nullptr ? root->if_contains("agent") : nullptr;
    if (agent == nullptr || !agent->is_object()) {
        std::fprintf(stderr, "avn-user: the agent's status reply has no \"agent\" section\n");
        return exit_failed;
    }
    const auto& a = agent->get_object();
    const auto* up = a.if_contains("uptime_seconds");
    std::printf("Agent:        running, pid %s, avn-agent %s (protocol %s)\n",
                field(a, "pid").c_str(), field(a, "version").c_str(), field(a, "protocol").c_str());
    std::printf("Socket:       %s\n", field(a, "socket").c_str());
    std::printf("Started:      %s (up %s)\n", field(a, "started_at").c_str(),
                up != nullptr && up->is_int64() ? human_duration(up->get_int64()).c_str() : "-");
    std::printf("Connections:  %s served, %s open, %s refused\n",
                field(a, "connections_served").c_str(), field(a, "connections_active").c_str(),
                field(a, "connections_refused").c_str());
    std::printf("Requests:     %s\n", field(a, "requests").c_str());
    if (const auto* k = root->if_contains("keyring"); k != nullptr && k->is_object()) {
        const auto& ko = k->get_object();
        const auto* fb = ko.if_contains("fallback");
        const bool fallback = fb != nullptr && fb->is_bool() && fb->get_bool();
        std::printf("Keyring:      %s%s\n", field(ko, "backend").c_str(),
                    fallback ? " (WARNING: fallback)" : "");
        std::printf("              %s\n", field(ko, "why").c_str());
    }
    if (const auto* se = root->if_contains("session"); se != nullptr && se->is_object()) {
        print_session(se->get_object());
    }
    if (const auto* ts = root->if_contains("tokens"); ts != nullptr && ts->is_array()) {
        print_tokens(ts->get_array());
    }
    return exit_ok;
}

}  // namespace avn::helper
