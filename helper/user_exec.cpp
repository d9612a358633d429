// avn-user exec: runs a command with a fresh token in its environment.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"

extern char** environ;

namespace avn::helper {

namespace {

constexpr std::string_view auth_token_var = "AIVEN_AUTH_TOKEN=";
constexpr std::string_view token_var = "AIVEN_TOKEN=";

// "NAME=<token>", built in one allocation so that no partial copy is left in freed memory.
std::string assignment(std::string_view prefix, const platform::secret& token) {
    std::string s;
    s.reserve(prefix.size() + token.size());
    s += prefix;
    s += token.expose();
    return s;
}

void restore(int signal, bool ignored) {
    struct sigaction action {};
    action.sa_handler = ignored ? SIG_IGN : SIG_DFL;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, nullptr);
}

}  // namespace

int user_exec(user_session& s, const user_exec_args& a) {
    if (a.command.empty()) {
        s.con.err("ERROR\tcommand failed: no command to run: avn-user exec [OPTIONS] -- CMD\n");
        return exit_usage;
    }
    int status = exit_ok;
    const auto t = request_token(s, a.request, status);
    if (!t) {
        return status;
    }

    std::string auth_token = assignment(auth_token_var, t->token);
    std::string token = assignment(token_var, t->token);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (!entry.starts_with(auth_token_var) && !entry.starts_with(token_var)) {
            envp.push_back(*e);
        }
    }
    envp.push_back(auth_token.data());
    envp.push_back(token.data());
    envp.push_back(nullptr);
    std::vector<char*> argv;
    argv.reserve(a.command.size() + 1);
    for (const auto& arg : a.command) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);

    std::fflush(stdout);
    std::fflush(stderr);
    restore(SIGINT, a.sigint_ignored);
    restore(SIGPIPE, a.sigpipe_ignored);
    ::execvpe(argv[0], argv.data(), envp.data());
    const int e = errno;
    platform::wipe(auth_token);
    platform::wipe(token);
    s.con.err("ERROR\tcommand failed: cannot run '" + a.command.front() + "': " + std::strerror(e) +
              "\n");
    return e == ENOENT ? exit_cmd_not_found : exit_cmd_cannot_run;
}

}  // namespace avn::helper
