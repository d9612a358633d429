// The secret_store contract, checked on every backend (memory, file, a real
// gnome-keyring on a private bus), and the behaviour specific to each
// backend and to the backend selection.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "platform/file_store.hpp"
#include "platform/secret_service_store.hpp"
#include "platform/store.hpp"
#include "platform/store_select.hpp"
#include "tests/unit/keyring_fixture.hpp"

namespace avn::platform {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Helpers.

constexpr const char* api = "https://api.aiven.io";

store_key session_key(std::string api_url, std::string account) {
    return store_key{std::move(api_url), "session", "", std::move(account)};
}

store_key token_key(std::string api_url, std::string name, std::string account) {
    return store_key{std::move(api_url), "token", std::move(name), std::move(account)};
}

std::string describe(const store_key& k) {
    return k.api_url + "|" + k.kind + "|" + k.name + "|" + k.account;
}

// "" when `store` holds exactly `expected` under `key`, else what is wrong.
std::string check_payload(secret_store& store, const store_key& key, std::string_view expected) {
    auto got = store.get(key);
    if (!got) {
        return "get(" + describe(key) + ") failed: " + got.error().message;
    }
    if (!*got) {
        return "get(" + describe(key) + ") found nothing";
    }
    if (!(*got)->equals(expected)) {
        return "get(" + describe(key) + ") returned other bytes (" +
               std::to_string((*got)->size()) + " instead of " + std::to_string(expected.size()) +
               ")";
    }
    return "";
}

std::string check_missing(secret_store& store, const store_key& key) {
    auto got = store.get(key);
    if (!got) {
        return "get(" + describe(key) + ") failed: " + got.error().message;
    }
    return *got ? "get(" + describe(key) + ") found an item" : "";
}

std::set<std::string> listed(secret_store& store) {
    std::set<std::string> out;
    auto keys = store.list();
    EXPECT_TRUE(keys) << keys.error().message;
    if (keys) {
        for (const auto& k : *keys) {
            out.insert(describe(k));
        }
    }
    return out;
}

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

file_store_options file_options(std::string dir) {
    file_store_options o;
    o.dir = std::move(dir);
    return o;
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

// ---------------------------------------------------------------------------
// The backends of the typed suite.

struct memory_backend {
    static constexpr const char* name = "memory";
    static constexpr bool shared_between_instances = false;
    bool set_up(std::string&) { return true; }
    std::unique_ptr<secret_store> make() { return make_memory_store(); }
};

struct file_backend {
    static constexpr const char* name = "file";
    static constexpr bool shared_between_instances = true;
    test::temp_dir dir;
    bool set_up(std::string& error) {
        error = "no temporary folder";
        return !dir.path().empty();
    }
    std::unique_ptr<secret_store> make() {
        return make_file_store(file_options(dir.path() + "/state/avn-agent"));
    }
};

struct secret_service_backend {
    static constexpr const char* name = "secret_service";
    static constexpr bool shared_between_instances = true;
    bool set_up(std::string& error) { return test::shared_keyring(&error) != nullptr; }
    std::unique_ptr<secret_store> make() { return make_secret_service_store(3s); }
};

template <class Backend>
class store_contract : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string error;
        ASSERT_TRUE(backend_.set_up(error)) << error;
        store_ = backend_.make();
        clear();
    }

    void TearDown() override {
        if (store_) {
            clear();
        }
    }

    void clear() {
        auto keys = store_->list();
        ASSERT_TRUE(keys) << keys.error().message;
        for (const auto& k : *keys) {
            auto ok = store_->erase(k);
            ASSERT_TRUE(ok) << ok.error().message;
        }
    }

    Backend backend_;
    std::unique_ptr<secret_store> store_;
};

struct backend_names {
    template <class T>
    static std::string GetName(int) {
        return T::name;
    }
};

using backends = ::testing::Types<memory_backend, file_backend, secret_service_backend>;
TYPED_TEST_SUITE(store_contract, backends, backend_names);

// ---------------------------------------------------------------------------
// The contract.

TYPED_TEST(store_contract, put_get_list_erase) {
    auto& s = *this->store_;
    const auto key = session_key(api, "user@example.com");
    ASSERT_TRUE(s.put(key, secret("session-token-1")));
    EXPECT_EQ(check_payload(s, key, "session-token-1"), "");
    EXPECT_EQ(listed(s), std::set<std::string>{describe(key)});
    ASSERT_TRUE(s.erase(key));
    EXPECT_EQ(check_missing(s, key), "");
    EXPECT_TRUE(listed(s).empty());
}

