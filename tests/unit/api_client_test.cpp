// The API client against the real local fake (tests/fake_aiven/fake_aiven.py) run as a child
// process: real TLS, real sockets, the fake's fault injection for the failure paths.
#include "agent/api_client.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "avn/version.hpp"
#include "platform/secret.hpp"

#ifndef AVN_SOURCE_DIR
#define AVN_SOURCE_DIR "/work/main"
#endif
#ifndef AVN_PYTHON
#define AVN_PYTHON "/usr/bin/python3"
#endif

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
namespace api = avn::agent::api;
using avn::platform::secret;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr const char* python = AVN_PYTHON;
constexpr const char* password = "correct horse battery";

std::string_view sv(const json::string& s) {
    return {s.data(), s.size()};
}
std::string_view sv(const json::value& v) {
    return sv(v.as_string());
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// The environment minus OPENSSL_CONF, which could point the openssl CLI at a config that
// breaks certificate generation.
std::vector<char*> child_environment() {
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "OPENSSL_CONF=", 13) != 0) {
            env.push_back(*e);
        }
    }
    env.push_back(nullptr);
    return env;
}

std::vector<char*> argv_of(std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    return argv;
}

// Runs a program to completion with stdout and stderr discarded; returns its exit status.
int run_program(std::vector<std::string> args) {
    auto argv = argv_of(args);
    auto env = child_environment();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        return -1;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A temporary directory removed with its content.
class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "api_client_test.XXXXXX");
        if (::mkdtemp(tmpl.data()) != nullptr) {
            path_ = tmpl;
        }
    }
    ~temp_dir() {
        if (!path_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        }
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// The fake Aiven API as a child process. Started by the constructor, which waits up to 10 s
// for its one JSON line; stopped (SIGTERM, then SIGKILL after 5 s) and reaped by the
// destructor, so no test leaves it behind.
class fake_aiven {
  public:
    explicit fake_aiven(std::vector<std::string> extra = {}) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            failure_ = std::string("pipe2: ") + std::strerror(errno);
            return;
        }
        out_ = fds[0];
        std::vector<std::string> args = {
            python, std::string(AVN_SOURCE_DIR) + "/tests/fake_aiven/fake_aiven.py"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto argv = argv_of(args);
        auto env = child_environment();
        const pid_t parent = ::getpid();
        const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        pid_ = ::fork();
        if (pid_ == 0) {
            // Only async-signal-safe calls until exec. The fake dies with this process even
            // when a crash or a hard kill skips every destructor.
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) {
                ::_exit(127);
            }
            ::dup2(null_fd, 0);
            ::dup2(fds[1], 1);
            ::execve(python, argv.data(), env.data());
            ::_exit(127);
        }
        const int fork_errno = errno;
        ::close(fds[1]);
        if (null_fd >= 0) {
            ::close(null_fd);
        }
        if (pid_ < 0) {
            failure_ = std::string("fork: ") + std::strerror(fork_errno);
            return;
        }
        read_ready_line();
    }

    ~fake_aiven() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            const auto deadline = steady::now() + 5s;
            int status = 0;
            while (::waitpid(pid_, &status, WNOHANG) == 0) {
                if (steady::now() > deadline) {
                    ::kill(pid_, SIGKILL);
                    ::waitpid(pid_, &status, 0);
                    break;
                }
                std::this_thread::sleep_for(5ms);
            }
        }
        if (out_ >= 0) {
            ::close(out_);
        }
    }

    fake_aiven(const fake_aiven&) = delete;
    fake_aiven& operator=(const fake_aiven&) = delete;

    [[nodiscard]] bool ok() const { return failure_.empty(); }
    [[nodiscard]] const std::string& failure() const { return failure_; }

    std::string url;
    std::string ca_file;  // empty in plain HTTP mode
    unsigned short port = 0;

  private:
    void read_ready_line() {
        std::string line;
        const auto deadline = steady::now() + 10s;
        while (line.find('\n') == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            if (left <= 0ms) {
                failure_ = "the fake did not report ready within 10 s";
                return;
            }
            pollfd p{};
            p.fd = out_;
            p.events = POLLIN;
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                continue;
            }
            char buf[512];
            const ssize_t n = ::read(out_, buf, sizeof buf);
            if (n <= 0) {
                failure_ = "the fake exited before reporting ready";
                return;
            }
            line.append(buf, static_cast<std::size_t>(n));
        }
        boost::system::error_code ec;
        const auto v = json::parse(line, ec);
        if (ec || !v.is_object()) {
            failure_ = "the fake printed something that is not JSON: " + line;
            return;
        }
        const auto& o = v.get_object();
        url = std::string(sv(o.at("url")));
        if (o.at("ca_file").is_string()) {
            ca_file = std::string(sv(o.at("ca_file")));
        }
        port = static_cast<unsigned short>(o.at("port").to_number<int>());
    }

    pid_t pid_ = -1;
    int out_ = -1;
    std::string failure_;
};

