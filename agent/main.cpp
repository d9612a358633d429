// avn-agent: parses the command line and hands over to run_agent().
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "agent/run.hpp"
#include "avn/version.hpp"
#include "platform/hardening.hpp"

int main(int argc, char** argv) {
    // Before anything else: no core files, no ptrace, no SIGPIPE deaths.
    if (auto ok = avn::platform::harden_process(); !ok) {
        std::fprintf(stderr, "avn-agent: %s\n", ok.error().message.c_str());
        return 1;
    }

    using namespace avn::agent;
    agent_options opts;
    CLI::App app{"avn-agent: keeps your Aiven session and serves tokens on a Unix socket"};
    app.set_version_flag("-V,--version", std::string("avn-agent ") + avn::version_string);

    bool foreground = false, debug = false, kill = false, sh = false, csh = false;
    double idle_timeout = 30, write_timeout = 10, grace = 3, api_timeout = 30;
    app.add_flag("-D", foreground, "stay in the foreground; log to stderr");
    app.add_flag("-d", debug, "like -D, with debug logging");
    app.add_flag("-k", kill, "stop the agent named by AVN_AGENT_PID (or the one on the socket)");
    auto* s_opt =
        app.add_flag("-s", sh, "print Bourne shell commands (default unless $SHELL is csh)");
    auto* c_opt = app.add_flag("-c", csh, "print csh commands");
    s_opt->excludes(c_opt);
    app.add_option("-a", opts.socket_path,
                   "socket path (default: $AVN_AGENT_SOCK, else "
                   "$XDG_RUNTIME_DIR/avn-agent/agent.sock)");
    app.add_option("--log-file", opts.log_file, "log to FILE instead of syslog/stderr");
    // Bounded so that converting to milliseconds cannot overflow (a day at most).
    const auto seconds_range = CLI::Range(0.001, 86400.0);
    app.add_option("--idle-timeout", idle_timeout, "seconds before a silent connection is closed")
        ->check(seconds_range);
    app.add_option("--write-timeout", write_timeout, "seconds a client may take to read a reply")
        ->check(seconds_range);
    app.add_option("--shutdown-grace", grace, "seconds in-flight requests get at shutdown")
        ->check(CLI::Range(0.0, 86400.0));
    app.add_option("--max-connections", opts.server.max_connections, "open connections at most")
        ->check(CLI::Range(1, 1000000));
    if (const char* k = std::getenv("AVN_AGENT_KEYRING"); k != nullptr && *k != '\0') {
        opts.keyring = k;
    }
    app.add_option("--keyring", opts.keyring,
                   "where the session is kept: auto (Secret Service, else a file, said out "
                   "loud), secret-service, file or memory (default: $AVN_AGENT_KEYRING or auto)")
        ->check(CLI::IsMember({"auto", "secret-service", "file", "memory"}));
    app.add_flag("--test-clock", opts.test_clock,
                 "accept the debug_advance_clock op, which moves the agent's clock (tests only)")
        ->group("");  // hidden from --help
    app.add_option("--api-timeout", api_timeout,
                   "seconds the Aiven API may take to answer one request")
        ->check(seconds_range);
    CLI11_PARSE(app, argc, argv);

    using ms = std::chrono::milliseconds;
    opts.server.idle_timeout = ms(static_cast<long>(idle_timeout * 1000));
    opts.server.write_timeout = ms(static_cast<long>(write_timeout * 1000));
    opts.server.shutdown_grace = ms(static_cast<long>(grace * 1000));
    // One knob for the API's deadlines: the whole answer gets api_timeout,
    // each phase before it at most 10 s of it.
    const ms api_ms(static_cast<long>(api_timeout * 1000));
    opts.api.read_timeout = api_ms;
    for (ms* phase : {&opts.api.resolve_timeout, &opts.api.connect_timeout,
                      &opts.api.handshake_timeout, &opts.api.write_timeout}) {
        *phase = std::min(api_ms, ms(10000));
    }
    if (kill) {
        opts.mode = start_mode::kill;
    } else if (foreground || debug) {
        opts.mode = start_mode::foreground;
    }
    if (debug) {
        opts.level = log_level::debug;
    }
    opts.shell = sh ? shell_syntax::sh : csh ? shell_syntax::csh : shell_syntax::from_env;
    return run_agent(opts);
}