TYPED_TEST(store_contract, put_overwrites) {
    auto& s = *this->store_;
    const auto key = token_key(api, "ci", "user@example.com");
    ASSERT_TRUE(s.put(key, secret("first")));
    ASSERT_TRUE(s.put(key, secret("second, longer than the first")));
    EXPECT_EQ(check_payload(s, key, "second, longer than the first"), "");
    ASSERT_TRUE(s.put(key, secret("3")));
    EXPECT_EQ(check_payload(s, key, "3"), "");
    EXPECT_EQ(listed(s).size(), 1u);
}

TYPED_TEST(store_contract, missing_item_is_nullopt_not_an_error) {
    auto& s = *this->store_;
    EXPECT_EQ(check_missing(s, session_key(api, "nobody@example.com")), "");
    ASSERT_TRUE(s.put(token_key(api, "a", "user@example.com"), secret("x")));
    EXPECT_EQ(check_missing(s, token_key(api, "b", "user@example.com")), "");
    EXPECT_EQ(check_missing(s, session_key(api, "user@example.com")), "");
}

TYPED_TEST(store_contract, erase_of_a_missing_item_is_ok_and_touches_nothing_else) {
    auto& s = *this->store_;
    auto ok = s.erase(session_key(api, "nobody@example.com"));
    EXPECT_TRUE(ok) << ok.error().message;
    const auto kept = token_key(api, "kept", "user@example.com");
    ASSERT_TRUE(s.put(kept, secret("kept-payload")));
    ok = s.erase(token_key(api, "other", "user@example.com"));
    EXPECT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(check_payload(s, kept, "kept-payload"), "");
}

TYPED_TEST(store_contract, fifty_items) {
    auto& s = *this->store_;
    std::vector<store_key> keys;
    for (int i = 0; i < 5; ++i) {
        keys.push_back(
            session_key("https://api" + std::to_string(i) + ".example", "u@example.com"));
    }
    for (int i = 0; i < 45; ++i) {
        keys.push_back(token_key(api, "token-" + std::to_string(i), "u@example.com"));
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto ok = s.put(keys[i], secret("payload-" + std::to_string(i)));
        ASSERT_TRUE(ok) << ok.error().message;
    }
    std::set<std::string> expected;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(check_payload(s, keys[i], "payload-" + std::to_string(i)), "");
        expected.insert(describe(keys[i]));
    }
    EXPECT_EQ(listed(s), expected);
    for (std::size_t i = 0; i < keys.size(); i += 2) {
        ASSERT_TRUE(s.erase(keys[i]));
        expected.erase(describe(keys[i]));
    }
    EXPECT_EQ(listed(s), expected);
    EXPECT_EQ(check_payload(s, keys[1], "payload-1"), "");
    EXPECT_EQ(check_missing(s, keys[0]), "");
}

TYPED_TEST(store_contract, unicode_identifiers_round_trip) {
    auto& s = *this->store_;
    const auto session = session_key("https://api.äiven.example/ü", "jürgen.müller@例え.jp");
    const auto token = token_key(api, "tøken-名前-🚀 with spaces", "zoë+ops@exämple.org");
    ASSERT_TRUE(s.put(session, secret("s")));
    ASSERT_TRUE(s.put(token, secret("t")));
    EXPECT_EQ(check_payload(s, session, "s"), "");
    EXPECT_EQ(check_payload(s, token, "t"), "");
    EXPECT_EQ(listed(s), (std::set<std::string>{describe(session), describe(token)}));
}

TYPED_TEST(store_contract, identity_is_api_url_kind_and_name) {
    auto& s = *this->store_;
    const auto a = token_key(api, "ci", "first@example.com");
    ASSERT_TRUE(s.put(a, secret("one")));

    // Same api_url, kind and name: replaces, whatever the account.
    const auto same = token_key(api, "ci", "second@example.com");
    ASSERT_TRUE(s.put(same, secret("two")));
    EXPECT_EQ(check_payload(s, a, "two"), "");
    EXPECT_EQ(listed(s), std::set<std::string>{describe(same)});

    // Any other api_url, kind or name: another item.
    const auto other_url = token_key("https://api.other.example", "ci", "second@example.com");
    const auto other_kind = store_key{api, "session", "ci", "second@example.com"};
    const auto other_name = token_key(api, "ci2", "second@example.com");
    ASSERT_TRUE(s.put(other_url, secret("url")));
    ASSERT_TRUE(s.put(other_kind, secret("kind")));
    ASSERT_TRUE(s.put(other_name, secret("name")));
    EXPECT_EQ(check_payload(s, same, "two"), "");
    EXPECT_EQ(check_payload(s, other_url, "url"), "");
    EXPECT_EQ(check_payload(s, other_kind, "kind"), "");
    EXPECT_EQ(check_payload(s, other_name, "name"), "");
    EXPECT_EQ(listed(s).size(), 4u);

    ASSERT_TRUE(s.erase(other_url));
    EXPECT_EQ(check_payload(s, same, "two"), "");
    EXPECT_EQ(check_missing(s, other_url), "");
}