// Runs `op` on `io` for at most `limit`; nullopt (and a test failure) when it does not finish
// in time or throws.
template <class T>
std::optional<T> run_for(asio::io_context& io, asio::awaitable<T> op,
                         std::chrono::milliseconds limit = 10s) {
    std::optional<T> out;
    bool done = false;
    std::string thrown;
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
        done = true;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                thrown = ex.what();
            }
            return;
        }
        out.emplace(std::move(v));
    });
    io.restart();
    const auto deadline = steady::now() + limit;
    while (!done && steady::now() < deadline) {
        io.run_one_for(deadline - steady::now());
    }
    if (!done) {
        ADD_FAILURE() << "the operation did not finish within " << limit.count() << " ms";
    } else if (!thrown.empty()) {
        ADD_FAILURE() << "the operation threw: " << thrown;
    }
    return out;
}

api::config config_for(const fake_aiven& f) {
    api::config cfg;
    cfg.base_url = f.url;
    cfg.extra_ca_file = f.ca_file;
    cfg.use_system_trust = false;
    return cfg;
}

double seconds_since(steady::time_point t) {
    return std::chrono::duration<double>(steady::now() - t).count();
}

// Fixture: a client for one fake, control calls on a client of their own (so they never
// touch the pool under test), and helpers for the fake's users, faults and request log.
class with_fake {
  public:
    with_fake(asio::io_context& io, const fake_aiven& f)
        : io_(io), fake_(f), control_(io.get_executor(), config_for(f)) {}

    json::value control(http::verb method, const std::string& path,
                        const json::value& body = nullptr) {
        auto r =
            run_for(io_, control_.request(method, path, body.is_null() ? nullptr : &body, nullptr));
        if (!r) {
            return nullptr;
        }
        if (r->has_error()) {
            ADD_FAILURE() << "control " << path << ": " << r->error().message << ": "
                          << r->error().api_message;
            return nullptr;
        }
        return (*r)->body;
    }

    std::string add_user(const json::object& extra = {}) {
        const std::string email = "user" + std::to_string(++users_) + "@example.com";
        json::object body = extra;
        body["email"] = email;
        body["password"] = password;
        control(http::verb::post, "/_fake/users", body);
        return email;
    }

    void add_fault(json::object rule) { control(http::verb::post, "/_fake/faults", rule); }

    json::array requests() {
        auto v = control(http::verb::get, "/_fake/requests");
        return v.is_object() ? v.at("requests").as_array() : json::array{};
    }

    // Log entries for one path (the raw, still encoded path).
    std::vector<json::object> requests_for(std::string_view path) {
        std::vector<json::object> out;
        for (const auto& e : requests()) {
            if (sv(e.at("path")) == path) {
                out.push_back(e.as_object());
            }
        }
        return out;
    }

    const fake_aiven& fake() const { return fake_; }

  private:
    asio::io_context& io_;
    const fake_aiven& fake_;
    api::client control_;
    int users_ = 0;
};

api::result call(asio::io_context& io, api::client& c, http::verb method, const std::string& path,
                 const json::value* body = nullptr, const secret* token = nullptr,
                 std::chrono::milliseconds limit = 10s) {
    auto r = run_for(io, c.request(method, path, body, token), limit);
    if (!r) {
        return api::error{api::error_kind::network, "did not finish", 0, {}, nullptr};
    }
    return std::move(*r);
}

json::value credentials(const std::string& email, const std::string& pw = password) {
    return json::object{{"email", email}, {"password", pw}};
}

// Logs in through `c`; an empty secret on failure.
secret login(asio::io_context& io, api::client& c, const std::string& email) {
    const auto body = credentials(email);
    auto r = call(io, c, http::verb::post, "/v1/userauth", &body);
    if (r.has_error()) {
        ADD_FAILURE() << "login failed: " << r.error().message << ": " << r.error().api_message;
        return secret{};
    }
    return secret(sv(r->body.at("token")));
}

// ---------------------------------------------------------------------------------------------
// No I/O

TEST(encode_path_segment, keeps_unreserved_bytes) {
    EXPECT_EQ(api::encode_path_segment("AZaz09_.-~"), "AZaz09_.-~");
    EXPECT_EQ(api::encode_path_segment(""), "");
}

TEST(encode_path_segment, encodes_everything_else_in_upper_case_hex) {
    EXPECT_EQ(api::encode_path_segment("a+b/c=d"), "a%2Bb%2Fc%3Dd");
    EXPECT_EQ(api::encode_path_segment("x y%z"), "x%20y%25z");
    EXPECT_EQ(api::encode_path_segment("\xc3\xa9?#"), "%C3%A9%3F%23");
    EXPECT_EQ(api::encode_path_segment(std::string_view("\0\xff", 2)), "%00%FF");
}

TEST(parse_http_date, parses_imf_fixdate) {
    const auto t = api::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
              784111777);
    const auto leap = api::parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT");
    ASSERT_TRUE(leap.has_value());
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(leap->time_since_epoch()).count(),
              1709251199);
}

