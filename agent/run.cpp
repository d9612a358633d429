#include "agent/run.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>
#include <thread>

#include "agent/dispatch.hpp"
#include "agent/session_ops.hpp"
#include "agent/token_keeper.hpp"
#include "avn/version.hpp"
#include "platform/socket_path.hpp"
#include "platform/store_select.hpp"
#include "platform/systemd.hpp"
#include "platform/unix_socket.hpp"

namespace avn::agent {

namespace {

bool use_csh(shell_syntax s) {
    if (s != shell_syntax::from_env) {
        return s == shell_syntax::csh;
    }
    const char* shell = std::getenv("SHELL");
    const std::string_view sv = shell != nullptr ? shell : "";
    return sv.size() >= 3 && sv.substr(sv.size() - 3) == "csh";
}

void print_env(bool csh, const std::string& path, pid_t pid) {
    const std::string q = platform::shell_quote(path);
    if (csh) {
        std::printf("setenv AVN_AGENT_SOCK %s;\nsetenv AVN_AGENT_PID %d;\necho Agent pid %d;\n",
                    q.c_str(), pid, pid);
    } else {
        std::printf(
            "AVN_AGENT_SOCK=%s; export AVN_AGENT_SOCK;\nAVN_AGENT_PID=%d; export "
            "AVN_AGENT_PID;\necho Agent pid %d;\n",
            q.c_str(), pid, pid);
    }
    std::fflush(stdout);
}

// Alive and not a zombie waiting for its parent to reap it.
bool running(pid_t pid) {
    if (::kill(pid, 0) != 0) {
        return false;
    }
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (f == nullptr) {
        return true;
    }
    char state = '?';
    const int got = std::fscanf(f, "%*d (%*[^)]) %c", &state);
    std::fclose(f);
    return got != 1 || state != 'Z';
}

int fail(const std::string& message) {
    std::fprintf(stderr, "avn-agent: %s\n", message.c_str());
    return 1;
}

// Serves until stopped. `ready` runs once the agent answers on its socket
// and handles signals: only then is it announced.
int serve(platform::unique_fd listener, const std::string& path, bool owns_file,
          const agent_options& opts, platform::store_choice keyring,
          const std::function<void()>& ready) {
    boost::asio::io_context io(1);
    server srv(io, std::move(listener), path, owns_file, opts.server);
    dispatcher ops(srv);
    srv.set_handler(ops.handler());

    api::client api(io.get_executor(), opts.api);
    store_runner store(io.get_executor(), std::move(keyring.store));
    session_manager sessions(opts.api.base_url, store);
    session_ops user_ops(api, sessions);
    user_ops.register_with(ops);
    ops.add_status_section("keyring", [&keyring](const boost::json::storage_ptr& sp) {
        return boost::json::value(
            {{"backend", keyring.backend}, {"why", keyring.why}, {"fallback", keyring.loud}}, sp);
    });
    if (keyring.loud) {
        log_warning("keyring: " + keyring.why);
    } else {
        log_info("keyring: " + keyring.why);
    }
    srv.on_stopping([] { platform::notify("STOPPING=1"); });
    // The stored session is read before the agent takes connections (the
    // store's deadline bounds the wait); the API is asked about it after.
    keeper_config kc;
    kc.test_clock = opts.test_clock;
    token_keeper keeper(io.get_executor(), api, sessions, store, kc);
    keeper.register_with(ops);
    sessions.on_change = [&keeper] { keeper.kick(); };
    user_ops.before_logout = [&keeper]() { return keeper.revoke_all(); };
    auto start = [&]() -> asio::awaitable<void> {
        co_await user_ops.load_stored();
        co_await keeper.load_stored();
        keeper.start();
        srv.start();
        log_info("avn-agent " + std::string(avn::version_string) + " serving on " + path);
        platform::notify("READY=1\nSTATUS=serving on " + path);
        if (ready) {
            ready();
        }
        co_await user_ops.check_restored();
    };
    asio::co_spawn(io, std::move(start), asio::detached);
    io.run();
    log_info("stopped");
    return 0;
}

// -k: the agent named by AVN_AGENT_PID, else the one answering on the socket
// (its pid from SO_PEERCRED).
int kill_agent(const agent_options& opts, const platform::socket_location& loc) {
    pid_t pid = 0;
    if (const char* env = std::getenv("AVN_AGENT_PID"); env != nullptr && *env != '\0') {
        char* end = nullptr;
        const long v = std::strtol(env, &end, 10);
        if (*end != '\0' || v <= 1) {
            return fail("AVN_AGENT_PID='" + std::string(env) + "' is not a process id");
        }
        pid = static_cast<pid_t>(v);
    } else {
        auto fd = platform::connect_unix(loc.path, std::chrono::seconds(2));
        if (!fd) {
            return fail("no agent to stop: AVN_AGENT_PID is not set and none answers on " +
                        loc.path);
        }
        auto cred = platform::peer_of(fd->get());
        if (!cred || cred->uid != ::geteuid()) {
            return fail("the process on " + loc.path + " is not yours; not stopping it");
        }
        pid = cred->pid;
    }
    if (::kill(pid, SIGTERM) != 0) {
        return fail("cannot stop agent pid " + std::to_string(pid) + ": " + std::strerror(errno));
    }
    // Wait (bounded) so that the socket is gone when we return.
    for (int i = 0; i < 100 && running(pid); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (running(pid)) {
        return fail("agent pid " + std::to_string(pid) +
                    " is still running 5 s after SIGTERM; its environment is kept");
    }
    if (use_csh(opts.shell)) {
        std::printf(
            "unsetenv AVN_AGENT_SOCK;\nunsetenv AVN_AGENT_PID;\necho Agent pid %d killed;\n", pid);
    } else {
        std::printf("unset AVN_AGENT_SOCK;\nunset AVN_AGENT_PID;\necho Agent pid %d killed;\n",
                    pid);
    }
    return 0;
}

platform::result<platform::unique_fd> listen_at(const platform::socket_location& loc) {
    if (auto ok = platform::prepare_socket_dir(loc); !ok) {
        return ok.error();
    }
    return platform::listen_unix(loc.path);
}

platform::store_result<platform::store_choice> open_keyring(const agent_options& opts) {
    platform::store_options so;
    return platform::open_store(opts.keyring, so);
}

void detach_stdio() {
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) {
            ::close(null);
        }
    }
}

}  // namespace