TYPED_TEST(store_contract, payload_bytes_are_preserved_exactly) {
    auto& s = *this->store_;
    std::string big;
    for (int i = 0; i < 4096; ++i) {
        big += static_cast<char>('!' + i % 90);
    }
    const std::vector<std::string> payloads = {
        "line one\nline two\n",
        "\r\n\ttabbed\r\n",
        "{\"token\":\"abc\",\"expiry\":\"2030-01-01T00:00:00Z\"}\n",
        "quotes \" and \\ backslashes \\\" and ' ",
        "non-ASCII: üñíçødé – 名前 – 🚀",
        std::string("with a NUL \0 inside", 19),
        "",
        " leading and trailing spaces ",
        big,
    };
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        const auto key = token_key(api, "p" + std::to_string(i), "u@example.com");
        auto ok = s.put(key, secret(payloads[i]));
        ASSERT_TRUE(ok) << i << ": " << ok.error().message;
    }
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        const auto key = token_key(api, "p" + std::to_string(i), "u@example.com");
        EXPECT_EQ(check_payload(s, key, payloads[i]), "") << "payload " << i;
    }
}

TYPED_TEST(store_contract, items_outlive_the_instance_that_stored_them) {
    if (!TypeParam::shared_between_instances) {
        GTEST_SKIP() << "nothing persists in this backend";
    }
    const auto key = session_key(api, "user@example.com");
    {
        auto first = this->backend_.make();
        ASSERT_TRUE(first->put(key, secret("persisted")));
    }
    auto second = this->backend_.make();
    EXPECT_EQ(check_payload(*second, key, "persisted"), "");
}

TYPED_TEST(store_contract, calls_from_different_threads_one_after_another) {
    auto& s = *this->store_;
    const auto key = token_key(api, "threads", "user@example.com");
    std::thread([&] { EXPECT_TRUE(s.put(key, secret("from thread 1"))); }).join();
    std::thread([&] { EXPECT_EQ(check_payload(s, key, "from thread 1"), ""); }).join();
    std::thread([&] { EXPECT_TRUE(s.put(key, secret("from thread 3"))); }).join();
    EXPECT_EQ(check_payload(s, key, "from thread 3"), "");
    std::thread([&] { EXPECT_TRUE(s.erase(key)); }).join();
    EXPECT_EQ(check_missing(s, key), "");
}

