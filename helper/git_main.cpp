// git-credential-avn: the command line and the process's stdin, stdout and socket. The protocol
// and the answers are in git_credential.cpp. The options are parsed by hand: git runs this once
// per credential, so it stays small and quick to start.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "avn/version.hpp"
#include "helper/client.hpp"
#include "helper/exit_codes.hpp"
#include "helper/git_credential.hpp"
#include "helper/terminal.hpp"

namespace {

using namespace avn::helper;

constexpr std::string_view usage =
    "usage: git-credential-avn [--host HOST ...] [--name NAME] [--min-ttl SECONDS]\n"
    "                          [--socket PATH] [--timeout SECONDS] get|store|erase\n"
    "\n"
    "git's credential helper for Aiven: answers `get` with the user's email and a token from\n"
    "avn-agent. Set it up with:\n"
    "  git config --global credential.https://git.example.com.helper avn\n"
    "\n"
    "  --host HOST        answer only for this host (repeatable; default: any host)\n"
    "  --name NAME        a derived token of this name instead of the session's token\n"
    "  --min-ttl SECONDS  the token stays valid at least this long (default: 60)\n"
    "  --socket PATH      the agent's socket (default: $AVN_AGENT_SOCK, else\n"
    "                     $XDG_RUNTIME_DIR/avn-agent/agent.sock)\n"
    "  --timeout SECONDS  how long to wait for the agent (default: 120)\n";

int usage_error(std::string_view why) {
    std::string text = "git-credential-avn: ";
    text += why;
    text += "\n";
    text += usage;
    write_all(STDERR_FILENO, text);
    return exit_usage;
}

bool parse_seconds(std::string_view text, std::int64_t& out) {
    const char* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && p == end && out >= 0;
}

struct command_line {
    git_options options;
    std::string action;
    std::string socket;
    std::int64_t timeout_s = 120;
};

// Options take their value as the next argument or after '='. Returns -1 to go on, else an exit
// status.
int parse(int argc, char** argv, command_line& cl) {
    bool have_action = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            write_all(STDOUT_FILENO, usage);
            return exit_ok;
        }
        if (arg == "-V" || arg == "--version") {
            write_all(STDOUT_FILENO,
                      std::string("git-credential-avn ") + avn::version_string + "\n");
            return exit_ok;
        }
        if (!arg.starts_with("--")) {
            if (have_action) {
                return usage_error("one action only: get, store or erase");
            }
            cl.action = arg;
            have_action = true;
            continue;
        }
        std::string_view name = arg;
        std::optional<std::string_view> value;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        if (name != "--host" && name != "--name" && name != "--min-ttl" && name != "--socket" &&
            name != "--timeout") {
            return usage_error("unknown option " + std::string(name));
        }
        if (!value) {
            if (i + 1 >= argc) {
                return usage_error(std::string(name) + " needs a value");
            }
            value = argv[++i];
        }
        if (name == "--host") {
            if (value->empty()) {
                return usage_error("--host needs a host name");
            }
            cl.options.hosts.emplace_back(*value);
        } else if (name == "--name") {
            cl.options.name = std::string(*value);
        } else if (name == "--socket") {
            cl.socket = *value;
        } else if (name == "--min-ttl") {
            if (!parse_seconds(*value, cl.options.min_ttl)) {
                return usage_error("--min-ttl needs a whole number of seconds");
            }
        } else if (!parse_seconds(*value, cl.timeout_s) || cl.timeout_s == 0 ||
                   cl.timeout_s > 86400) {
            return usage_error("--timeout needs a whole number of seconds from 1 to 86400");
        }
    }
    if (!have_action) {
        return usage_error("no action: git passes get, store or erase");
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    command_line cl;
    if (const int status = parse(argc, argv, cl); status >= 0) {
        return status;
    }

    // git writes the request and closes the pipe; reading stops at the blank line all the same.
    git_credential_reader reader;
    char chunk[4096];
    auto state = git_credential_reader::state::more;
    while (state == git_credential_reader::state::more) {
        const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        state = n <= 0 ? reader.finish()
                       : reader.feed(std::string_view(chunk, static_cast<std::size_t>(n)));
    }
    avn::platform::wipe(chunk, sizeof chunk);
    if (state == git_credential_reader::state::failed) {
        write_all(STDERR_FILENO, "git-credential-avn: refused: " + reader.error() + "\n");
        return exit_failed;
    }

    if (!cl.socket.empty()) {
        ::setenv("AVN_AGENT_SOCK", cl.socket.c_str(), 1);
    }
    const auto location = avn::platform::default_socket_location();
    const std::chrono::milliseconds timeout(cl.timeout_s * 1000);
    const agent_call call = [&](std::string_view op, const boost::json::object& args) {
        agent_client client(location);
        return client.call(op, args, timeout);
    };
    git_reply reply = git_credential_answer(git_action_from(cl.action), cl.options,
                                            reader.credential(), call, std::time(nullptr));
    write_all(STDOUT_FILENO, reply.out.expose());
    write_all(STDERR_FILENO, reply.err);
    return reply.status;
}