TEST(parse_http_date, rejects_other_forms_and_impossible_dates) {
    EXPECT_FALSE(api::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
    EXPECT_FALSE(api::parse_http_date("Sun Nov  6 08:49:37 1994"));
    EXPECT_FALSE(api::parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
    EXPECT_FALSE(api::parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
    EXPECT_FALSE(api::parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"));
    EXPECT_FALSE(api::parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
    EXPECT_FALSE(api::parse_http_date("Xyz, 06 Nov 1994 08:49:37 GMT"));
    EXPECT_FALSE(api::parse_http_date("Sun, 0x Nov 1994 08:49:37 GMT"));
    EXPECT_FALSE(api::parse_http_date(""));
}

TEST(api_config, reads_the_environment) {
    ::setenv("AIVEN_WEB_URL", "https://example.test:8443", 1);
    ::setenv("AIVEN_CA_CERT", "/etc/example-ca.pem", 1);
    const auto cfg = api::config_from_env();
    ::unsetenv("AIVEN_WEB_URL");
    ::unsetenv("AIVEN_CA_CERT");
    EXPECT_EQ(cfg.base_url, "https://example.test:8443");
    EXPECT_EQ(cfg.extra_ca_file, "/etc/example-ca.pem");
    const auto defaults = api::config_from_env();
    EXPECT_EQ(defaults.base_url, "https://api.aiven.io");
    EXPECT_TRUE(defaults.extra_ca_file.empty());
    EXPECT_TRUE(defaults.use_system_trust);
}

TEST(api_config, accepts_https_anywhere_and_http_on_loopback) {
    asio::io_context io;
    for (const char* url : {"https://api.aiven.io", "https://api.aiven.io/",
                            "https://10.1.2.3:8443", "http://127.0.0.1:1", "http://127.9.9.9:8080",
                            "http://[::1]:1", "http://localhost:1", "HTTP://LocalHost:1/prefix/"}) {
        api::config cfg;
        cfg.base_url = url;
        const auto err = api::client(io.get_executor(), cfg).validate();
        EXPECT_FALSE(err.has_value()) << url << ": " << (err ? err->message : "");
    }
}

TEST(api_config, refuses_plain_http_to_a_remote_host_without_any_io) {
    asio::io_context io;
    for (const char* url : {"http://example.com", "http://10.0.0.1:8080", "http://[2001:db8::1]",
                            "http://127.0.0.1.example.com", "http://localhost.example.com"}) {
        api::config cfg;
        cfg.base_url = url;
        api::client c(io.get_executor(), cfg);
        const auto err = c.validate();
        ASSERT_TRUE(err.has_value()) << url;
        EXPECT_EQ(err->kind, api::error_kind::bad_config);
        EXPECT_TRUE(contains(err->message, "https://")) << err->message;
        EXPECT_TRUE(contains(err->message, "unencrypted")) << err->message;

        auto r = call(io, c, http::verb::get, "/v1/me");
        ASSERT_TRUE(r.has_error());
        EXPECT_EQ(r.error().kind, api::error_kind::bad_config);
        EXPECT_EQ(r.error().message, err->message);
        EXPECT_EQ(c.connections_opened(), 0U);
    }
}

TEST(api_config, rejects_malformed_urls) {
    asio::io_context io;
    for (const char* url :
         {"ftp://example.com", "api.aiven.io", "https://", "https://:443", "https://host:0",
          "https://host:99999", "https://host:", "https://host:x", "https://host/?q=1",
          "https://host#frag", "https://[::1", "https://ho st", "https://bad_host!"}) {
        api::config cfg;
        cfg.base_url = url;
        const auto err = api::client(io.get_executor(), cfg).validate();
        ASSERT_TRUE(err.has_value()) << url;
        EXPECT_EQ(err->kind, api::error_kind::bad_config) << url;
    }
}

TEST(api_config, never_echoes_credentials_in_the_url) {
    asio::io_context io;
    api::config cfg;
    cfg.base_url = "https://user:hunter2@api.aiven.io";
    const auto err = api::client(io.get_executor(), cfg).validate();
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->kind, api::error_kind::bad_config);
    EXPECT_FALSE(contains(err->message, "hunter2")) << err->message;
}

TEST(api_config, missing_ca_file_is_bad_config_naming_the_file) {
    asio::io_context io;
    api::config cfg;
    cfg.extra_ca_file = "/nonexistent/dir/aiven-ca.pem";
    api::client c(io.get_executor(), cfg);
    const auto err = c.validate();
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->kind, api::error_kind::bad_config);
    EXPECT_TRUE(contains(err->message, "/nonexistent/dir/aiven-ca.pem")) << err->message;
    EXPECT_TRUE(contains(err->message, "No such file")) << err->message;
    auto r = call(io, c, http::verb::get, "/v1/me");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::bad_config);
}

TEST(api_config, ca_file_without_certificates_is_bad_config) {
    temp_dir dir;
    const std::string path = dir.path() + "/empty.pem";
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("not a certificate\n", f);
    std::fclose(f);
    asio::io_context io;
    api::config cfg;
    cfg.extra_ca_file = path;
    const auto err = api::client(io.get_executor(), cfg).validate();
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->kind, api::error_kind::bad_config);
    EXPECT_TRUE(contains(err->message, path)) << err->message;
}

TEST(api_config, rejects_unsendable_paths_and_tokens) {
    asio::io_context io;
    api::config cfg;
    cfg.base_url = "http://127.0.0.1:1";
    api::client c(io.get_executor(), cfg);
    for (const char* path : {"v1/me", "", "/v1/me now", "/v1/me\r\nx: y"}) {
        auto r = call(io, c, http::verb::get, path);
        ASSERT_TRUE(r.has_error());
        EXPECT_EQ(r.error().kind, api::error_kind::bad_config) << path;
    }
    const secret bad("tok\r\nx-injected: 1");
    auto r = call(io, c, http::verb::get, "/v1/me", nullptr, &bad);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::bad_config);
    EXPECT_FALSE(contains(r.error().message, "injected"));
    EXPECT_EQ(c.connections_opened(), 0U);
}