TYPED_TEST(store_contract, instances_in_parallel_threads_keep_each_others_items) {
    constexpr int threads = 4;
    constexpr int rounds = 5;
    std::vector<std::unique_ptr<secret_store>> stores;
    for (int t = 0; t < threads; ++t) {
        stores.push_back(this->backend_.make());
    }
    std::mutex mutex;
    std::vector<std::string> failures;
    auto fail = [&](std::string what) {
        std::lock_guard lock(mutex);
        failures.push_back(std::move(what));
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            secret_store& s = *stores[static_cast<std::size_t>(t)];
            const std::string me = std::to_string(t);
            const auto session = session_key("https://thread" + me + ".example", "t@example.com");
            for (int r = 0; r < rounds; ++r) {
                const std::string round = std::to_string(r);
                const auto token = token_key(api, "t" + me + "-r" + round, "t@example.com");
                for (auto* k : {&session, &token}) {
                    if (auto ok = s.put(*k, secret("p" + me + "-" + round)); !ok) {
                        fail("put: " + ok.error().message);
                    }
                }
                if (r > 0) {
                    const auto previous =
                        token_key(api, "t" + me + "-r" + std::to_string(r - 1), "t@example.com");
                    if (auto ok = s.erase(previous); !ok) {
                        fail("erase: " + ok.error().message);
                    }
                }
                for (auto* k : {&session, &token}) {
                    if (auto why = check_payload(s, *k, "p" + me + "-" + round); !why.empty()) {
                        fail(why);
                    }
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    EXPECT_TRUE(failures.empty()) << failures.front();
    if (TypeParam::shared_between_instances) {
        std::set<std::string> expected;
        for (int t = 0; t < threads; ++t) {
            const std::string me = std::to_string(t);
            expected.insert(
                describe(session_key("https://thread" + me + ".example", "t@example.com")));
            expected.insert(describe(
                token_key(api, "t" + me + "-r" + std::to_string(rounds - 1), "t@example.com")));
        }
        EXPECT_EQ(listed(*this->store_), expected);
    }
}

// ---------------------------------------------------------------------------
// secret-service specifics.

test::private_session* shared_or_fail() {
    std::string error;
    auto* s = test::shared_keyring(&error);
    EXPECT_NE(s, nullptr) << error;
    return s;
}

std::unique_ptr<test::private_session> own_session(bool keyring) {
    std::string error;
    auto s = test::private_session::start({keyring}, error);
    EXPECT_NE(s, nullptr) << error;
    return s;
}

TEST(secret_service_store, label_names_the_item) {
    EXPECT_EQ(secret_service_label(session_key(api, "a@b.c")),
              "avn-agent: Aiven session for a@b.c (https://api.aiven.io)");
    EXPECT_EQ(secret_service_label(token_key(api, "ci", "a@b.c")),
              "avn-agent: Aiven token ci for a@b.c");
}

TEST(secret_service_store, items_show_in_secret_tool_with_documented_attributes) {
    auto* session = shared_or_fail();
    ASSERT_NE(session, nullptr);
    secret_service_store s(1s);
    const auto login = session_key(api, "user@example.com");
    const auto token = token_key(api, "ci", "user@example.com");
    const std::string login_payload = "{\"token\":\"SESSION-SECRET-1234\"}";
    ASSERT_TRUE(s.put(login, secret(login_payload)));
    ASSERT_TRUE(s.put(token, secret("TOKEN-SECRET-5678")));

    // Everything of ours, by the one constant attribute.
    auto all = session->run({"secret-tool", "search", "--all", "application", "avn-agent"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_NE(all.out.find("label = " + secret_service_label(login)), std::string::npos) << all.out;
    EXPECT_NE(all.out.find("label = " + secret_service_label(token)), std::string::npos) << all.out;

    // One item: its attributes (secret-tool prints them on stderr), its
    // schema and its secret.
    auto one = session->run({"secret-tool", "search", "--all", "application", "avn-agent", "kind",
                             "session", "api_url", api});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_NE(one.out.find("secret = " + login_payload), std::string::npos) << one.out;
    EXPECT_NE(one.out.find("schema = io.aiven.AvnAgent"), std::string::npos) << one.out;
    std::set<std::string> attributes;
    std::istringstream lines(one.err);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("attribute.")) {
            attributes.insert(line);
            EXPECT_EQ(line.find("SECRET"), std::string::npos) << "a secret in " << line;
        }
    }
    EXPECT_EQ(attributes, (std::set<std::string>{
                              "attribute.application = avn-agent",
                              "attribute.api_url = https://api.aiven.io",
                              "attribute.kind = session",
                              "attribute.name = ",
                              "attribute.account = user@example.com",
                          }));

    // In the `login` collection (behind the `default` alias).
    auto in_login = session->run({"gdbus", "call", "--session", "--dest", "org.freedesktop.secrets",
                                  "--object-path", "/org/freedesktop/secrets/collection/login",
                                  "--method", "org.freedesktop.Secret.Collection.SearchItems",
                                  "{'application': 'avn-agent'}"});
    ASSERT_EQ(in_login.exit_code, 0) << in_login.err;
    std::size_t items = 0;
    for (auto at = in_login.out.find("/collection/login/"); at != std::string::npos;
         at = in_login.out.find("/collection/login/", at + 1)) {
        ++items;
    }
    EXPECT_EQ(items, 2u) << in_login.out;

    ASSERT_TRUE(s.erase(login));
    ASSERT_TRUE(s.erase(token));
}

TEST(secret_service_store, locked_collection_is_reported_as_locked_not_missing) {
    auto session = own_session(true);
    ASSERT_NE(session, nullptr);
    test::scoped_env bus("DBUS_SESSION_BUS_ADDRESS", session->address());
    secret_service_store s(1s);
    const auto stored = session_key(api, "user@example.com");
    const auto absent = token_key(api, "never-stored", "user@example.com");
    ASSERT_TRUE(s.put(stored, secret("payload")));
    ASSERT_TRUE(session->lock_login());

    const auto t0 = steady::now();
    auto got = s.get(stored);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::locked);
    EXPECT_NE(got.error().message.find("is locked; unlock it"), std::string::npos)
        << got.error().message;
    got = s.get(absent);
    ASSERT_FALSE(got) << "a locked keyring must not read as 'not found'";
    EXPECT_EQ(got.error().code, store_errc::locked);
    auto keys = s.list();
    ASSERT_FALSE(keys);
    EXPECT_EQ(keys.error().code, store_errc::locked);
    auto put = s.put(absent, secret("x"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::locked);
    EXPECT_NE(put.error().message.find("'Login' keyring is locked"), std::string::npos)
        << put.error().message;
    auto erased = s.erase(stored);
    ASSERT_FALSE(erased);
    EXPECT_EQ(erased.error().code, store_errc::locked);

    // A new connection sees the same; the service itself still answers.
    secret_service_store fresh(1s);
    got = fresh.get(stored);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::locked);
    auto probe = probe_secret_service(1s);
    EXPECT_TRUE(probe) << probe.error().message;
    EXPECT_LT(seconds_since(t0), 2.0);
}

TEST(secret_service_store, bus_without_secret_service_is_unavailable_at_once) {
    auto session = own_session(false);
    ASSERT_NE(session, nullptr);
    test::scoped_env bus("DBUS_SESSION_BUS_ADDRESS", session->address());
    secret_service_store s(1s);
    const auto t0 = steady::now();
    auto got = s.get(session_key(api, "user@example.com"));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::unavailable);
    EXPECT_EQ(got.error().message,
              "no Secret Service on the session bus (nothing provides org.freedesktop.secrets)");
    auto put = s.put(session_key(api, "user@example.com"), secret("x"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::unavailable);
    auto keys = s.list();
    ASSERT_FALSE(keys);
    EXPECT_EQ(keys.error().code, store_errc::unavailable);
    auto probe = probe_secret_service(1s);
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().code, store_errc::unavailable);
    EXPECT_EQ(probe.error().message, got.error().message);
    EXPECT_LT(seconds_since(t0), 0.5);
}

TEST(secret_service_store, no_session_bus_is_unavailable_at_once) {
    test::temp_dir runtime;  // no `bus` socket in it
    test::scoped_env no_bus("DBUS_SESSION_BUS_ADDRESS", std::nullopt);
    test::scoped_env runtime_dir("XDG_RUNTIME_DIR", runtime.path());
    secret_service_store s(1s);
    const auto t0 = steady::now();
    auto got = s.get(session_key(api, "user@example.com"));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::unavailable);
    EXPECT_EQ(got.error().message, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)");
    auto probe = probe_secret_service(1s);
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().message, got.error().message);

    // An address where nothing listens.
    test::scoped_env dead("DBUS_SESSION_BUS_ADDRESS", "unix:path=" + runtime.path() + "/nothing");
    probe = probe_secret_service(1s);
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().code, store_errc::unavailable);
    EXPECT_NE(probe.error().message.find("cannot connect to the D-Bus session bus"),
              std::string::npos)
        << probe.error().message;
    EXPECT_LT(seconds_since(t0), 0.5);
}

