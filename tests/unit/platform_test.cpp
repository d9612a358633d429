// platform/: secret memory, socket paths and folder checks, Unix sockets.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "platform/secret.hpp"
#include "platform/secure_memory.hpp"
#include "platform/socket_path.hpp"
#include "platform/unix_socket.hpp"

namespace avn::platform {
namespace {

namespace fs = std::filesystem;

// A temporary folder removed at the end of the test.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "avn-test-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~temp_dir() { fs::remove_all(path); }
};

// Sets an environment variable for one test.
struct scoped_env {
    std::string name;
    std::string old;
    bool had;
    scoped_env(const char* n, const char* value) : name(n) {
        const char* o = std::getenv(n);
        had = o != nullptr;
        if (had) {
            old = o;
        }
        if (value != nullptr) {
            ::setenv(n, value, 1);
        } else {
            ::unsetenv(n);
        }
    }
    ~scoped_env() {
        if (had) {
            ::setenv(name.c_str(), old.c_str(), 1);
        } else {
            ::unsetenv(name.c_str());
        }
    }
};

TEST(secret, compares_in_constant_time_by_content) {
    secret a("token-1");
    EXPECT_TRUE(a.equals("token-1"));
    EXPECT_FALSE(a.equals("token-2"));
    EXPECT_FALSE(a.equals("token-"));
    EXPECT_TRUE(a.equals(a.clone()));
    EXPECT_TRUE(secret().equals(""));
}

TEST(secret, take_wipes_the_source_and_move_empties) {
    std::string s = "password";
    secret a = secret::take(s);
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(a.expose(), "password");
    secret b = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_EQ(b.expose(), "password");
    b.clear();
    EXPECT_TRUE(b.empty());
}

TEST(socket_path, avn_agent_sock_wins) {
    scoped_env a("AVN_AGENT_SOCK", "/some/where/x.sock");
    scoped_env b("XDG_RUNTIME_DIR", "/run/user/1");
    auto loc = default_socket_location();
    EXPECT_EQ(loc.path, "/some/where/x.sock");
    EXPECT_EQ(loc.dir, "/some/where");
    EXPECT_FALSE(loc.private_dir);
}

TEST(socket_path, runtime_dir_then_tmp) {
    scoped_env a("AVN_AGENT_SOCK", nullptr);
    {
        scoped_env b("XDG_RUNTIME_DIR", "/run/user/1");
        auto loc = default_socket_location();
        EXPECT_EQ(loc.path, "/run/user/1/avn-agent/agent.sock");
        EXPECT_TRUE(loc.private_dir);
    }
    scoped_env c("XDG_RUNTIME_DIR", nullptr);
    auto loc = default_socket_location();
    EXPECT_EQ(loc.path, "/tmp/avn-agent-" + std::to_string(::geteuid()) + "/agent.sock");
}

TEST(socket_path, creates_private_folder_0700) {
    temp_dir t;
    socket_location loc{(t.path / "avn-agent/agent.sock").string(), (t.path / "avn-agent").string(),
                        true};
    ASSERT_TRUE(prepare_socket_dir(loc));
    struct stat st {};
    ASSERT_EQ(::stat(loc.dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_TRUE(prepare_socket_dir(loc));  // idempotent
}

TEST(socket_path, refuses_loose_folder_and_says_how_to_fix) {
    temp_dir t;
    const auto dir = t.path / "avn-agent";
    fs::create_directory(dir);
    ::chmod(dir.c_str(), 0755);
    auto r = prepare_socket_dir({(dir / "agent.sock").string(), dir.string(), true});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("open to group or others"), std::string::npos);
    EXPECT_NE(r.error().message.find("chmod 700 " + dir.string()), std::string::npos);
}

TEST(socket_path, refuses_symlinked_folder) {
    temp_dir t;
    fs::create_directory(t.path / "real");
    ::chmod((t.path / "real").c_str(), 0700);
    fs::create_directory_symlink(t.path / "real", t.path / "avn-agent");
    auto r = prepare_socket_dir(
        {(t.path / "avn-agent/agent.sock").string(), (t.path / "avn-agent").string(), true});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not a plain directory"), std::string::npos);
}

TEST(socket_path, named_folder_must_not_be_world_writable_unless_sticky) {
    temp_dir t;
    ::chmod(t.path.c_str(), 0777);
    auto r = prepare_socket_dir({(t.path / "s").string(), t.path.string(), false});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("writable by others"), std::string::npos);
    ::chmod(t.path.c_str(), 01777);
    EXPECT_TRUE(prepare_socket_dir({(t.path / "s").string(), t.path.string(), false}));
}

TEST(shell_quote, quotes_only_when_needed) {
    EXPECT_EQ(shell_quote("/run/user/1/avn-agent/agent.sock"), "/run/user/1/avn-agent/agent.sock");
    EXPECT_EQ(shell_quote("/tmp/a b"), "'/tmp/a b'");
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_quote(""), "''");
}

