// avn-user: the command line. Parsing only; each command lives in its own
// file and is declared in commands.hpp.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "avn/version.hpp"
#include "helper/commands.hpp"
#include "helper/exit_codes.hpp"

int main(int argc, char** argv) {
    using namespace avn::helper;
    context ctx;
    CLI::App app{"avn-user: the `avn user` commands, served by avn-agent"};
    app.set_version_flag("-V,--version", std::string("avn-user ") + avn::version_string);
    app.require_subcommand(1);
    double timeout_s = 10;
    std::string socket;
    app.add_option("--socket", socket,
                   "the agent's socket (default: $AVN_AGENT_SOCK, else "
                   "$XDG_RUNTIME_DIR/avn-agent/agent.sock)");
    app.add_option("--timeout", timeout_s, "seconds to wait for the agent")
        ->check(CLI::PositiveNumber);

    status_args status;
    auto* st = app.add_subcommand("status", "show the agent's state");
    st->add_flag("--json", status.json, "print JSON");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    if (!socket.empty()) {
        ::setenv("AVN_AGENT_SOCK", socket.c_str(), 1);
        ctx.location = avn::platform::default_socket_location();
    }
    ctx.timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));

    if (st->parsed()) {
        return cmd_status(ctx, status);
    }
    return exit_usage;
}