TEST(secret_service_store, hung_daemon_costs_the_deadline_then_works_after_sigcont) {
    auto session = own_session(true);
    ASSERT_NE(session, nullptr);
    test::scoped_env bus("DBUS_SESSION_BUS_ADDRESS", session->address());
    const auto pid = session->secret_service_pid();
    ASSERT_TRUE(pid && *pid > 1);

    secret_service_store s(1s);
    const auto key = session_key(api, "user@example.com");
    ASSERT_TRUE(s.put(key, secret("before the hang")));

    ASSERT_EQ(::kill(*pid, SIGSTOP), 0);
    struct resume {
        pid_t pid;
        ~resume() { ::kill(pid, SIGCONT); }
    } resume_on_exit{*pid};

    // On the open connection.
    auto t0 = steady::now();
    auto got = s.get(key);
    double took = seconds_since(t0);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::timeout);
    EXPECT_NE(got.error().message.find("did not answer within 1 s"), std::string::npos)
        << got.error().message;
    EXPECT_GE(took, 0.9);
    EXPECT_LT(took, 5.0);

    // On a first connection.
    secret_service_store fresh(1s);
    t0 = steady::now();
    auto put = fresh.put(key, secret("during the hang"));
    took = seconds_since(t0);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::timeout);
    EXPECT_LT(took, 5.0);

    // The probe, and `auto` falling back to the file, loudly.
    t0 = steady::now();
    auto probe = probe_secret_service(1s);
    took = seconds_since(t0);
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().code, store_errc::timeout);
    EXPECT_LT(took, 5.0);
    test::temp_dir state;
    store_options options;
    options.file_dir = state.path() + "/avn-agent";
    options.probe_timeout = 1s;
    auto choice = open_store("auto", options);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_EQ(choice->backend, "file");
    EXPECT_TRUE(choice->loud);
    EXPECT_NE(choice->why.find("the Secret Service did not answer within 1 s"), std::string::npos)
        << choice->why;

    ASSERT_EQ(::kill(*pid, SIGCONT), 0);
    EXPECT_EQ(check_payload(s, key, "before the hang"), "");
    EXPECT_EQ(check_payload(fresh, key, "before the hang"), "");
    ASSERT_TRUE(fresh.put(key, secret("after the hang")));
    EXPECT_EQ(check_payload(s, key, "after the hang"), "");
}

