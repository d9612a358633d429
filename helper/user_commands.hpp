// The `avn user` commands, one file each (user_*.cpp). Each sends the op of
// docs/PROTOCOL.md "Session ops" and prints what `avn user ...` prints
// (aiven-api.md §3): prompts, stdout, stderr lines and exit status. Every op
// that uses the session carries AIVEN_AUTH_TOKEN as `auth_token` when it is set.
// Failures print failure_line() and return its status. docs/AVN_USER.md is the
// user's description.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

}  // namespace avn::helper