// ---------------------------------------------------------------------------------------------
// Against the fake, over HTTPS

class api_client : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { shared_ = new fake_aiven(); }
    static void TearDownTestSuite() {
        delete shared_;
        shared_ = nullptr;
    }

    void SetUp() override {
        ASSERT_TRUE(shared_->ok()) << shared_->failure();
        fx_.emplace(io_, *shared_);
        fx_->control(http::verb::post, "/_fake/reset");
    }

    const fake_aiven& fake() const { return *shared_; }
    api::config cfg() const { return config_for(*shared_); }
    /// The fake's address, trusting the system's certificates only.
    api::config system_trust_only() const {
        auto c = cfg();
        c.extra_ca_file.clear();
        c.use_system_trust = true;
        return c;
    }
    std::string where() const { return "127.0.0.1:" + std::to_string(shared_->port); }
    with_fake& fx() { return *fx_; }

    api::result call(api::client& c, http::verb method, const std::string& path,
                     const json::value* body = nullptr, const secret* token = nullptr) {
        return ::call(io_, c, method, path, body, token);
    }

    asio::io_context io_;
    std::optional<with_fake> fx_;
    static fake_aiven* shared_;
};

fake_aiven* api_client::shared_ = nullptr;

TEST_F(api_client, login_posts_json_and_returns_the_token) {
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const auto body = credentials(email);
    auto r = call(c, http::verb::post, "/v1/userauth", &body);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->status, 200U);
    EXPECT_EQ(sv(r->body.at("user_email")), email);
    EXPECT_EQ(sv(r->body.at("token")).size(), 192U);

    const auto log = fx().requests_for("/v1/userauth");
    ASSERT_EQ(log.size(), 1U);
    EXPECT_EQ(sv(log[0].at("method")), "POST");
    EXPECT_EQ(sv(log[0].at("content_type")), "application/json");
    EXPECT_EQ(sv(log[0].at("user_agent")), std::string("avn-agent/") + avn::version_string);
    EXPECT_TRUE(log[0].at("token_prefix").is_null());
    EXPECT_EQ(log[0].at("body"), body);
}

TEST_F(api_client, authenticated_get_sends_the_token) {
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const secret token = login(io_, c, email);
    ASSERT_FALSE(token.empty());
    auto r = call(c, http::verb::get, "/v1/me", nullptr, &token);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(sv(r->body.at("user").at("user")), email);

    const auto log = fx().requests_for("/v1/me");
    ASSERT_EQ(log.size(), 1U);
    EXPECT_EQ(sv(log[0].at("token_prefix")), token.expose().substr(0, 10));
    EXPECT_TRUE(log[0].at("content_type").is_null());
    EXPECT_TRUE(log[0].at("body").is_null());
}

TEST_F(api_client, wrong_password_is_403_with_the_api_message) {
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const auto body = credentials(email, "wrong-password-123");
    auto r = call(c, http::verb::post, "/v1/userauth", &body);
    ASSERT_TRUE(r.has_error());
    const auto e = r.error();
    EXPECT_EQ(e.kind, api::error_kind::http_status);
    EXPECT_EQ(e.status, 403U);
    EXPECT_EQ(e.api_message, "Authentication failed");
    EXPECT_EQ(sv(e.body.at("errors").at(0).at("error_code")), "authentication_failed");
    EXPECT_TRUE(contains(e.message, "403")) << e.message;
    EXPECT_TRUE(contains(e.message, where())) << e.message;
    EXPECT_FALSE(contains(e.message, "wrong-password-123"));
    EXPECT_FALSE(contains(e.message, "Authentication failed"));  // the API's words stay apart

    // An error response leaves the connection usable.
    const auto good = credentials(email);
    auto ok = call(c, http::verb::post, "/v1/userauth", &good);
    EXPECT_TRUE(ok.has_value());
    EXPECT_EQ(c.connections_opened(), 1U);
}

TEST_F(api_client, two_factor_login_is_http_status_510) {
    const auto email = fx().add_user({{"otp", "123456"}});
    api::client c(io_.get_executor(), cfg());
    const auto body = credentials(email);
    auto r = call(c, http::verb::post, "/v1/userauth", &body);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::http_status);
    EXPECT_EQ(r.error().status, 510U);
    EXPECT_EQ(r.error().api_message, "Two-factor authentication OTP required");

    json::value with_otp = credentials(email);
    with_otp.as_object()["otp"] = "123456";
    EXPECT_TRUE(call(c, http::verb::post, "/v1/userauth", &with_otp).has_value());
}

