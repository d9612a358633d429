// Starting and stopping the agent: ssh-agent-like start modes, socket
// activation, the serving loop.
#pragma once

#include <string>

#include "agent/api_client.hpp"
#include "agent/log.hpp"
#include "agent/server.hpp"

namespace avn::agent {

enum class start_mode : unsigned char {
    background,  ///< fork, print shell code to eval, serve in the child
    foreground,  ///< -D: serve in this process, log to stderr
    kill,        ///< -k: stop the running agent
};

enum class shell_syntax : unsigned char { from_env, sh, csh };

struct agent_options {
    start_mode mode = start_mode::background;
    shell_syntax shell = shell_syntax::from_env;
    std::string socket_path;  ///< -a; empty: AVN_AGENT_SOCK or the default
    std::string log_file;     ///< --log-file
    log_level level = log_level::info;
    server_config server;
    api::config api = api::config_from_env();  ///< AIVEN_WEB_URL, AIVEN_CA_CERT
    std::string keyring = "auto";              ///< --keyring / AVN_AGENT_KEYRING
    bool test_clock = false;  ///< --test-clock: accept debug_advance_clock (tests only)
};

/// Runs the agent as `opts` asks; returns the process exit code.
int run_agent(const agent_options& opts);

}  // namespace avn::agent