int run_agent(const agent_options& opts) {
    // A bad AIVEN_WEB_URL or AIVEN_CA_CERT is a start-up error, said once,
    // rather than a failure of every later command.
    if (auto bad = api::client(boost::asio::system_executor(), opts.api).validate()) {
        return fail(bad->message);
    }
    platform::socket_location loc = platform::default_socket_location();
    if (!opts.socket_path.empty()) {
        ::setenv("AVN_AGENT_SOCK", opts.socket_path.c_str(), 1);
        loc = platform::default_socket_location();
    }
    if (opts.mode == start_mode::kill) {
        return kill_agent(opts, loc);
    }

    // Started by the service manager: serve its socket in the foreground.
    auto activated = platform::adopt_activated_socket();
    if (!activated) {
        return fail(activated.error().message);
    }
    if (activated->fd) {
        log_open(log_sink::stderr_stream, opts.level);
        auto keyring = open_keyring(opts);
        if (!keyring) {
            return fail(keyring.error().message);
        }
        return serve(std::move(activated->fd), activated->path, false, opts, std::move(*keyring),
                     {});
    }

    const bool csh = use_csh(opts.shell);
    if (opts.mode == start_mode::foreground) {
        auto listener = listen_at(loc);
        if (!listener) {
            return fail(listener.error().message);
        }
        auto keyring = open_keyring(opts);
        if (!keyring) {
            ::unlink(loc.path.c_str());
            return fail(keyring.error().message);
        }
        if (keyring->loud) {
            std::fprintf(stderr, "avn-agent: warning: %s\n", keyring->why.c_str());
        }
        if (opts.log_file.empty()) {
            log_open(log_sink::stderr_stream, opts.level);
        } else if (auto bad = log_open(log_sink::file, opts.level, opts.log_file)) {
            ::unlink(loc.path.c_str());
            return fail(*bad);
        }
        return serve(std::move(*listener), loc.path, true, opts, std::move(*keyring),
                     [&] { print_env(csh, loc.path, ::getpid()); });
    }

    // Background: the child binds and listens itself (so that SO_PEERCRED
    // names it, not this short-lived parent) and reports through a pipe:
    // "R" once it serves, else the error text. The parent prints the shell
    // code only after "R", so the code is true the moment it is read.
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
        return fail(std::string("pipe failed: ") + std::strerror(errno));
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t child = ::fork();
    if (child < 0) {
        return fail(std::string("fork failed: ") + std::strerror(errno));
    }
    if (child > 0) {
        ::close(report[1]);
        std::string got;
        char buf[512];
        ssize_t n;
        while ((n = ::read(report[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
            if (n > 0) {
                got.append(buf, static_cast<std::size_t>(n));
            }
        }
        ::close(report[0]);
        if (got.starts_with("R")) {
            // "R" alone, or "R\n" and a warning to show (a keyring fallback).
            if (got.size() > 2) {
                std::fprintf(stderr, "avn-agent: warning: %s\n", got.c_str() + 2);
            }
            print_env(csh, loc.path, child);
            return 0;
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        return fail(got.empty() ? "the agent exited during start-up" : got);
    }
    ::close(report[0]);
    const auto tell_parent = [fd = report[1]](std::string_view what) {
        ssize_t ignored = ::write(fd, what.data(), what.size());
        (void)ignored;
        ::close(fd);
    };
    ::setsid();
    auto listener = listen_at(loc);
    if (!listener) {
        tell_parent(listener.error().message);
        ::_exit(1);
    }
    auto keyring = open_keyring(opts);
    if (!keyring) {
        ::unlink(loc.path.c_str());
        tell_parent(keyring.error().message);
        ::_exit(1);
    }
    const std::string ready = keyring->loud ? "R\n" + keyring->why : "R";
    // Open the log first: --log-file may be relative to the start folder.
    if (opts.log_file.empty()) {
        log_open(log_sink::syslog, opts.level);
    } else if (auto bad = log_open(log_sink::file, opts.level, opts.log_file)) {
        // Background stderr goes nowhere: say it now, or nothing is ever logged.
        ::unlink(loc.path.c_str());
        tell_parent(*bad);
        ::_exit(1);
    }
    if (::chdir("/") != 0) {
        // Staying in the start folder only keeps it busy; not fatal.
    }
    detach_stdio();
    return serve(std::move(*listener), loc.path, true, opts, std::move(*keyring),
                 [&] { tell_parent(ready); });
}

}  // namespace avn::agent