TEST_F(api_client, unknown_token_is_401) {
    api::client c(io_.get_executor(), cfg());
    const secret token("not-a-real-token-but-secret");
    auto r = call(c, http::verb::get, "/v1/me", nullptr, &token);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::http_status);
    EXPECT_EQ(r.error().status, 401U);
    EXPECT_EQ(r.error().api_message, "Invalid token");
    EXPECT_FALSE(contains(r.error().message, "not-a-real-token"));
}

TEST_F(api_client, revokes_a_token_by_its_percent_encoded_full_value) {
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const secret token = login(io_, c, email);
    ASSERT_FALSE(token.empty());
    const std::string encoded = api::encode_path_segment(token.expose());
    EXPECT_TRUE(contains(encoded, "%2B"));
    EXPECT_TRUE(contains(encoded, "%2F"));
    EXPECT_TRUE(contains(encoded, "%3D"));

    auto r = call(c, http::verb::delete_, "/v1/access_token/" + encoded, nullptr, &token);
    ASSERT_TRUE(r.has_value()) << r.error().message << ": " << r.error().api_message;
    EXPECT_EQ(sv(r->body.at("message")), "Access token revoked");
    EXPECT_EQ(fx().requests_for("/v1/access_token/" + encoded).size(), 1U);

    auto after = call(c, http::verb::get, "/v1/me", nullptr, &token);
    ASSERT_TRUE(after.has_error());
    EXPECT_EQ(after.error().status, 401U);
}

TEST_F(api_client, sequential_requests_reuse_one_connection) {
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const secret token = login(io_, c, email);
    for (int i = 0; i < 3; ++i) {
        auto r = call(c, http::verb::get, "/v1/me", nullptr, &token);
        ASSERT_TRUE(r.has_value()) << r.error().message;
    }
    EXPECT_EQ(c.connections_opened(), 1U);
    EXPECT_EQ(c.idle_connections(), 1U);
}

TEST_F(api_client, concurrent_requests_use_separate_connections) {
    using namespace asio::experimental::awaitable_operators;
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const secret token = login(io_, c, email);
    ASSERT_EQ(c.connections_opened(), 1U);
    // Both are in flight at once: the pooled connection serves one, a new one the other.
    fx().add_fault({{"method", "GET"}, {"path", "^/v1/me$"}, {"delay", 0.2}, {"count", 2}});
    auto both = run_for(io_, c.request(http::verb::get, "/v1/me", nullptr, &token) &&
                                 c.request(http::verb::get, "/v1/me", nullptr, &token));
    ASSERT_TRUE(both.has_value());
    EXPECT_TRUE(std::get<0>(*both).has_value());
    EXPECT_TRUE(std::get<1>(*both).has_value());
    EXPECT_EQ(c.connections_opened(), 2U);
    EXPECT_EQ(c.idle_connections(), 2U);
    EXPECT_TRUE(call(c, http::verb::get, "/v1/me", nullptr, &token).has_value());
    EXPECT_EQ(c.connections_opened(), 2U);
}

TEST_F(api_client, connection_close_from_the_server_is_honoured) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"path", "^/v1/project$"},
                    {"status", 200},
                    {"body", json::object{{"projects", json::array{}}}},
                    {"headers", {{"Connection", "close"}}}});
    auto first = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_EQ(c.idle_connections(), 0U);
    auto second = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(second.has_error());
    EXPECT_EQ(second.error().status, 401U);
    EXPECT_EQ(c.connections_opened(), 2U);
}

TEST_F(api_client, request_dropped_on_a_reused_connection_is_retried_once_on_a_fresh_one) {
    const auto email = fx().add_user();
    api::client c(io_.get_executor(), cfg());
    const secret token = login(io_, c, email);
    ASSERT_EQ(c.idle_connections(), 1U);
    // POST is never retried for network errors, so only the stale-connection rule can save it.
    fx().add_fault({{"method", "POST"}, {"path", "^/v1/me/logout$"}, {"drop", true}});
    auto r = call(c, http::verb::post, "/v1/me/logout", nullptr, &token);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(sv(r->body.at("message")), "Logged out");
    EXPECT_EQ(c.connections_opened(), 2U);
    const auto log = fx().requests_for("/v1/me/logout");
    ASSERT_EQ(log.size(), 2U);
    EXPECT_EQ(sv(log[0].at("status")), "dropped");
    EXPECT_EQ(log[1].at("status").as_int64(), 200);
}

TEST_F(api_client, post_dropped_on_a_fresh_connection_is_a_network_error) {
    api::client c(io_.get_executor(), cfg());
    const auto body = credentials("nobody@example.com");
    fx().add_fault({{"method", "POST"}, {"path", "^/v1/userauth$"}, {"drop", true}});
    auto r = call(c, http::verb::post, "/v1/userauth", &body);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::network);
    EXPECT_TRUE(contains(r.error().message, "reading the response from " + where()))
        << r.error().message;
    EXPECT_FALSE(contains(r.error().message, password));
    EXPECT_EQ(fx().requests_for("/v1/userauth").size(), 1U);
}

TEST_F(api_client, get_is_retried_after_a_dropped_connection) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"method", "GET"}, {"path", "^/v1/project$"}, {"drop", true}});
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().status, 401U);  // answered, on the second attempt
    const auto log = fx().requests_for("/v1/project");
    ASSERT_EQ(log.size(), 2U);
    EXPECT_EQ(sv(log[0].at("status")), "dropped");
}

