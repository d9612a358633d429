#include "helper/git_credential.hpp"

#include <algorithm>

#include "helper/user_commands.hpp"
#include "protocol/codec.hpp"

namespace avn::helper {

namespace {

constexpr std::string_view program = "git-credential-avn: ";

bool iequals(std::string_view a, std::string_view b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        return lower(x) == lower(y);
    });
}

bool printable_value(std::string_view v) noexcept {
    // git splits its input at "\n" and drops a "\r" before it, and C strings end at NUL: a value
    // holding any of them would reach git as something else.
    return v.find_first_of(std::string_view("\n\r\0", 3)) == std::string_view::npos;
}

std::string failure_text(std::string_view op, const call_result& r) {
    std::string line(program);
    if (r.failure != call_failure::none) {
        line += r.message;
    } else {
        const std::string_view code = r.reply.code_text;
        const protocol::error& e = r.reply.err;
        if (code == "not_logged_in") {
            line += "avn-agent has no session; log in with 'avn-user login'";
        } else if (code == "unknown_op") {
            line += "avn-agent does not know the op '" + std::string(op) +
                    "': it is older than git-credential-avn; restart it from the same "
                    "installation";
        } else if (code == "api_error") {
            line += "the Aiven API refused: ";
            line += e.api_message ? *e.api_message : e.message;
            if (e.api_status) {
                line += " (status " + std::to_string(*e.api_status) + ")";
            }
        } else if (code == "insufficient_ttl") {
            line += e.message;
        } else {
            line += e.message + " (" + std::string(code) + ")";
        }
    }
    // One line: the agent's text is not ours to trust with line breaks.
    std::replace_if(
        line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    line += '\n';
    return line;
}

std::string bad_result_text(std::string_view op, std::string_view why) {
    return std::string(program) + "unexpected reply from avn-agent to '" + std::string(op) +
           "': " + std::string(why) + "\n";
}

boost::json::object token_args(const git_options& options, std::int64_t min_ttl) {
    boost::json::object args = secret_args();
    args["min_ttl"] = min_ttl;
    if (options.name) {
        args["name"] = *options.name;
    }
    return args;
}

// The token the agent serves for `options`, or the stderr text that says why there is none.
std::optional<served_token> fetch(const agent_call& call, const git_options& options,
                                  std::int64_t min_ttl, std::string& err) {
    const call_result r = call("token", token_args(options, min_ttl));
    if (!succeeded(r)) {
        err = failure_text("token", r);
        return std::nullopt;
    }
    std::string why;
    auto t = read_token_result(r.reply.result, why);
    if (!t) {
        err = bad_result_text("token", why);
    }
    return t;
}

std::string session_email(const agent_call& call) {
    const call_result r = call("status", secret_args());
    if (!succeeded(r)) {
        return {};
    }
    const auto* root = r.reply.result.if_object();
    const auto* session = root != nullptr ? root->if_contains("session") : nullptr;
    const auto* o = session != nullptr ? session->if_object() : nullptr;
    const auto* email = o != nullptr ? o->if_contains("user_email") : nullptr;
    return email != nullptr && email->is_string() ? std::string(email->get_string())
                                                  : std::string();
}

void answer_get(git_reply& reply, const git_options& options, const git_credential& cred,
                const agent_call& call, std::int64_t now_unix) {
    auto t = fetch(call, options, options.min_ttl, reply.err);
    if (!t) {
        return;
    }
    std::string email = t->user_email.empty() ? session_email(call) : t->user_email;
    // A URL that names another user asks for that user's credential: another helper's job.
    if (cred.username && !iequals(*cred.username, email)) {
        return;
    }
    auto answer = format_git_answer(email, t->token.expose(), local_expiry(*t, now_unix));
    if (!answer) {
        reply.err = std::string(program) +
                    "the agent's answer cannot be passed to git: a value holds a line break or "
                    "NUL\n";
        return;
    }
    reply.out = std::move(*answer);
}

void answer_erase(git_reply& reply, const git_options& options, const git_credential& cred,
                  const agent_call& call) {
    if (!cred.password || cred.password->empty()) {
        return;
    }
    // git sends erase for whatever credential failed, possibly one of another helper's: only the
    // token the agent handed out goes back to it (and from there to the Aiven API).
    auto t = fetch(call, options, 0, reply.err);
    if (!t || !t->token.equals(*cred.password)) {
        return;
    }
    boost::json::object args = secret_args();
    args["token"] = cred.password->expose();
    const call_result r = call("token_check", args);
    if (!succeeded(r)) {
        reply.err = failure_text("token_check", r);
        return;
    }
    const auto* o = r.reply.result.if_object();
    const auto* action = o != nullptr ? o->if_contains("action") : nullptr;
    if (action != nullptr && action->is_string() && action->get_string() == "session_cleared") {
        reply.err = std::string(program) +
                    "the Aiven API no longer accepts the session's token, so avn-agent ended "
                    "the session; log in again with 'avn-user login'\n";
    }
}

}  // namespace