TEST(unix_socket, listens_0600_detects_live_and_replaces_stale) {
    temp_dir t;
    const std::string path = (t.path / "s.sock").string();
    EXPECT_EQ(probe_socket(path), socket_state::absent);
    {
        auto l = listen_unix(path);
        ASSERT_TRUE(l) << l.error().message;
        struct stat st {};
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        EXPECT_EQ(probe_socket(path), socket_state::live);
        auto second = listen_unix(path);
        ASSERT_FALSE(second);
        EXPECT_NE(second.error().message.find("already running"), std::string::npos);

        auto c = connect_unix(path, std::chrono::seconds(1));
        ASSERT_TRUE(c) << c.error().message;
        auto cred = peer_of(c->get());
        ASSERT_TRUE(cred);
        EXPECT_EQ(cred->uid, ::geteuid());
        EXPECT_EQ(cred->pid, ::getpid());
        EXPECT_EQ(bound_path(l->get()), path);
    }
    // The listener is closed; the file remains: a stale socket.
    EXPECT_EQ(probe_socket(path), socket_state::stale);
    auto again = listen_unix(path);
    EXPECT_TRUE(again) << again.error().message;
}

TEST(unix_socket, refuses_to_replace_a_regular_file) {
    temp_dir t;
    const std::string path = (t.path / "file").string();
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        std::fclose(f);
    }
    auto l = listen_unix(path);
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message.find("not a socket"), std::string::npos);
    EXPECT_TRUE(fs::exists(path));
}

TEST(unix_socket, connect_to_nothing_reports_enoent) {
    auto c = connect_unix("/nonexistent/avn.sock", std::chrono::milliseconds(100));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().sys_errno, ENOENT);
}

TEST(unix_socket, connect_to_a_full_backlog_times_out_and_a_live_agent_is_still_seen) {
    temp_dir t;
    const std::string path = (t.path / "busy.sock").string();
    auto l = listen_unix(path, 0);
    ASSERT_TRUE(l) << l.error().message;
    // Nobody accepts: fill the queue, then one more must wait and time out,
    // never come back as a socket that is not connected.
    std::vector<unique_fd> queued;
    result<unique_fd> c = os_error{};
    for (int i = 0; i < 64; ++i) {
        c = connect_unix(path, std::chrono::milliseconds(50));
        if (!c) {
            break;
        }
        queued.push_back(std::move(*c));
    }
    ASSERT_FALSE(c) << "the backlog never filled";
    EXPECT_EQ(c.error().sys_errno, ETIMEDOUT) << c.error().message;
    EXPECT_EQ(probe_socket(path), socket_state::live);
}

}  // namespace
}  // namespace avn::platform

namespace avn::platform {
namespace {

TEST(secure_memory, secrets_live_in_the_locked_arena_and_are_wiped_on_free) {
    secret s("a token that must not reach swap");
    const auto stats = secure_memory_usage();
    EXPECT_GT(stats.arena_bytes, 0u);
    EXPECT_GE(stats.in_use, s.size());
    // The limit allows locking 64 KiB for root and for ordinary users alike.
    EXPECT_TRUE(stats.locked);

    const char* where = s.expose().data();
    s.clear();
    // The arena stays mapped, so the freed bytes can be inspected.
    for (std::size_t i = 0; i < 32; ++i) {
        EXPECT_EQ(where[i], '\0') << "byte " << i << " survived the wipe";
    }
}

TEST(secure_memory, falls_back_to_the_heap_when_the_arena_is_full) {
    const auto before = secure_memory_usage();
    std::vector<secret> many;
    for (int i = 0; i < 300; ++i) {  // 300 * 256 bytes > the 64 KiB arena
        many.emplace_back(std::string(256, 'x'));
    }
    const auto during = secure_memory_usage();
    EXPECT_GT(during.heap_blocks, before.heap_blocks);
    for (const auto& s : many) {
        EXPECT_EQ(s.expose(), std::string(256, 'x'));
    }
    many.clear();
    EXPECT_EQ(secure_memory_usage().in_use, before.in_use);
}

}  // namespace
}  // namespace avn::platform