TEST_F(api_client, get_gives_up_after_three_attempts_200_ms_apart) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"method", "GET"}, {"path", "^/v1/project$"}, {"drop", true}, {"count", 5}});
    const auto t0 = steady::now();
    auto r = call(c, http::verb::get, "/v1/project");
    const double took = seconds_since(t0);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::network);
    EXPECT_EQ(fx().requests_for("/v1/project").size(), 3U);
    EXPECT_GE(took, 0.39);
    EXPECT_LT(took, 3.0);
}

TEST_F(api_client, server_errors_are_not_retried_and_raw_bodies_are_cut_to_1000_bytes) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"path", "^/v1/project$"}, {"status", 502}, {"body", std::string(3000, 'x')}});
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    const auto e = r.error();
    EXPECT_EQ(e.kind, api::error_kind::http_status);
    EXPECT_EQ(e.status, 502U);
    EXPECT_EQ(e.api_message, std::string(1000, 'x'));
    EXPECT_TRUE(e.body.is_null());
    EXPECT_TRUE(contains(e.message, "502 Bad Gateway")) << e.message;
    EXPECT_EQ(fx().requests_for("/v1/project").size(), 1U);
}

TEST_F(api_client, api_message_falls_back_to_the_first_error_entry) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"path", "^/v1/project$"},
                    {"status", 409},
                    {"body", {{"errors", json::array{json::object{{"message", "first entry"}}}}}}});
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().api_message, "first entry");
    EXPECT_TRUE(r.error().body.is_object());
}

TEST_F(api_client, read_deadline_is_a_timeout_naming_the_phase) {
    auto config = cfg();
    config.read_timeout = 300ms;
    api::client c(io_.get_executor(), config);
    fx().add_fault({{"path", "^/v1/project$"}, {"delay", 3}});
    const auto t0 = steady::now();
    auto r = call(c, http::verb::get, "/v1/project");
    const double took = seconds_since(t0);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::timeout);
    EXPECT_EQ(r.error().message,
              "timed out reading the response from " + where() + " after 300 ms");
    EXPECT_GE(took, 0.29);
    EXPECT_LT(took, 1.0);
    EXPECT_EQ(c.idle_connections(), 0U);
}

TEST_F(api_client, body_over_the_limit_is_a_bad_response) {
    auto config = cfg();
    config.max_body_bytes = 1024;
    api::client c(io_.get_executor(), config);
    fx().add_fault(
        {{"path", "^/v1/project$"}, {"status", 200}, {"body", {{"big", std::string(5000, 'y')}}}});
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::bad_response);
    EXPECT_TRUE(contains(r.error().message, "1024")) << r.error().message;
    EXPECT_EQ(c.idle_connections(), 0U);
}

TEST_F(api_client, non_json_success_body_is_a_bad_response) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"path", "^/v1/project$"}, {"status", 200}, {"body", "<html>hi</html>"}});
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::bad_response);
    EXPECT_TRUE(contains(r.error().message, "not JSON")) << r.error().message;
}

TEST_F(api_client, empty_success_body_is_an_empty_object) {
    api::client c(io_.get_executor(), cfg());
    fx().add_fault({{"path", "^/v1/project$"}, {"status", 204}});
    fx().add_fault({{"path", "^/v1/me$"}, {"status", 200}, {"body", ""}});
    for (const char* path : {"/v1/project", "/v1/me"}) {
        auto r = call(c, http::verb::get, path);
        ASSERT_TRUE(r.has_value()) << r.error().message;
        EXPECT_EQ(r->body, json::value(json::object{})) << path;
    }
    EXPECT_EQ(c.connections_opened(), 1U);
}

TEST_F(api_client, server_date_follows_the_fake_clock) {
    api::client c(io_.get_executor(), cfg());
    const auto seconds_off = [](std::chrono::system_clock::time_point t,
                                std::chrono::seconds shift) {
        const auto d = t - (std::chrono::system_clock::now() + shift);
        return std::abs(std::chrono::duration<double>(d).count());
    };
    auto r = call(c, http::verb::get, "/_fake/clock");
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->server_date.has_value());
    EXPECT_LT(seconds_off(*r->server_date, 0s), 5.0);

    fx().control(http::verb::post, "/_fake/clock/advance", json::object{{"seconds", 86400}});
    r = call(c, http::verb::get, "/_fake/clock");
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->server_date.has_value());
    EXPECT_LT(seconds_off(*r->server_date, 86400s), 5.0);
}

