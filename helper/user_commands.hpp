// The `avn user` commands, one file each (user_*.cpp). Each sends the op of
// docs/PROTOCOL.md "Session ops" and prints what `avn user ...` prints
// (aiven-api.md §3): prompts, stdout, stderr lines and exit status. Every op
// that uses the session carries AIVEN_AUTH_TOKEN as `auth_token` when it is set.
// Failures print failure_line() and return its status. docs/AVN_USER.md is the
// user's description.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helper/user_session.hpp"

namespace avn::helper {

struct user_info_args {
    bool json = false;
};
/// `info [--json]`: op `user_info`; prints the `user` object of the result as a table
/// (USER REAL_NAME STATE TOKEN_VALIDITY_BEGIN PROJECTS AUTH) or, with --json, as a one-element
/// array.
int user_info(user_session& s, const user_info_args& a);

struct user_login_args {
    std::string email{};  ///< empty: asked for with input("Username (email): ")
    bool token = false;
    std::optional<std::string> tenant{};
    bool password_stdin = false;
};
/// `login [EMAIL] [--token] [--tenant T] [--password-stdin]`.
/// Password login: the password from stdin (--password-stdin), else AIVEN_PASSWORD, else
/// getpass("<email>'s Aiven password: "); op `login` {email, password[, tenant]}. When the
/// agent answers `otp_required`, asks input("Two-factor authentication OTP: ") and sends the
/// same op again with `otp` (and the tenant, which avn drops there).
/// Token login (--token): the token from stdin, else AIVEN_AUTH_TOKEN, else
/// getpass("<email>'s Aiven access token: "); op `login_token` {token[, email]}, which the
/// agent checks before keeping. An email left empty at the prompt is not sent.
/// Success prints nothing on stdout and "INFO\tAiven credentials stored in avn-agent" on
/// stderr, where avn names its credentials file.
int user_login(user_session& s, const user_login_args& a);

struct user_logout_args {
    bool no_token_revoke = false;
};
/// `logout [--no-token-revoke]`: op `logout` {revoke}. Prints nothing on stdout. When the
/// agent could not revoke a token it was asked to revoke (already expired or revoked), the
/// session is gone all the same and stderr says so with the agent's reason.
int user_logout(user_session& s, const user_logout_args& a);

/// `tokens-expire`: op `tokens_expire`; prints the API's `message` and a line.
int user_tokens_expire(user_session& s);

/// `password-change`: without AIVEN_AUTH_TOKEN, first asks the agent's `status` and stops with
/// the not-logged-in error when its `session.logged_in` is false (avn checks before prompting).
/// Then getpass("Current password: ") (no variable replaces it, as in avn), then
/// the new password by obtain_new_password("New password: "); op `password_change`. Prints
/// avn's "Password changed. Next, use 'avn user login' to log in again using your new
/// password."; stderr adds that the agent kept the session when it did.
int user_password_change(user_session& s);

struct user_create_args {
    std::string email{};
    std::string real_name{};
};
/// `create EMAIL --real-name NAME`: the password by obtain_new_password("New aiven.io password
/// for <email>: "); op `user_create`. Output as login.
int user_create(user_session& s, const user_create_args& a);

struct access_token_create_args {
    std::string description{};
    std::optional<std::int64_t> max_age_seconds{};  ///< not sent when unset (no expiry)
    bool extend_when_used = false;                  ///< always sent
    std::vector<std::string> scopes{};              ///< not sent when empty
    bool json = false;
};
/// `access-token create`: op `access_token_create`; prints the token object as a one-row table
/// (EXPIRY_TIME DESCRIPTION MAX_AGE_SECONDS EXTEND_WHEN_USED FULL_TOKEN) or a one-element JSON
/// array.
int access_token_create(user_session& s, const access_token_create_args& a);

struct access_token_list_args {
    bool json = false;
};
/// `access-token list`: op `access_token_list`; prints `tokens` as a table (EXPIRY_TIME
/// TOKEN_PREFIX DESCRIPTION MAX_AGE_SECONDS EXTEND_WHEN_USED LAST_USED_TIME LAST_IP
/// LAST_USER_AGENT; nothing at all for no tokens) or the JSON array.
int access_token_list(user_session& s, const access_token_list_args& a);

struct access_token_update_args {
    std::string token_prefix{};  ///< a prefix or a full token
    std::string description{};
    bool json = false;
};
/// `access-token update`: op `access_token_update`; prints the token object with list's
/// columns, or a one-element JSON array.
int access_token_update(user_session& s, const access_token_update_args& a);

struct access_token_revoke_args {
    std::string token_prefix{};  ///< a prefix or a full token
};
/// `access-token revoke`: op `access_token_revoke`; prints "Revoked". When the token was the
/// session's own, stderr says that the session is gone.
int access_token_revoke(user_session& s, const access_token_revoke_args& a);

struct user_import_args {
    std::string file{};        ///< empty: avn_credentials_path()
    bool remove_file = false;  ///< delete the plain-text file after a successful import
};
/// Where avn keeps its credentials: $AIVEN_CREDENTIALS_FILE, else
/// $AIVEN_CONFIG_DIR/aiven-credentials.json, else ~/.config/aiven/aiven-credentials.json.
std::string avn_credentials_path();
/// `import [--file F] [--remove-file]` (ours, not avn's): reads avn's `{"auth_token",
/// "user_email"}` file and sends op `login_token`, so the agent checks the token with the API
/// before keeping it. Then, with --remove-file, deletes the file. Prints INFO lines on stderr.
int user_import(user_session& s, const user_import_args& a);

// Tokens for tools (docs/PROTOCOL.md "Token ops"). These serve the agent's own session:
// AIVEN_AUTH_TOKEN is not sent as `auth_token`, so `avn-user exec -- avn-user token` inside
// a child that already holds a token still asks the agent.

/// The result of op `token`, checked against its documented shape.
struct served_token {
    platform::secret token;
    std::optional<std::string> expiry_time{};  ///< as the agent sent it; unset: never expires
    std::optional<std::int64_t> expires_in{};  ///< seconds, by the API server's clock
    std::optional<std::string> name{};         ///< unset for the session token
    std::string user_email{};                  ///< empty when the agent sent none
};
/// Reads a `token` result. Returns nullopt with `why` set when `token` is missing, empty or not
/// a string, or when a member present has the wrong type (`expires_in` must be an integer or
/// null; the others strings or null).
std::optional<served_token> read_token_result(const boost::json::value& result, std::string& why);

/// When `t` expires by the local clock, in Unix seconds: `now_unix` + `expires_in`. The agent
/// judges `expires_in` against the API server's clock, so a skewed local clock does not make a
/// fresh token look expired to the tool that compares with it. Nullopt when the token never
/// expires (`expires_in` null or absent).
std::optional<std::int64_t> local_expiry(const served_token& t, std::int64_t now_unix) noexcept;

/// `unix_seconds` as RFC 3339 UTC with whole seconds: "2026-12-28T15:16:30Z".
std::string rfc3339_utc(std::int64_t unix_seconds);

/// The ExecCredential apiVersion that avn-user answers: the `apiVersion` of the JSON in
/// `exec_info` (the KUBERNETES_EXEC_INFO variable kubectl sets) when it is
/// "client.authentication.k8s.io/v1" or ".../v1beta1", else the v1 name. Both versions have the
/// same `status` members.
std::string exec_credential_api_version(std::optional<std::string_view> exec_info);

/// A Kubernetes ExecCredential, as to_avn_json() prints it:
/// {"apiVersion": `api_version`, "kind": "ExecCredential", "status": {"expirationTimestamp":
/// rfc3339_utc(`expiry_unix`), "token": `token`}}; without expirationTimestamp when
/// `expiry_unix` is unset. The text holds the token: the caller wipes it.
std::string format_exec_credential(std::string_view token, std::optional<std::int64_t> expiry_unix,
                                   std::string_view api_version);

/// What op `token` is asked for.
struct token_request {
    std::optional<std::string> name{};              ///< a derived token's name
    std::int64_t min_ttl = 60;                      ///< seconds
    std::optional<std::int64_t> max_age_seconds{};  ///< derived tokens only; not sent when unset
    std::vector<std::string> scopes{};              ///< derived tokens only; not sent when empty
};
/// Sends op `token` {min_ttl[, name][, max_age_seconds][, scopes]} and checks the result with
/// read_token_result(). On failure prints it and sets `status`: `insufficient_ttl` as
/// "ERROR\tcommand failed: <message>" (exit_failed), a result of the wrong shape as
/// report_bad_result(), anything else as report_failure().
std::optional<served_token> request_token(user_session& s, const token_request& req, int& status);

enum class token_output : unsigned char { bare, json, exec_credential };

struct user_token_args {
    token_request request{};
    token_output output = token_output::bare;
    std::optional<std::string> exec_info{};  ///< KUBERNETES_EXEC_INFO, for exec_credential
    std::int64_t now_unix = 0;               ///< the local clock, for exec_credential
};
/// `token [--name NAME] [--min-ttl S] [--max-age S] [--scope S ...] [--json | --exec-credential]`:
/// request_token(), then prints the token and "\n"; with --json {"expiry_time", "name",
/// "token"} as to_avn_json(); with --exec-credential format_exec_credential() with
/// local_expiry() and exec_credential_api_version().
int user_token(user_session& s, const user_token_args& a);

struct user_exec_args {
    token_request request{};
    std::vector<std::string> command{};  ///< CMD and its arguments; not empty
    /// Whether avn-user was started with SIGINT or SIGPIPE ignored (main() looks before
    /// run_with_terminal() changes them): CMD inherits the same dispositions.
    bool sigint_ignored = false;
    bool sigpipe_ignored = false;
};
/// Replaces the process with `command` (looked up in PATH as execvp does) once request_token()
/// gave a token. The token is put in AIVEN_AUTH_TOKEN and AIVEN_TOKEN of CMD's environment,
/// nowhere else; SIGINT and SIGPIPE get back the actions avn-user started with (default or
/// ignored). So CMD's exit status, or the signal that ends it, is the caller's. Returns only on
/// failure: exit_usage for an empty `command` (nothing asked); the token failure as
/// request_token() reports it; exit_cmd_not_found when CMD is not found, exit_cmd_cannot_run
/// when it cannot be run, each with "ERROR\tcommand failed: cannot run 'CMD': <why>".
int user_exec(user_session& s, const user_exec_args& a);

/// A shell's statuses for a command it could not start.
inline constexpr int exit_cmd_cannot_run = 126;
inline constexpr int exit_cmd_not_found = 127;

}  // namespace avn::helper