TEST(secret_service_store, survives_a_keyring_restart_without_an_error) {
    auto session = own_session(true);
    ASSERT_NE(session, nullptr);
    test::scoped_env bus("DBUS_SESSION_BUS_ADDRESS", session->address());
    secret_service_store s(1s);
    const auto key = session_key(api, "user@example.com");
    ASSERT_TRUE(s.put(key, secret("kept on disk")));
    const auto old_pid = session->secret_service_pid();
    std::string error;
    ASSERT_TRUE(session->restart_keyring(error)) << error;
    ASSERT_NE(session->secret_service_pid(), old_pid);
    // The first call on the old connection meets a daemon that does not
    // know its session; it reconnects within the call.
    EXPECT_EQ(check_payload(s, key, "kept on disk"), "");
    ASSERT_TRUE(s.put(key, secret("after the restart")));
    EXPECT_EQ(check_payload(s, key, "after the restart"), "");
}

TEST(secret_service_store, reconnects_when_the_session_bus_is_replaced) {
    auto first = own_session(true);
    ASSERT_NE(first, nullptr);
    std::optional<test::scoped_env> bus;
    bus.emplace("DBUS_SESSION_BUS_ADDRESS", first->address());
    secret_service_store s(1s);
    const auto key = session_key(api, "user@example.com");
    ASSERT_TRUE(s.put(key, secret("on the first bus")));

    first->stop();
    auto got = s.get(key);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::unavailable) << got.error().message;

    auto second = own_session(true);
    ASSERT_NE(second, nullptr);
    bus.reset();
    bus.emplace("DBUS_SESSION_BUS_ADDRESS", second->address());
    got = s.get(key);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_FALSE(*got) << "the second keyring is empty";
    ASSERT_TRUE(s.put(key, secret("on the second bus")));
    EXPECT_EQ(check_payload(s, key, "on the second bus"), "");
}

TEST(secret_service_store, keys_must_be_utf8) {
    ASSERT_NE(shared_or_fail(), nullptr);
    secret_service_store s(1s);
    for (const auto& key : {session_key(api, "bad\xff@example.com"),
                            token_key(api, std::string("nul\0inside", 10), "u@example.com")}) {
        auto put = s.put(key, secret("x"));
        ASSERT_FALSE(put);
        EXPECT_EQ(put.error().code, store_errc::io);
        auto got = s.get(key);
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().code, store_errc::io);
    }
}

// ---------------------------------------------------------------------------
// file specifics.

class file_store_test : public ::testing::Test {
  protected:
    std::string dir() const { return tmp_.path() + "/state/avn-agent"; }
    std::string file() const { return dir() + "/secrets.json"; }
    test::temp_dir tmp_;
};

TEST_F(file_store_test, failure_between_write_and_rename_keeps_the_previous_content) {
    bool crash = false;
    std::string temp_seen;
    auto options = file_options(dir());
    options.before_rename = [&](const std::string& temp) {
        temp_seen = temp;
        return !crash;
    };
    file_store s(options);
    const auto key = session_key(api, "user@example.com");
    ASSERT_TRUE(s.put(key, secret("v1")));
    ASSERT_TRUE(s.put(token_key(api, "kept", "user@example.com"), secret("kept")));

    crash = true;
    auto put = s.put(key, secret("v2"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::io);
    EXPECT_TRUE(fs::exists(temp_seen)) << "the crash left its temporary file";
    EXPECT_EQ(mode_of(temp_seen), 0600u);

    file_store reader(file_options(dir()));
    EXPECT_EQ(check_payload(reader, key, "v1"), "");
    EXPECT_EQ(check_payload(reader, token_key(api, "kept", "user@example.com"), "kept"), "");

    crash = false;
    ASSERT_TRUE(s.put(key, secret("v3")));
    EXPECT_EQ(check_payload(reader, key, "v3"), "");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir())) {
        names.push_back(e.path().filename().string());
    }
    EXPECT_EQ(names, std::vector<std::string>{"secrets.json"}) << "the leftover was removed";
}

TEST_F(file_store_test, folder_is_0700_and_file_0600_after_writes) {
    const mode_t old = ::umask(0);  // the most permissive umask
    file_store s(file_options(dir()));
    auto put = s.put(session_key(api, "user@example.com"), secret("x"));
    ASSERT_TRUE(put.has_value()) << put.error().message;
    ASSERT_TRUE(s.put(token_key(api, "t", "user@example.com"), secret("y")));
    ::umask(old);
    EXPECT_EQ(mode_of(dir()), 0700u);
    EXPECT_EQ(mode_of(file()), 0600u);
    EXPECT_EQ(s.path(), file());
}

