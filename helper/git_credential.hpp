// git-credential-avn: git's credential-helper protocol (gitcredentials(7), git-credential(1))
// answered with tokens from avn-agent. Sans-I/O: the reader takes bytes, the answer is computed
// from a parsed request and an agent_call; git_main.cpp owns stdin, stdout and the socket.
// docs/AVN_USER.md ("git") is the user's description.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helper/user_session.hpp"
#include "platform/secret.hpp"
#include "protocol/buffer.hpp"

namespace avn::helper {

/// The attributes of git's request that the helper uses; every other key is ignored.
/// A key given twice keeps its last value, as git does.
struct git_credential {
    std::optional<std::string> protocol{};
    std::optional<std::string> host{};  ///< with ":port" when git sent one
    std::optional<std::string> path{};
    std::optional<std::string> username{};
    std::optional<platform::secret> password{};
};

/// Reads git's request: `key=value` lines, each ended by "\n", up to a blank line or the end of
/// input. Rules:
/// - a line's key is everything before its first '='; the value everything after (it may hold
///   more '=' and may be empty); a line without '=' or with an empty key is refused;
/// - one "\r" right before the "\n" is dropped (git reads lines the same way), so "\r\n" ends
///   lines too and a line of just "\r" is blank;
/// - a NUL byte anywhere before the blank line is refused;
/// - the request may hold at most max_bytes bytes before its blank line, else it is refused;
/// - a last line without "\n" at the end of input counts; bytes after the blank line are
///   ignored.
/// Buffered bytes (which may hold a password) are wiped when dropped.
class git_credential_reader {
  public:
    static constexpr std::size_t max_bytes = 64 * 1024;

    enum class state : unsigned char {
        more,    ///< needs more bytes (or finish())
        done,    ///< the request is complete: credential()
        failed,  ///< refused: error()
    };

    /// Takes the next bytes. Returns done at the blank line, failed at the first fault; after
    /// either, further calls change nothing.
    state feed(std::string_view bytes);
    /// The end of input. Returns done or failed.
    state finish();

    [[nodiscard]] const git_credential& credential() const noexcept { return cred_; }
    [[nodiscard]] git_credential& credential() noexcept { return cred_; }
    /// One line saying what was wrong with the input (never a value from it).
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

  private:
    state line(std::string_view text);
    state fail(std::string why);

    git_credential cred_;
    protocol::wiping_buffer partial_;
    std::size_t total_ = 0;
    std::size_t lines_ = 0;
    state state_ = state::more;
    std::string error_;
};

/// The reader over all of `input` at once.
struct git_parse_result {
    std::optional<git_credential> credential;  ///< set when the input was accepted
    std::string error;                         ///< else why not
};
git_parse_result parse_git_credential(std::string_view input);

/// git-credential-avn's options, from its command line (`credential.helper 'avn --host H'`).
struct git_options {
    std::vector<std::string> hosts{};   ///< empty: any host
    std::optional<std::string> name{};  ///< ask for this derived token instead of the session's
    std::int64_t min_ttl = 60;          ///< seconds
};

/// The operation git asks for: its last command-line argument.
enum class git_action : unsigned char { get, store, erase, other };
git_action git_action_from(std::string_view word) noexcept;

/// Whether the request is one the helper answers:
/// - `protocol` is "https" (a token is never offered to a plain-text connection);
/// - `host` is set and, when `options.hosts` is not empty, equal to one of them, compared
///   without regard to ASCII case ("git.example.com:8443" only matches a --host with that port).
bool git_request_matches(const git_options& options, const git_credential& cred);

/// git's answer: "username=U\npassword=P\n" and, when `expiry_utc` is set,
/// "password_expiry_utc=N\n" (Unix seconds; git 2.40 and later drop a credential past it, older
/// ones ignore the key). The username line is left out when `username` is empty. Nullopt when
/// a value holds "\n", "\r" or NUL (git would read something else), or the password is empty:
/// such an answer is never printed.
std::optional<platform::secret> format_git_answer(std::string_view username,
                                                  std::string_view password,
                                                  std::optional<std::int64_t> expiry_utc);

/// What git-credential-avn prints and its exit status.
struct git_reply {
    platform::secret out{};  ///< stdout
    std::string err{};       ///< stderr: empty or lines ended by "\n", never a secret
    int status = 0;
};

/// Runs one action against the agent reached by `call`.
/// - get: for a request git_request_matches() accepts, op `token` {min_ttl[, name]}; the
///   username is the result's `user_email`, else `session.user_email` of op `status`. A request
///   that names a username other than that email (ASCII case aside) is not ours. The answer is
///   format_git_answer() with local_expiry() at `now_unix`. Anything else (another host,
///   another user, no agent, not logged in, any failure) prints nothing on stdout; failures say
///   why in one line on stderr. The status is 0 throughout, so git goes on to its other helpers
///   and prompts.
/// - erase: for a matching request with a password, op `token` {min_ttl: 0[, name]} to learn
///   which token the agent serves; only when the password is that token, op `token_check`
///   {token}, so that the agent checks it with the API and drops or replaces it when dead. A
///   password the agent did not hand out is never sent to it. Prints nothing on stdout; status
///   0.
/// - store and other actions: nothing, status 0.
git_reply git_credential_answer(git_action action, const git_options& options,
                                const git_credential& cred, const agent_call& call,
                                std::int64_t now_unix);

}  // namespace avn::helper