git_credential_reader::state git_credential_reader::fail(std::string why) {
    error_ = std::move(why);
    partial_.clear();
    state_ = state::failed;
    return state_;
}

git_credential_reader::state git_credential_reader::line(std::string_view text) {
    ++lines_;
    if (!text.empty() && text.back() == '\r') {
        text.remove_suffix(1);
    }
    if (text.empty()) {
        state_ = state::done;
        return state_;
    }
    const std::string where = "line " + std::to_string(lines_) + " of the input";
    if (text.find('\0') != std::string_view::npos) {
        return fail(where + " holds a NUL byte");
    }
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        return fail(where + " is not key=value");
    }
    const std::string_view key = text.substr(0, eq);
    const std::string_view value = text.substr(eq + 1);
    if (key == "protocol") {
        cred_.protocol = std::string(value);
    } else if (key == "host") {
        cred_.host = std::string(value);
    } else if (key == "path") {
        cred_.path = std::string(value);
    } else if (key == "username") {
        cred_.username = std::string(value);
    } else if (key == "password") {
        cred_.password = platform::secret(value);
    }
    return state_;
}

git_credential_reader::state git_credential_reader::feed(std::string_view bytes) {
    while (state_ == state::more && !bytes.empty()) {
        const auto nl = bytes.find('\n');
        const std::string_view chunk = bytes.substr(0, nl);
        const std::size_t taken = chunk.size() + (nl == std::string_view::npos ? 0 : 1);
        if (taken > max_bytes - total_) {
            return fail("the input is longer than " + std::to_string(max_bytes) + " bytes");
        }
        total_ += taken;
        partial_.append(chunk);
        if (nl == std::string_view::npos) {
            break;
        }
        bytes.remove_prefix(nl + 1);
        line(partial_.view());
        partial_.clear();
    }
    return state_;
}

git_credential_reader::state git_credential_reader::finish() {
    if (state_ != state::more) {
        return state_;
    }
    if (!partial_.empty()) {
        line(partial_.view());
        partial_.clear();
    }
    if (state_ == state::more) {
        state_ = state::done;
    }
    return state_;
}

git_parse_result parse_git_credential(std::string_view input) {
    git_credential_reader reader;
    reader.feed(input);
    git_parse_result r;
    if (reader.finish() == git_credential_reader::state::done) {
        r.credential = std::move(reader.credential());
    } else {
        r.error = reader.error();
    }
    return r;
}

git_action git_action_from(std::string_view word) noexcept {
    if (word == "get") {
        return git_action::get;
    }
    if (word == "store") {
        return git_action::store;
    }
    if (word == "erase") {
        return git_action::erase;
    }
    return git_action::other;
}

bool git_request_matches(const git_options& options, const git_credential& cred) {
    if (!cred.protocol || !iequals(*cred.protocol, "https")) {
        return false;
    }
    if (!cred.host || cred.host->empty()) {
        return false;
    }
    if (options.hosts.empty()) {
        return true;
    }
    return std::any_of(options.hosts.begin(), options.hosts.end(),
                       [&](const std::string& h) { return iequals(h, *cred.host); });
}

std::optional<platform::secret> format_git_answer(std::string_view username,
                                                  std::string_view password,
                                                  std::optional<std::int64_t> expiry_utc) {
    if (password.empty() || !printable_value(password) || !printable_value(username)) {
        return std::nullopt;
    }
    std::string expiry;
    if (expiry_utc) {
        expiry = "password_expiry_utc=" + std::to_string(*expiry_utc) + "\n";
    }
    std::string text;
    text.reserve(username.size() + password.size() + expiry.size() + 32);
    if (!username.empty()) {
        text += "username=";
        text += username;
        text += '\n';
    }
    text += "password=";
    text += password;
    text += '\n';
    text += expiry;
    return platform::secret::take(text);
}

git_reply git_credential_answer(git_action action, const git_options& options,
                                const git_credential& cred, const agent_call& call,
                                std::int64_t now_unix) {
    git_reply reply;
    if ((action != git_action::get && action != git_action::erase) ||
        !git_request_matches(options, cred)) {
        return reply;
    }
    if (action == git_action::get) {
        answer_get(reply, options, cred, call, now_unix);
    } else {
        answer_erase(reply, options, cred, call);
    }
    return reply;
}

}  // namespace avn::helper
