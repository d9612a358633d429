// A stand-in for the agent in the helper's unit tests: it records the ops
// a command sends and answers them from canned replies.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "helper/user_session.hpp"
#include "protocol/codec.hpp"

namespace avn::helper::test_support {

struct sent_request {
    std::string op;
    boost::json::value args;
};

// Records requests and answers them from a queue of canned call_results.
struct canned_agent {
    std::vector<sent_request> sent;
    std::deque<call_result> replies;

    agent_call link() {
        return [this](std::string_view op, const boost::json::object& args) {
            sent.push_back({std::string(op), boost::json::value(args)});
            if (replies.empty()) {
                ADD_FAILURE() << "unexpected op " << op;
                return call_result{};
            }
            call_result r = std::move(replies.front());
            replies.pop_front();
            return r;
        };
    }
};

/// A successful reply whose result is `result_json`.
inline call_result ok(std::string_view result_json) {
    call_result r;
    r.reply.ok = true;
    r.reply.result = boost::json::parse(result_json);
    return r;
}

/// An error reply with `code` (as the agent names it) and `message`, and the
/// API's status and message when the agent relays an API error.
inline call_result error_reply(std::string code, std::string message,
                               std::optional<unsigned> status = std::nullopt,
                               std::optional<std::string> api_message = std::nullopt) {
    call_result r;
    r.reply.ok = false;
    r.reply.code_text = code;
    r.reply.err.code =
        avn::protocol::errc_from_string(code).value_or(avn::protocol::errc::internal);
    r.reply.err.message = std::move(message);
    r.reply.err.api_status = status;
    r.reply.err.api_message = std::move(api_message);
    return r;
}

/// No reply at all: the call failed with `f` (no agent, timeout, ...).
inline call_result no_reply(call_failure f, std::string message) {
    call_result r;
    r.failure = f;
    r.message = std::move(message);
    return r;
}

}  // namespace avn::helper::test_support
