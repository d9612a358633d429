// A stand-in for the agent in the helper's unit tests: it records the ops
// a command sends and answers them from canned replies.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "helper/user_session.hpp"

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

}  // namespace avn::helper::test_support