TEST_F(file_store_test, folder_open_to_others_is_refused_with_the_fix) {
    file_store s(file_options(dir()));
    ASSERT_TRUE(s.put(session_key(api, "user@example.com"), secret("x")));
    ASSERT_EQ(::chmod(dir().c_str(), 0755), 0);
    auto got = s.get(session_key(api, "user@example.com"));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::denied);
    EXPECT_NE(got.error().message.find("chmod 700 " + dir()), std::string::npos)
        << got.error().message;
    auto put = s.put(session_key(api, "user@example.com"), secret("y"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::denied);
    auto keys = s.list();
    ASSERT_FALSE(keys);
    EXPECT_EQ(keys.error().code, store_errc::denied);
    EXPECT_FALSE(s.check());
}

TEST_F(file_store_test, file_open_to_others_is_refused_with_the_fix) {
    file_store s(file_options(dir()));
    ASSERT_TRUE(s.put(session_key(api, "user@example.com"), secret("x")));
    ASSERT_EQ(::chmod(file().c_str(), 0640), 0);
    auto got = s.get(session_key(api, "user@example.com"));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, store_errc::denied);
    EXPECT_NE(got.error().message.find("chmod 600 " + file()), std::string::npos)
        << got.error().message;
    auto put = s.put(session_key(api, "user@example.com"), secret("y"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::denied);
    ASSERT_EQ(::chmod(file().c_str(), 0600), 0);
    EXPECT_EQ(check_payload(s, session_key(api, "user@example.com"), "x"), "");
}

TEST_F(file_store_test, symlinked_folder_is_refused) {
    const std::string real = tmp_.path() + "/elsewhere";
    ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
    fs::create_directories(tmp_.path() + "/state");
    fs::create_directory_symlink(real, dir());
    file_store s(file_options(dir()));
    auto put = s.put(session_key(api, "user@example.com"), secret("x"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::denied);
    EXPECT_NE(put.error().message.find("not a plain directory"), std::string::npos);
}

TEST_F(file_store_test, unreadable_content_is_corrupt_and_left_untouched) {
    file_store s(file_options(dir()));
    ASSERT_TRUE(s.check());
    const std::vector<std::string> bad = {
        "",
        "{not json",
        "[]",
        R"({"format":"avn-agent-secrets","version":2,"items":[]})",
        R"({"format":"avn-agent-secrets","version":1,"items":[],"extra":1})",
        R"({"format":"avn-agent-secrets","version":1,"items":[{"api_url":"a","kind":"session",)"
        R"("name":"","account":"b","secret_base64":"not base64!"}]})",
    };
    for (const auto& content : bad) {
        {
            std::ofstream out(file(), std::ios::trunc);
            out << content;
        }
        ::chmod(file().c_str(), 0600);
        auto got = s.get(session_key(api, "user@example.com"));
        ASSERT_FALSE(got) << content;
        EXPECT_EQ(got.error().code, store_errc::corrupt) << content;
        EXPECT_NE(got.error().message.find("mv "), std::string::npos) << got.error().message;
        auto keys = s.list();
        ASSERT_FALSE(keys);
        EXPECT_EQ(keys.error().code, store_errc::corrupt);
        auto put = s.put(session_key(api, "user@example.com"), secret("x"));
        ASSERT_FALSE(put);
        EXPECT_EQ(put.error().code, store_errc::corrupt);
        auto erased = s.erase(session_key(api, "user@example.com"));
        ASSERT_FALSE(erased);
        EXPECT_EQ(erased.error().code, store_errc::corrupt);
        std::ifstream in(file());
        EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), content)
            << "the file was changed";
    }
}

TEST_F(file_store_test, format_is_the_documented_json) {
    file_store s(file_options(dir()));
    ASSERT_TRUE(s.put(store_key{"https://a", "session", "", "u@e"}, secret("hi\n")));
    std::ifstream in(file());
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}),
              R"({"format":"avn-agent-secrets","version":1,"items":[{"api_url":"https://a",)"
              R"("kind":"session","name":"","account":"u@e","secret_base64":"aGkK"}]})");
}

TEST_F(file_store_test, reads_do_not_create_the_folder) {
    file_store s(file_options(dir()));
    EXPECT_EQ(check_missing(s, session_key(api, "user@example.com")), "");
    EXPECT_TRUE(listed(s).empty());
    EXPECT_TRUE(s.erase(session_key(api, "user@example.com")));
    EXPECT_FALSE(fs::exists(dir()));
}

