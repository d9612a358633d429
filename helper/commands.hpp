// avn-user's subcommands, one file each. The command line is parsed in
// main.cpp; these functions do the work and return the exit code.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "helper/client.hpp"

namespace avn::helper {

/// What every command gets: where the agent is and how long to wait for it.
struct context {
    platform::socket_location location = platform::default_socket_location();
    /// For ops the agent answers from memory.
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    /// For ops that make the agent call the Aiven API, which retries with backoff within its own
    /// deadlines. `--timeout` sets both.
    std::chrono::milliseconds api_timeout{std::chrono::seconds(120)};
};

/// Prints a failed call's message on stderr and returns its exit code.
int report_call_failure(const call_result& r);

struct status_args {
    bool json = false;
};
int cmd_status(const context& ctx, const status_args& args);

}  // namespace avn::helper