TEST_F(api_client, untrusted_certificate_is_a_tls_error) {
    temp_dir dir;
    ASSERT_FALSE(dir.path().empty());
    const std::string other_ca = dir.path() + "/other-ca.pem";
    ASSERT_EQ(run_program({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                           dir.path() + "/other-ca.key", "-out", other_ca, "-days", "2", "-subj",
                           "/CN=Some Other CA"}),
              0);
    auto with_other_ca = cfg();
    with_other_ca.extra_ca_file = other_ca;
    const auto system_only = system_trust_only();
    for (const auto& config : {with_other_ca, system_only}) {
        api::client c(io_.get_executor(), config);
        ASSERT_FALSE(c.validate().has_value()) << c.validate()->message;
        auto r = call(c, http::verb::get, "/v1/project");
        ASSERT_TRUE(r.has_error());
        EXPECT_EQ(r.error().kind, api::error_kind::tls);
        EXPECT_TRUE(contains(r.error().message, "TLS certificate verification failed for " +
                                                    where() + ": certificate verify failed ("))
            << r.error().message;
        EXPECT_TRUE(contains(r.error().message, "local issuer certificate")) << r.error().message;
    }
    EXPECT_TRUE(fx().requests_for("/v1/project").empty());
}

// Sets (or with nullptr unsets) an environment variable for one scope.
class scoped_env {
  public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST_F(api_client, tls_context_is_built_at_the_first_request) {
    const scoped_env no_file("SSL_CERT_FILE", nullptr);
    const auto system_only = system_trust_only();
    api::client c(io_.get_executor(), system_only);
    ASSERT_FALSE(c.validate().has_value()) << c.validate()->message;
    EXPECT_FALSE(c.tls_context_built());
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::tls);
    EXPECT_TRUE(c.tls_context_built());
    // The system store is looked up in its hashed folder: the CA bundle (some 140
    // certificates on Debian) is not parsed into memory, and the fake's issuer is in none.
    EXPECT_LT(c.trusted_certificates_loaded(), 5U);
}

TEST_F(api_client, system_trust_follows_ssl_cert_dir) {
    temp_dir dir;
    ASSERT_FALSE(dir.path().empty());
    ASSERT_EQ(run_program({"cp", fake().ca_file, dir.path() + "/fake-ca.pem"}), 0);
    ASSERT_EQ(run_program({"openssl", "rehash", dir.path()}), 0);
    const scoped_env no_file("SSL_CERT_FILE", nullptr);
    const scoped_env cert_dir("SSL_CERT_DIR", dir.path().c_str());
    const auto system_only = system_trust_only();
    api::client c(io_.get_executor(), system_only);
    auto r = call(c, http::verb::get, "/v1/project");
    // Trusted (an HTTP error without a token, not a TLS one), through the hash lookup alone.
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::http_status) << r.error().message;
    EXPECT_EQ(c.trusted_certificates_loaded(), 1U);
}

TEST_F(api_client, system_trust_reads_ssl_cert_file) {
    temp_dir dir;
    ASSERT_FALSE(dir.path().empty());
    const scoped_env file("SSL_CERT_FILE", fake().ca_file.c_str());
    const scoped_env cert_dir("SSL_CERT_DIR", dir.path().c_str());
    const auto system_only = system_trust_only();
    api::client c(io_.get_executor(), system_only);
    auto r = call(c, http::verb::get, "/v1/project");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::http_status) << r.error().message;
}

TEST_F(api_client, handshake_deadline_is_a_timeout) {
    // A listener that never accepts: the kernel completes TCP, nobody speaks TLS.
    asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
    auto config = cfg();
    config.base_url = "https://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
    config.handshake_timeout = 300ms;
    api::client c(io_.get_executor(), config);
    const auto t0 = steady::now();
    auto r = call(c, http::verb::post, "/v1/userauth");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::timeout);
    EXPECT_TRUE(contains(r.error().message, "timed out in the TLS handshake with 127.0.0.1:"))
        << r.error().message;
    EXPECT_LT(seconds_since(t0), 1.0);
}

TEST_F(api_client, connection_refused_is_a_network_error) {
    unsigned short port = 0;
    {
        asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
        port = probe.local_endpoint().port();
    }
    auto config = cfg();
    config.base_url = "https://127.0.0.1:" + std::to_string(port);
    api::client c(io_.get_executor(), config);
    auto r = call(c, http::verb::post, "/v1/userauth");
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().kind, api::error_kind::network);
    EXPECT_TRUE(contains(r.error().message, "connecting to 127.0.0.1:" + std::to_string(port)))
        << r.error().message;
    EXPECT_EQ(c.connections_opened(), 0U);
}

TEST_F(api_client, client_may_be_destroyed_while_a_request_runs) {
    fx().add_fault({{"path", "^/v1/project$"}, {"delay", 0.1}});
    std::optional<api::result> out;
    {
        api::client c(io_.get_executor(), cfg());
        asio::co_spawn(io_, c.request(http::verb::get, "/v1/project", nullptr, nullptr),
                       [&](std::exception_ptr, api::result r) { out.emplace(std::move(r)); });
    }
    const auto deadline = steady::now() + 5s;
    while (!out && steady::now() < deadline) {
        io_.run_one_for(deadline - steady::now());
    }
    ASSERT_TRUE(out.has_value());
    ASSERT_TRUE(out->has_error());
    EXPECT_EQ(out->error().status, 401U);
}

// ---------------------------------------------------------------------------------------------
// On the wire: a bare loopback listener sees exactly what is sent