TEST_F(file_store_test, keys_must_be_utf8) {
    file_store s(file_options(dir()));
    auto put = s.put(session_key(api, "bad\xc3@example.com"), secret("x"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, store_errc::io);
    EXPECT_FALSE(fs::exists(file()));
}

TEST(file_store, default_folder_follows_xdg_state_home_then_home) {
    {
        test::scoped_env state("XDG_STATE_HOME", "/x/state");
        EXPECT_EQ(default_file_store_dir(), "/x/state/avn-agent");
    }
    test::scoped_env state("XDG_STATE_HOME", std::nullopt);
    test::scoped_env home("HOME", "/home/someone");
    EXPECT_EQ(default_file_store_dir(), "/home/someone/.local/state/avn-agent");
}

// ---------------------------------------------------------------------------
// Selection.

TEST(open_store, auto_picks_the_secret_service_when_it_answers) {
    ASSERT_NE(shared_or_fail(), nullptr);
    test::temp_dir state;
    store_options options;
    options.file_dir = state.path() + "/avn-agent";
    auto choice = open_store("auto", options);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_EQ(choice->backend, "secret-service");
    EXPECT_EQ(choice->store->backend(), "secret-service");
    EXPECT_FALSE(choice->loud);
    EXPECT_FALSE(fs::exists(options.file_dir));
    choice = open_store("secret-service", options);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_EQ(choice->backend, "secret-service");
}

TEST(open_store, auto_without_a_bus_falls_back_to_the_file_loudly) {
    test::temp_dir runtime;
    test::scoped_env no_bus("DBUS_SESSION_BUS_ADDRESS", std::nullopt);
    test::scoped_env runtime_dir("XDG_RUNTIME_DIR", runtime.path());
    test::temp_dir state;
    store_options options;
    options.file_dir = state.path() + "/avn-agent";
    auto choice = open_store("auto", options);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_EQ(choice->backend, "file");
    EXPECT_EQ(choice->store->backend(), "file");
    EXPECT_TRUE(choice->loud);
    EXPECT_EQ(choice->why,
              "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set); secrets are kept in "
              "the plain file " +
                  options.file_dir + "/secrets.json (mode 0600)");
    EXPECT_EQ(mode_of(options.file_dir), 0700u);

    ASSERT_EQ(::chmod(options.file_dir.c_str(), 0755), 0);
    auto refused = open_store("auto", options);
    ASSERT_FALSE(refused) << "never a fallback to a file open to others";
    EXPECT_EQ(refused.error().code, store_errc::denied);
    EXPECT_NE(refused.error().message.find("chmod 700"), std::string::npos);
    EXPECT_NE(refused.error().message.find("the file store is the fallback: no D-Bus session bus"),
              std::string::npos)
        << refused.error().message;

    auto explicit_choice = open_store("secret-service", options);
    ASSERT_FALSE(explicit_choice) << "an explicit choice never falls back";
    EXPECT_EQ(explicit_choice.error().code, store_errc::unavailable);
    EXPECT_NE(explicit_choice.error().message.find("DBUS_SESSION_BUS_ADDRESS is not set"),
              std::string::npos);
}

TEST(open_store, auto_without_a_secret_service_falls_back_to_the_file_loudly) {
    auto session = own_session(false);
    ASSERT_NE(session, nullptr);
    test::scoped_env bus("DBUS_SESSION_BUS_ADDRESS", session->address());
    test::temp_dir state;
    store_options options;
    options.file_dir = state.path() + "/avn-agent";
    auto choice = open_store("auto", options);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_EQ(choice->backend, "file");
    EXPECT_TRUE(choice->loud);
    EXPECT_TRUE(choice->why.starts_with("no Secret Service on the session bus")) << choice->why;
}

TEST(open_store, explicit_file_memory_and_unknown) {
    test::temp_dir state;
    store_options options;
    options.file_dir = state.path() + "/avn-agent";
    auto file = open_store("file", options);
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_EQ(file->backend, "file");
    EXPECT_FALSE(file->loud);
    EXPECT_EQ(mode_of(options.file_dir), 0700u);

    auto memory = open_store("memory", options);
    ASSERT_TRUE(memory);
    EXPECT_EQ(memory->backend, "memory");
    EXPECT_EQ(memory->store->backend(), "memory");

    auto unknown = open_store("kwallet", options);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message,
              "unknown keyring backend 'kwallet' (expected auto, secret-service, file or memory)");

    ASSERT_EQ(::chmod(options.file_dir.c_str(), 0750), 0);
    auto refused = open_store("file", options);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, store_errc::denied);
}

}  // namespace
}  // namespace avn::platform
