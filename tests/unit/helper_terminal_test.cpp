// terminal_console's reading of stdin, with a pipe put in place of descriptor 0 for each test.
// (getpass() is exercised through a pseudo-terminal in tests/integration/test_user_prompts.py.)
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "helper/terminal.hpp"

namespace {

using avn::helper::terminal_console;

// Replaces stdin with a pipe holding `text` (then closed) for the life of the object.
class piped_stdin {
  public:
    explicit piped_stdin(const std::string& text) {
        int fds[2];
        EXPECT_EQ(::pipe(fds), 0);
        EXPECT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
        ::close(fds[1]);
        saved_ = ::dup(STDIN_FILENO);
        ::dup2(fds[0], STDIN_FILENO);
        ::close(fds[0]);
    }
    piped_stdin(const piped_stdin&) = delete;
    piped_stdin& operator=(const piped_stdin&) = delete;
    ~piped_stdin() {
        ::dup2(saved_, STDIN_FILENO);
        ::close(saved_);
    }

  private:
    int saved_ = -1;
};

std::string text_of(const std::optional<avn::platform::secret>& s) {
    return s ? std::string(s->expose()) : std::string("<none>");
}

TEST(terminal_console, read_line_takes_one_line_at_a_time) {
    piped_stdin in("first\nsecond\r\nthird");
    terminal_console con;
    EXPECT_EQ(text_of(con.read_line()), "first");
    EXPECT_EQ(text_of(con.read_line()), "second");
    EXPECT_EQ(text_of(con.read_line()), "third");
    EXPECT_FALSE(con.read_line().has_value());
}

TEST(terminal_console, empty_line_is_not_end_of_input) {
    piped_stdin in("\n");
    terminal_console con;
    EXPECT_EQ(text_of(con.read_line()), "");
    EXPECT_FALSE(con.read_line().has_value());
}

// Feeds `text` to stdin from a child process (it may be more than a pipe
// holds), runs `body`, then puts stdin back.
template <class Body>
void with_stdin(const std::string& text, Body body) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        std::size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(fds[1], text.data() + done, text.size() - done);
            if (n <= 0) {
                ::_exit(1);
            }
            done += static_cast<std::size_t>(n);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    const int saved = ::dup(STDIN_FILENO);
    ::dup2(fds[0], STDIN_FILENO);
    ::close(fds[0]);
    body();
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
    ::kill(child, SIGKILL);  // it may still be writing what nobody reads
    int status = 0;
    ::waitpid(child, &status, 0);
}

TEST(terminal_console, a_64_kib_line_survives_the_buffer_growing) {
    const std::string line(64 * 1024, 'x');
    with_stdin(line + "\nnext\n", [&] {
        terminal_console con;
        EXPECT_EQ(text_of(con.read_line()), line);
        EXPECT_EQ(text_of(con.read_line()), "next");
    });
}

TEST(terminal_console, a_longer_line_is_refused_not_grown_without_end) {
    with_stdin(std::string(64 * 1024 + 1, 'x') + "\n", [&] {
        terminal_console con;
        EXPECT_FALSE(con.read_line());
    });
}

}  // namespace