TEST(api_client_wire, sends_host_with_port_agent_token_and_json) {
    asio::io_context io;
    asio::ip::tcp::acceptor listener(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = listener.local_endpoint().port();
    std::string seen;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto sock = co_await listener.async_accept(asio::use_awaitable);
            const std::size_t head = co_await asio::async_read_until(
                sock, asio::dynamic_buffer(seen), "\r\n\r\n", asio::use_awaitable);
            if (seen.size() < head + 7) {
                co_await asio::async_read(sock, asio::dynamic_buffer(seen),
                                          asio::transfer_exactly(head + 7 - seen.size()),
                                          asio::use_awaitable);
            }
            const std::string reply =
                "HTTP/1.1 201 Created\r\nContent-Length: 11\r\nDate: Sun, 06 Nov 1994 "
                "08:49:37 GMT\r\n\r\n{\"ok\":true}";
            co_await asio::async_write(sock, asio::buffer(reply), asio::use_awaitable);
        },
        asio::detached);

    api::config cfg;
    cfg.base_url = "http://127.0.0.1:" + std::to_string(port) + "/prefix/";
    api::client c(io.get_executor(), cfg);
    const secret token("tok+en/=");
    const json::value body = json::object{{"a", 1}};
    auto r = call(io, c, http::verb::put, "/v1/x%2By", &body, &token);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->status, 201U);
    EXPECT_EQ(r->body, json::parse(R"({"ok":true})"));
    ASSERT_TRUE(r->server_date.has_value());
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(r->server_date->time_since_epoch())
                  .count(),
              784111777);

    std::string lower;
    for (const char ch : seen) {
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    }
    EXPECT_TRUE(seen.starts_with("PUT /prefix/v1/x%2By HTTP/1.1\r\n")) << seen;
    EXPECT_TRUE(contains(lower, "\r\nhost: 127.0.0.1:" + std::to_string(port) + "\r\n")) << seen;
    EXPECT_TRUE(contains(seen, "\r\nAuthorization: aivenv1 tok+en/=\r\n")) << seen;
    EXPECT_TRUE(
        contains(lower, std::string("\r\nuser-agent: avn-agent/") + avn::version_string + "\r\n"))
        << seen;
    EXPECT_TRUE(contains(lower, "\r\ncontent-type: application/json\r\n")) << seen;
    EXPECT_TRUE(contains(lower, "\r\ncontent-length: 7\r\n")) << seen;
    EXPECT_TRUE(seen.ends_with("\r\n\r\n{\"a\":1}")) << seen;
}

// ---------------------------------------------------------------------------------------------
// Fakes of their own

TEST(api_client_tls_names, certificate_for_another_name_is_a_tls_error_naming_the_host) {
    fake_aiven f({"--san", "wrong.example"});
    ASSERT_TRUE(f.ok()) << f.failure();
    asio::io_context io;
    const std::string port = std::to_string(f.port);
    const std::pair<std::string, std::string> cases[] = {
        {"https://127.0.0.1:" + port, "IP address mismatch"},
        {"https://localhost:" + port, "hostname mismatch"},
    };
    for (const auto& [url, reason] : cases) {
        auto config = config_for(f);
        config.base_url = url;
        api::client c(io.get_executor(), config);
        auto r = call(io, c, http::verb::get, "/v1/project");
        ASSERT_TRUE(r.has_error()) << url;
        EXPECT_EQ(r.error().kind, api::error_kind::tls) << url;
        EXPECT_TRUE(contains(r.error().message, url.substr(8))) << r.error().message;
        EXPECT_TRUE(contains(r.error().message, reason)) << r.error().message;
    }
}

TEST(api_client_plain_http, works_against_a_loopback_fake) {
    fake_aiven f({"--plain-http", "--user", std::string("alice@example.com:") + password});
    ASSERT_TRUE(f.ok()) << f.failure();
    EXPECT_TRUE(f.ca_file.empty());
    asio::io_context io;
    api::client c(io.get_executor(), config_for(f));
    ASSERT_FALSE(c.validate().has_value());
    const secret token = login(io, c, "alice@example.com");
    ASSERT_FALSE(token.empty());
    auto r = call(io, c, http::verb::get, "/v1/me", nullptr, &token);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(sv(r->body.at("user").at("user")), "alice@example.com");
    EXPECT_EQ(c.connections_opened(), 1U);
}

TEST(api_client_plain_http, survives_a_server_restart_between_requests) {
    asio::io_context io;
    unsigned short port = 0;
    std::optional<api::client> c;
    {
        fake_aiven first({"--plain-http"});
        ASSERT_TRUE(first.ok()) << first.failure();
        port = first.port;
        c.emplace(io.get_executor(), config_for(first));
        auto r = call(io, *c, http::verb::get, "/_fake/clock");
        ASSERT_TRUE(r.has_value()) << r.error().message;
        ASSERT_EQ(c->idle_connections(), 1U);
    }
    fake_aiven second({"--plain-http", "--port", std::to_string(port)});
    ASSERT_TRUE(second.ok()) << second.failure();
    // The pooled connection is dead: the client notices and opens a new one.
    auto r = call(io, *c, http::verb::post, "/_fake/clock/advance", nullptr);
    ASSERT_TRUE(r.has_error());  // 400: "seconds" missing, which proves the request arrived
    EXPECT_EQ(r.error().status, 400U);
    EXPECT_EQ(c->connections_opened(), 2U);
}

}  // namespace
