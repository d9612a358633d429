#include "tests/unit/keyring_fixture.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

extern char** environ;

namespace avn::platform::test {

namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

constexpr const char* keyring_password = "avn-agent-test-password";

std::string find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return name;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos) {
            end = dirs.size();
        }
        std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        start = end + 1;
    }
    return name;
}

// This process's environment with `set` applied and `drop` removed.
std::vector<std::string> make_env(const env_list& set, const std::vector<std::string>& drop) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string kv = *e;
        if (auto eq = kv.find('='); eq != std::string::npos) {
            vars[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    for (const auto& name : drop) {
        vars.erase(name);
    }
    for (const auto& [k, v] : set) {
        vars[k] = v;
    }
    std::vector<std::string> out;
    out.reserve(vars.size());
    for (const auto& [k, v] : vars) {
        out.push_back(k + "=" + v);
    }
    return out;
}

struct child_spec {
    std::vector<std::string> argv;
    std::vector<std::string> env;
    int in = -1;   ///< becomes stdin (-1: /dev/null)
    int out = -1;  ///< becomes stdout (-1: /dev/null)
    int err = -1;  ///< becomes stderr (-1: /dev/null)
    int fd3 = -1;  ///< becomes fd 3 (-1: none)
};

// fork + execve. The children of a test must not outlive it: a crashed test
// would otherwise leave a bus and a keyring behind, so each child gets
// PR_SET_PDEATHSIG. Between fork and exec only async-signal-safe calls.
pid_t spawn(const child_spec& spec) {
    const std::string path = find_in_path(spec.argv.at(0));
    std::vector<char*> argv;
    for (const auto& a : spec.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : spec.env) {
        envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        auto move_fd = [](int from, int to) {
            if (from == to) {
                ::fcntl(to, F_SETFD, 0);
            } else {
                ::dup2(from, to);
            }
        };
        move_fd(spec.in >= 0 ? spec.in : devnull, 0);
        move_fd(spec.out >= 0 ? spec.out : devnull, 1);
        move_fd(spec.err >= 0 ? spec.err : devnull, 2);
        if (spec.fd3 >= 0) {
            move_fd(spec.fd3, 3);
        }
        ::execve(path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(devnull);
    return pid;
}

// Stops a child for good: SIGCONT first (a test may have stopped it), then
// SIGTERM, then SIGKILL after a grace period; always reaped.
void stop_child(pid_t& pid) {
    if (pid <= 0) {
        return;
    }
    ::kill(pid, SIGCONT);
    ::kill(pid, SIGTERM);
    const auto give_up = steady::now() + std::chrono::seconds(3);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (steady::now() >= give_up) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid = -1;
}

command_result run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         std::string_view input) {
    command_result result;
    int in[2];
    int out[2];
    int err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
        result.err = "pipe failed";
        return result;
    }
    child_spec spec{argv, env, in[0], out[1], err[1], -1};
    pid_t pid = spawn(spec);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) {
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        result.err = "fork failed";
        return result;
    }
    // Inputs here are a few bytes: far below the pipe's buffer.
    for (std::size_t done = 0; done < input.size();) {
        const ssize_t n = ::write(in[1], input.data() + done, input.size() - done);
        if (n <= 0) {
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(in[1]);
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    const auto give_up = steady::now() + std::chrono::seconds(30);
    while (open_fds > 0 && steady::now() < give_up) {
        if (::poll(fds, 2, 100) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                char buf[4096];
                const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
                if (n > 0) {
                    sinks[i]->append(buf, static_cast<std::size_t>(n));
                } else {
                    ::close(fds[i].fd);
                    fds[i].fd = -1;
                    --open_fds;
                }
            }
        }
    }
    for (auto& p : fds) {
        if (p.fd >= 0) {
            ::close(p.fd);
            ::kill(pid, SIGKILL);
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

const std::vector<std::string>& no_display() {
    // With a display an unlock prompt could open a window and block.
    static const std::vector<std::string> names = {"DISPLAY", "WAYLAND_DISPLAY"};
    return names;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The bus configuration: like the stock session bus, minus every service
// folder, so that nothing (a second keyring, say) is auto-activated.
std::string bus_config(const std::string& socket_dir) {
    return "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n"
           "  <type>session</type>\n"
           "  <keep_umask/>\n"
           "  <listen>unix:dir=" +
           socket_dir +
           "</listen>\n"
           "  <auth>EXTERNAL</auth>\n"
           "  <policy context=\"default\">\n"
           "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
           "    <allow eavesdrop=\"true\"/>\n"
           "    <allow own=\"*\"/>\n"
           "  </policy>\n"
           "</busconfig>\n";
}

// One line from `fd`, waiting at most `timeout`.
std::string read_line(int fd, std::chrono::milliseconds timeout) {
    std::string line;
    const auto give_up = steady::now() + timeout;
    while (line.find('\n') == std::string::npos && steady::now() < give_up) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        char buf[512];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        line.append(buf, static_cast<std::size_t>(n));
    }
    if (auto nl = line.find('\n'); nl != std::string::npos) {
        line.resize(nl);
    }
    return line;
}

}  // namespace

command_result run_command(const std::vector<std::string>& argv, const env_list& env,
                           std::string_view input) {
    return run_child(argv, make_env(env, {}), input);
}

std::unique_ptr<private_session> private_session::start(const options& opts, std::string& error) {
    std::unique_ptr<private_session> s(new private_session());
    std::string tmpl = (fs::temp_directory_path() / "avn-keyring-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        error = std::string("mkdtemp: ") + std::strerror(errno);
        return nullptr;
    }
    s->root_ = tmpl;
    for (const char* sub : {"home", "runtime", "data", "config", "cache", "state"}) {
        ::mkdir((s->root_ + "/" + sub).c_str(), 0700);
    }
    const std::string conf = s->root_ + "/bus.conf";
    std::ofstream(conf) << bus_config(s->root_);
    const std::string log = s->root_ + "/daemons.log";
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

    int addr[2];
    if (::pipe2(addr, O_CLOEXEC) != 0) {
        error = "pipe failed";
        ::close(log_fd);
        return nullptr;
    }
    s->bus_pid_ = spawn(
        {{"dbus-daemon", "--config-file=" + conf, "--nofork", "--nopidfile", "--print-address=3"},
         make_env(s->env(), no_display()),
         -1,
         -1,
         log_fd,
         addr[1]});
    ::close(addr[1]);
    s->address_ = read_line(addr[0], std::chrono::seconds(10));
    ::close(addr[0]);
    if (s->bus_pid_ < 0 || s->address_.empty()) {
        ::close(log_fd);
        error = "dbus-daemon did not start: " + read_file(log);
        return nullptr;
    }

    ::close(log_fd);
    if (opts.keyring && !s->start_keyring(error)) {
        return nullptr;
    }
    return s;
}

bool private_session::start_keyring(std::string& error) {
    const std::string log = root_ + "/daemons.log";
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
        ::close(log_fd);
        error = "pipe failed";
        return false;
    }
    // --foreground keeps it our child, so we can stop and reap it.
    keyring_pid_ =
        spawn({{"gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"},
               make_env(env(), no_display()),
               in[0],
               -1,
               log_fd,
               -1});
    ::close(in[0]);
    ::close(log_fd);
    // No trailing newline: it would become part of the password.
    const std::string_view pw = keyring_password;
    const ssize_t written = ::write(in[1], pw.data(), pw.size());
    ::close(in[1]);
    auto waited = run({"gdbus", "wait", "--session", "--timeout", "10", "org.freedesktop.secrets"});
    if (keyring_pid_ < 0 || written != static_cast<ssize_t>(pw.size()) || waited.exit_code != 0) {
        error = "gnome-keyring-daemon did not start: " + waited.err + read_file(log);
        return false;
    }
    return true;
}

bool private_session::restart_keyring(std::string& error) {
    stop_child(keyring_pid_);
    // Until the old daemon's name is released, `gdbus wait` would succeed at
    // once on it.
    for (int i = 0; i < 500 && secret_service_pid(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return start_keyring(error);
}

private_session::~private_session() {
    stop();
}

void private_session::stop() {
    stop_child(keyring_pid_);
    stop_child(bus_pid_);
    if (!root_.empty()) {
        std::error_code ec;
        fs::remove_all(root_, ec);
        root_.clear();
    }
}

env_list private_session::env() const {
    env_list e = {
        {"HOME", root_ + "/home"},
        {"XDG_RUNTIME_DIR", root_ + "/runtime"},
        {"XDG_DATA_HOME", root_ + "/data"},
        {"XDG_CONFIG_HOME", root_ + "/config"},
        {"XDG_CACHE_HOME", root_ + "/cache"},
        {"XDG_STATE_HOME", root_ + "/state"},
    };
    if (!address_.empty()) {
        e.emplace_back("DBUS_SESSION_BUS_ADDRESS", address_);
    }
    return e;
}

command_result private_session::run(const std::vector<std::string>& argv,
                                    std::string_view input) const {
    return run_child(argv, make_env(env(), no_display()), input);
}

std::optional<pid_t> private_session::secret_service_pid() const {
    auto r = run({"gdbus", "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path",
                  "/org/freedesktop/DBus", "--method",
                  "org.freedesktop.DBus.GetConnectionUnixProcessID", "org.freedesktop.secrets"});
    // "(uint32 1234,)"
    const auto at = r.out.find("uint32 ");
    if (r.exit_code != 0 || at == std::string::npos) {
        return std::nullopt;
    }
    return static_cast<pid_t>(std::strtol(r.out.c_str() + at + 7, nullptr, 10));
}

bool private_session::lock_login() const {
    auto r =
        run({"gdbus", "call", "--session", "--dest", "org.freedesktop.secrets", "--object-path",
             "/org/freedesktop/secrets", "--method", "org.freedesktop.Secret.Service.Lock",
             "[objectpath '/org/freedesktop/secrets/collection/login']"});
    return r.exit_code == 0 && r.out.find("collection/login") != std::string::npos;
}

// ---------------------------------------------------------------------------

namespace {

struct shared_state {
    std::unique_ptr<private_session> session;
    std::string error;
    bool tried = false;
    std::optional<std::string> old_address;
};

shared_state& shared() {
    static shared_state s;
    return s;
}

class shared_keyring_environment : public ::testing::Environment {
  public:
    void TearDown() override {
        auto& s = shared();
        if (s.session) {
            s.session.reset();
            if (s.old_address) {
                ::setenv("DBUS_SESSION_BUS_ADDRESS", s.old_address->c_str(), 1);
            } else {
                ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
            }
        }
    }
};

[[maybe_unused]] ::testing::Environment* const registered =
    ::testing::AddGlobalTestEnvironment(new shared_keyring_environment);

}  // namespace

private_session* shared_keyring(std::string* error) {
    auto& s = shared();
    if (!s.tried) {
        s.tried = true;
        s.session = private_session::start({}, s.error);
        if (s.session) {
            if (const char* old = std::getenv("DBUS_SESSION_BUS_ADDRESS")) {
                s.old_address = old;
            }
            ::setenv("DBUS_SESSION_BUS_ADDRESS", s.session->address().c_str(), 1);
        }
    }
    if (error != nullptr) {
        *error = s.error;
    }
    return s.session.get();
}

scoped_env::scoped_env(std::string name, std::optional<std::string> value)
    : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) {
        old_ = old;
    }
    if (value) {
        ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
        ::unsetenv(name_.c_str());
    }
}

scoped_env::~scoped_env() {
    if (old_) {
        ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
        ::unsetenv(name_.c_str());
    }
}

temp_dir::temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "avn-store-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) {
        path_ = tmpl;
    }
}

temp_dir::~temp_dir() {
    if (path_.empty()) {
        return;
    }
    // Tests take permissions away; give them back so everything can go.
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(path_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            ::chmod(it->path().c_str(), 0700);
        }
    }
    fs::remove_all(path_, ec);
}

}  // namespace avn::platform::test
