// git-credential-avn's protocol reader and answers, and avn-user token's output, against canned
// agent replies: what git is told for a request, what the agent is asked, and what is refused.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "helper/exit_codes.hpp"
#include "helper/git_credential.hpp"
#include "helper/user_commands.hpp"
#include "tests/unit/helper_fake_agent.hpp"

namespace {

namespace json = boost::json;
using namespace avn::helper;
using avn::platform::secret;
using reader_state = git_credential_reader::state;

constexpr std::int64_t now = 1'800'000'000;  // 2027-01-15T08:00:00Z
const std::string token = "oJCJ+fniBtq/Zm8=";

using avn::helper::test_support::canned_agent;
using avn::helper::test_support::error_reply;
using avn::helper::test_support::no_reply;
using avn::helper::test_support::ok;
using avn::helper::test_support::sent_request;

call_result no_agent() {
    return no_reply(call_failure::no_agent,
                    "no agent is running on /run/user/1000/avn-agent/agent.sock (No such file)");
}

std::string token_result(std::optional<std::int64_t> expires_in = 3600,
                         std::string email = "jane@example.com") {
    json::object o;
    o["token"] = token;
    o["expiry_time"] = expires_in ? json::value("2027-01-15T09:00:00.123456Z") : nullptr;
    o["expires_in"] = expires_in ? json::value(*expires_in) : nullptr;
    o["name"] = nullptr;
    o["user_email"] = email;
    return json::serialize(o);
}

git_credential https_request(std::string host = "git.example.com") {
    auto parsed = parse_git_credential("protocol=https\nhost=" + host + "\n\n");
    EXPECT_TRUE(parsed.credential) << parsed.error;
    return std::move(*parsed.credential);
}

std::string out_of(const git_reply& r) {
    return std::string(r.out.expose());
}

// The reader.

TEST(git_credential_reader, reads_known_keys_up_to_the_blank_line) {
    const auto r = parse_git_credential(
        "protocol=https\nhost=git.example.com:8443\npath=team/repo.git\nusername=jane\n"
        "password=p=w=d\n\nhost=after.example.com\n");
    ASSERT_TRUE(r.credential) << r.error;
    EXPECT_EQ(r.credential->protocol, "https");
    EXPECT_EQ(r.credential->host, "git.example.com:8443");
    EXPECT_EQ(r.credential->path, "team/repo.git");
    EXPECT_EQ(r.credential->username, "jane");
    ASSERT_TRUE(r.credential->password);
    EXPECT_EQ(r.credential->password->expose(), "p=w=d");
}

TEST(git_credential_reader, ignores_unknown_keys_and_keeps_the_last_of_a_repeated_one) {
    const auto r = parse_git_credential(
        "capability[]=authtype\nprotocol=https\nwwwauth[]=Basic realm=\"x\"\nhost=a.example.com\n"
        "url=https://b.example.com/\nhost=c.example.com\nfuture_key=\n\n");
    ASSERT_TRUE(r.credential) << r.error;
    EXPECT_EQ(r.credential->host, "c.example.com");
    EXPECT_FALSE(r.credential->username);
    EXPECT_FALSE(r.credential->password);
}

TEST(git_credential_reader, end_of_input_ends_the_request_and_a_last_line_counts) {
    const auto r = parse_git_credential("protocol=https\nhost=git.example.com");
    ASSERT_TRUE(r.credential) << r.error;
    EXPECT_EQ(r.credential->host, "git.example.com");
    EXPECT_TRUE(parse_git_credential("").credential);
}

TEST(git_credential_reader, drops_a_carriage_return_before_the_line_end) {
    const auto r = parse_git_credential("protocol=https\r\nhost=git.example.com\r\n\r\nhost=x\n");
    ASSERT_TRUE(r.credential) << r.error;
    EXPECT_EQ(r.credential->protocol, "https");
    EXPECT_EQ(r.credential->host, "git.example.com");
}

TEST(git_credential_reader, empty_values_are_values) {
    const auto r = parse_git_credential("username=\npassword=\n\n");
    ASSERT_TRUE(r.credential) << r.error;
    EXPECT_EQ(r.credential->username, "");
    ASSERT_TRUE(r.credential->password);
    EXPECT_TRUE(r.credential->password->empty());
}

TEST(git_credential_reader, refuses_a_line_that_is_not_key_value) {
    for (const std::string input : {"protocol=https\nhost\n\n", "=value\n\n", "just words"}) {
        const auto r = parse_git_credential(input);
        EXPECT_FALSE(r.credential) << input;
        EXPECT_NE(r.error.find("is not key=value"), std::string::npos) << r.error;
    }
    EXPECT_EQ(parse_git_credential("protocol=https\nhost\n").error,
              "line 2 of the input is not key=value");
}

TEST(git_credential_reader, refuses_a_nul_byte_and_never_quotes_the_value) {
    const auto r = parse_git_credential(std::string("password=sec\0ret\n\n", 19));
    EXPECT_FALSE(r.credential);
    EXPECT_EQ(r.error, "line 1 of the input holds a NUL byte");
    // After the blank line nothing is read, NUL or not.
    EXPECT_TRUE(parse_git_credential(std::string("host=a\n\n\0", 9)).credential);
}

TEST(git_credential_reader, refuses_input_above_the_limit) {
    const std::string big = "path=" + std::string(git_credential_reader::max_bytes, 'a') + "\n\n";
    const auto r = parse_git_credential(big);
    EXPECT_FALSE(r.credential);
    EXPECT_NE(r.error.find("longer than"), std::string::npos);
    // Exactly at the limit is fine.
    const std::string exact =
        "path=" + std::string(git_credential_reader::max_bytes - 7, 'a') + "\n\n";
    ASSERT_EQ(exact.size(), git_credential_reader::max_bytes);
    EXPECT_TRUE(parse_git_credential(exact).credential);
}

TEST(git_credential_reader, takes_bytes_in_any_pieces) {
    const std::string input = "protocol=https\r\nhost=git.example.com\npassword=tok\n\nrest";
    git_credential_reader reader;
    reader_state s = reader_state::more;
    for (char c : input) {
        s = reader.feed(std::string_view(&c, 1));
        if (s != reader_state::more) {
            break;
        }
    }
    ASSERT_EQ(s, reader_state::done);
    EXPECT_EQ(reader.finish(), reader_state::done);
    EXPECT_EQ(reader.credential().host, "git.example.com");
    EXPECT_EQ(reader.credential().password->expose(), "tok");
}

TEST(git_credential_reader, stays_failed) {
    git_credential_reader reader;
    EXPECT_EQ(reader.feed("nonsense\n"), reader_state::failed);
    EXPECT_EQ(reader.feed("host=a\n\n"), reader_state::failed);
    EXPECT_EQ(reader.finish(), reader_state::failed);
}

// Matching and formatting.

TEST(git_request_matches, https_and_any_host_without_a_host_list) {
    const git_options any;
    EXPECT_TRUE(git_request_matches(any, https_request()));
    EXPECT_TRUE(
        git_request_matches(any, *parse_git_credential("protocol=HTTPS\nhost=x\n").credential));
    EXPECT_FALSE(git_request_matches(
        any, *parse_git_credential("protocol=http\nhost=git.example.com\n").credential));
    EXPECT_FALSE(
        git_request_matches(any, *parse_git_credential("host=git.example.com\n").credential));
    EXPECT_FALSE(git_request_matches(any, *parse_git_credential("protocol=https\n").credential));
}

TEST(git_request_matches, only_listed_hosts_ignoring_case_but_not_ports) {
    git_options o;
    o.hosts = {"git.example.com", "other.example.com:8443"};
    EXPECT_TRUE(git_request_matches(o, https_request("git.example.com")));
    EXPECT_TRUE(git_request_matches(o, https_request("Git.Example.COM")));
    EXPECT_TRUE(git_request_matches(o, https_request("other.example.com:8443")));
    EXPECT_FALSE(git_request_matches(o, https_request("other.example.com")));
    EXPECT_FALSE(git_request_matches(o, https_request("git.example.com:8443")));
    EXPECT_FALSE(git_request_matches(o, https_request("github.com")));
    EXPECT_FALSE(git_request_matches(o, https_request("git.example.com.evil.test")));
}

TEST(format_git_answer, username_password_and_expiry_lines) {
    auto a = format_git_answer("jane@example.com", token, 1'800'003'600);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->expose(), "username=jane@example.com\npassword=" + token +
                               "\npassword_expiry_utc=1800003600\n");
    a = format_git_answer("jane@example.com", token, std::nullopt);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->expose(), "username=jane@example.com\npassword=" + token + "\n");
    a = format_git_answer("", token, std::nullopt);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->expose(), "password=" + token + "\n");
}

TEST(format_git_answer, refuses_line_breaks_nul_and_an_empty_password) {
    EXPECT_FALSE(format_git_answer("jane@example.com", "tok\nhost=evil", std::nullopt));
    EXPECT_FALSE(format_git_answer("jane\n@example.com", "tok", std::nullopt));
    EXPECT_FALSE(format_git_answer("jane@example.com", "tok\r", std::nullopt));
    EXPECT_FALSE(format_git_answer("jane@example.com", std::string("t\0k", 3), std::nullopt));
    EXPECT_FALSE(format_git_answer("jane@example.com", "", std::nullopt));
}

TEST(git_action_from, knows_the_three_actions) {
    EXPECT_EQ(git_action_from("get"), git_action::get);
    EXPECT_EQ(git_action_from("store"), git_action::store);
    EXPECT_EQ(git_action_from("erase"), git_action::erase);
    EXPECT_EQ(git_action_from("capability"), git_action::other);
    EXPECT_EQ(git_action_from("GET"), git_action::other);
}

// Answers against a canned agent.

TEST(git_credential_answer, get_answers_email_token_and_local_expiry) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result(3600)));
    git_options o;
    const auto r = git_credential_answer(git_action::get, o, https_request(), agent.link(), now);
    EXPECT_EQ(out_of(r), "username=jane@example.com\npassword=" + token +
                             "\npassword_expiry_utc=" + std::to_string(now + 3600) + "\n");
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.status, 0);
    ASSERT_EQ(agent.sent.size(), 1U);
    EXPECT_EQ(agent.sent[0].op, "token");
    EXPECT_EQ(agent.sent[0].args, json::parse(R"({"min_ttl":60})"));
}

TEST(git_credential_answer, get_sends_name_and_min_ttl_and_omits_expiry_for_a_lasting_token) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result(std::nullopt)));
    git_options o;
    o.name = "git";
    o.min_ttl = 900;
    const auto r = git_credential_answer(git_action::get, o, https_request(), agent.link(), now);
    EXPECT_EQ(out_of(r), "username=jane@example.com\npassword=" + token + "\n");
    EXPECT_EQ(agent.sent[0].args, json::parse(R"({"min_ttl":900,"name":"git"})"));
}

TEST(git_credential_answer, get_takes_the_email_from_status_when_the_token_has_none) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result(60, "")));
    agent.replies.push_back(
        ok(R"({"agent":{},"session":{"logged_in":true,"user_email":"bob@example.com"}})"));
    const auto r = git_credential_answer(git_action::get, {}, https_request(), agent.link(), now);
    EXPECT_EQ(out_of(r), "username=bob@example.com\npassword=" + token +
                             "\npassword_expiry_utc=" + std::to_string(now + 60) + "\n");
    ASSERT_EQ(agent.sent.size(), 2U);
    EXPECT_EQ(agent.sent[1].op, "status");
}

TEST(git_credential_answer, get_for_another_host_or_protocol_asks_nothing_and_says_nothing) {
    canned_agent agent;
    git_options o;
    o.hosts = {"git.example.com"};
    for (const auto& input :
         {"protocol=https\nhost=github.com\n\n", "protocol=http\nhost=git.example.com\n\n"}) {
        const auto cred = parse_git_credential(input).credential;
        const auto r = git_credential_answer(git_action::get, o, *cred, agent.link(), now);
        EXPECT_TRUE(r.out.empty());
        EXPECT_EQ(r.err, "");
        EXPECT_EQ(r.status, 0);
    }
    EXPECT_TRUE(agent.sent.empty());
}

TEST(git_credential_answer, get_for_another_username_is_not_ours) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result()));
    auto cred = *parse_git_credential("protocol=https\nhost=h\nusername=bob\n").credential;
    auto r = git_credential_answer(git_action::get, {}, cred, agent.link(), now);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.err, "");

    agent.replies.push_back(ok(token_result()));
    cred = *parse_git_credential("protocol=https\nhost=h\nusername=Jane@Example.com\n").credential;
    r = git_credential_answer(git_action::get, {}, cred, agent.link(), now);
    EXPECT_NE(out_of(r).find("password=" + token + "\n"), std::string::npos);
}

TEST(git_credential_answer, get_failures_print_one_stderr_line_and_exit_0) {
    const std::vector<std::pair<call_result, std::string>> cases = {
        {no_agent(), "git-credential-avn: no agent is running on "},
        {error_reply("not_logged_in", "no session"),
         "git-credential-avn: avn-agent has no session; log in with 'avn-user login'\n"},
        {error_reply("unknown_op", "unknown op 'token'"),
         "git-credential-avn: avn-agent does not know the op 'token'"},
        {error_reply("insufficient_ttl", "the token lasts 30 s,\nless than 60 s"),
         "git-credential-avn: the token lasts 30 s, less than 60 s\n"},
        {ok(R"({"token":""})"), "git-credential-avn: unexpected reply from avn-agent to 'token'"},
    };
    for (const auto& [reply, expected] : cases) {
        canned_agent agent;
        agent.replies.push_back(reply);
        const auto r =
            git_credential_answer(git_action::get, {}, https_request(), agent.link(), now);
        EXPECT_TRUE(r.out.empty());
        EXPECT_EQ(r.status, 0);
        EXPECT_EQ(r.err.rfind(expected, 0), 0U) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    }
}

TEST(git_credential_answer, get_refuses_a_token_with_a_line_break) {
    canned_agent agent;
    agent.replies.push_back(ok(R"({"token":"abc\nhost=evil","user_email":"jane@example.com"})"));
    const auto r = git_credential_answer(git_action::get, {}, https_request(), agent.link(), now);
    EXPECT_TRUE(r.out.empty());
    EXPECT_NE(r.err.find("cannot be passed to git"), std::string::npos);
}

TEST(git_credential_answer, erase_of_the_served_token_asks_the_agent_to_check_it) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result()));
    agent.replies.push_back(ok(R"({"known":true,"valid":false,"action":"dropped"})"));
    git_options o;
    o.name = "git";
    auto cred = https_request();
    cred.password = secret(token);
    const auto r = git_credential_answer(git_action::erase, o, cred, agent.link(), now);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.status, 0);
    ASSERT_EQ(agent.sent.size(), 2U);
    EXPECT_EQ(agent.sent[0].op, "token");
    EXPECT_EQ(agent.sent[0].args, json::parse(R"({"min_ttl":0,"name":"git"})"));
    EXPECT_EQ(agent.sent[1].op, "token_check");
    EXPECT_EQ(agent.sent[1].args, json::parse(R"({"token":")" + token + R"("})"));
}

TEST(git_credential_answer, erase_says_when_the_session_ended) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result()));
    agent.replies.push_back(ok(R"({"known":true,"valid":false,"action":"session_cleared"})"));
    auto cred = https_request();
    cred.password = secret(token);
    const auto r = git_credential_answer(git_action::erase, {}, cred, agent.link(), now);
    EXPECT_NE(r.err.find("ended the session"), std::string::npos) << r.err;
    EXPECT_EQ(r.status, 0);
}

TEST(git_credential_answer, erase_never_sends_a_password_the_agent_did_not_hand_out) {
    canned_agent agent;
    agent.replies.push_back(ok(token_result()));
    auto cred = https_request();
    cred.password = secret("a-password-of-another-helper");
    const auto r = git_credential_answer(git_action::erase, {}, cred, agent.link(), now);
    EXPECT_TRUE(r.out.empty());
    ASSERT_EQ(agent.sent.size(), 1U);
    EXPECT_EQ(agent.sent[0].op, "token");
    EXPECT_EQ(json::serialize(agent.sent[0].args).find("another"), std::string::npos);
}

TEST(git_credential_answer, erase_without_password_or_for_another_host_asks_nothing) {
    canned_agent agent;
    git_options o;
    o.hosts = {"git.example.com"};
    auto r = git_credential_answer(git_action::erase, o, https_request(), agent.link(), now);
    EXPECT_TRUE(r.out.empty());
    auto other = https_request("github.com");
    other.password = secret(token);
    r = git_credential_answer(git_action::erase, o, other, agent.link(), now);
    EXPECT_TRUE(r.out.empty());
    EXPECT_TRUE(agent.sent.empty());
}

TEST(git_credential_answer, store_and_unknown_actions_do_nothing) {
    canned_agent agent;
    auto cred = https_request();
    cred.password = secret(token);
    for (const auto action : {git_action::store, git_action::other}) {
        const auto r = git_credential_answer(action, {}, cred, agent.link(), now);
        EXPECT_TRUE(r.out.empty());
        EXPECT_EQ(r.err, "");
        EXPECT_EQ(r.status, 0);
    }
    EXPECT_TRUE(agent.sent.empty());
}

// avn-user token's formats.

TEST(rfc3339_utc, whole_seconds_in_utc) {
    EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(rfc3339_utc(now), "2027-01-15T08:00:00Z");
    EXPECT_EQ(rfc3339_utc(951'782'400), "2000-02-29T00:00:00Z");
}

TEST(format_exec_credential, v1_with_token_and_expiration) {
    const std::string text =
        format_exec_credential(token, now + 3600, exec_credential_api_version(std::nullopt));
    EXPECT_EQ(text,
              "{\n"
              "    \"apiVersion\": \"client.authentication.k8s.io/v1\",\n"
              "    \"kind\": \"ExecCredential\",\n"
              "    \"status\": {\n"
              "        \"expirationTimestamp\": \"2027-01-15T09:00:00Z\",\n"
              "        \"token\": \"" +
                  token +
                  "\"\n"
                  "    }\n"
                  "}\n");
}

TEST(format_exec_credential, no_expiration_for_a_lasting_token) {
    const auto v = json::parse(format_exec_credential(token, std::nullopt, "x/v1"));
    EXPECT_EQ(v, json::parse(R"({"apiVersion":"x/v1","kind":"ExecCredential","status":{"token":")" +
                             token + R"("}})"));
}

TEST(exec_credential_api_version, follows_kubernetes_exec_info) {
    EXPECT_EQ(exec_credential_api_version(std::nullopt), "client.authentication.k8s.io/v1");
    EXPECT_EQ(exec_credential_api_version(
                  R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",)"
                  R"("spec":{"interactive":false}})"),
              "client.authentication.k8s.io/v1beta1");
    EXPECT_EQ(exec_credential_api_version(R"({"apiVersion":"client.authentication.k8s.io/v2"})"),
              "client.authentication.k8s.io/v1");
    EXPECT_EQ(exec_credential_api_version("not json"), "client.authentication.k8s.io/v1");
}

TEST(read_token_result, checks_the_shape) {
    std::string why;
    auto t = read_token_result(json::parse(token_result(120)), why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->token.expose(), token);
    EXPECT_EQ(t->expires_in, 120);
    EXPECT_EQ(t->expiry_time, "2027-01-15T09:00:00.123456Z");
    EXPECT_FALSE(t->name);
    EXPECT_EQ(t->user_email, "jane@example.com");
    EXPECT_EQ(local_expiry(*t, now), now + 120);

    t = read_token_result(json::parse(R"({"token":"t","expires_in":null,"name":"ci"})"), why);
    ASSERT_TRUE(t) << why;
    EXPECT_FALSE(local_expiry(*t, now));
    EXPECT_EQ(t->name, "ci");

    for (const auto* bad : {R"([])", R"({})", R"({"token":""})", R"({"token":7})",
                            R"({"token":"t","expires_in":"soon"})",
                            R"({"token":"t","expiry_time":5})", R"({"token":"t","name":true})"}) {
        EXPECT_FALSE(read_token_result(json::parse(bad), why)) << bad;
    }
}

// A console that records output; commands here never prompt.
class recording_console final : public console {
  public:
    std::string stdout_text;
    std::string stderr_text;
    std::optional<secret> input(std::string_view) override { return std::nullopt; }
    std::optional<secret> getpass(std::string_view) override { return std::nullopt; }
    std::optional<secret> read_line() override { return std::nullopt; }
    void out(std::string_view text) override { stdout_text += text; }
    void err(std::string_view text) override { stderr_text += text; }
};

class user_token_command : public ::testing::Test {
  protected:
    recording_console con;
    canned_agent agent;
    user_env env;

    int run(const user_token_args& a) {
        user_session s{con, agent.link(), env};
        return user_token(s, a);
    }
};

TEST_F(user_token_command, bare_token_with_default_min_ttl_and_no_auth_token) {
    env.auth_token = secret("from-the-environment");
    agent.replies.push_back(ok(token_result()));
    EXPECT_EQ(run({}), exit_ok);
    EXPECT_EQ(con.stdout_text, token + "\n");
    EXPECT_EQ(con.stderr_text, "");
    EXPECT_EQ(agent.sent[0].op, "token");
    EXPECT_EQ(agent.sent[0].args, json::parse(R"({"min_ttl":60})"));
}

TEST_F(user_token_command, derived_token_arguments) {
    agent.replies.push_back(ok(token_result()));
    user_token_args a;
    a.request.name = "ci";
    a.request.min_ttl = 0;
    a.request.max_age_seconds = 7200;
    a.request.scopes = {"projects:read", "services"};
    EXPECT_EQ(run(a), exit_ok);
    EXPECT_EQ(agent.sent[0].args, json::parse(R"({"min_ttl":0,"name":"ci","max_age_seconds":7200,)"
                                              R"("scopes":["projects:read","services"]})"));
}

TEST_F(user_token_command, json_output) {
    agent.replies.push_back(
        ok(R"({"token":"tok","expiry_time":"2027-01-15T09:00:00Z","expires_in":3600,)"
           R"("name":"ci","user_email":"jane@example.com"})"));
    user_token_args a;
    a.output = token_output::json;
    EXPECT_EQ(run(a), exit_ok);
    EXPECT_EQ(con.stdout_text,
              "{\n    \"expiry_time\": \"2027-01-15T09:00:00Z\",\n    \"name\": \"ci\",\n"
              "    \"token\": \"tok\"\n}\n");
}

TEST_F(user_token_command, json_output_for_a_lasting_session_token) {
    agent.replies.push_back(ok(R"({"token":"tok","expiry_time":null,"expires_in":null,)"
                               R"("name":null,"user_email":"jane@example.com"})"));
    user_token_args a;
    a.output = token_output::json;
    EXPECT_EQ(run(a), exit_ok);
    EXPECT_EQ(con.stdout_text,
              "{\n    \"expiry_time\": null,\n    \"name\": null,\n    \"token\": \"tok\"\n}\n");
}

TEST_F(user_token_command, exec_credential_output) {
    agent.replies.push_back(ok(token_result(600)));
    user_token_args a;
    a.output = token_output::exec_credential;
    a.now_unix = now;
    a.exec_info = R"({"apiVersion":"client.authentication.k8s.io/v1beta1"})";
    EXPECT_EQ(run(a), exit_ok);
    EXPECT_EQ(json::parse(con.stdout_text),
              json::parse(R"({"apiVersion":"client.authentication.k8s.io/v1beta1",)"
                          R"("kind":"ExecCredential","status":{"token":")" +
                          token + R"(","expirationTimestamp":"2027-01-15T08:10:00Z"}})"));
}

TEST_F(user_token_command, insufficient_ttl_prints_the_agents_message) {
    agent.replies.push_back(
        error_reply("insufficient_ttl", "the token cannot be made valid for 99999 s"));
    EXPECT_EQ(run({}), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: the token cannot be made valid for 99999 s\n");
}

TEST_F(user_token_command, other_failures_as_the_other_commands) {
    agent.replies.push_back(error_reply("not_logged_in", "no session"));
    EXPECT_EQ(run({}), exit_failed);
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: UserError: not authenticated: please login first with "
              "'avn user login'\n");
    con.stderr_text.clear();
    agent.replies.push_back(no_agent());
    EXPECT_EQ(run({}), exit_no_agent);
    EXPECT_EQ(con.stderr_text.rfind("avn-user: no agent is running", 0), 0U);
}

TEST_F(user_token_command, a_result_without_a_token_is_a_failure) {
    agent.replies.push_back(ok(R"({"expiry_time":null})"));
    EXPECT_EQ(run({}), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_NE(con.stderr_text.find("unexpected reply from the agent to 'token'"),
              std::string::npos);
}

TEST(user_exec_command, no_command_is_a_usage_error_and_asks_nothing) {
    recording_console con;
    canned_agent agent;
    user_env env;
    user_session s{con, agent.link(), env};
    EXPECT_EQ(user_exec(s, {}), exit_usage);
    EXPECT_TRUE(agent.sent.empty());
}

TEST(user_exec_command, a_missing_command_exits_127_and_a_token_failure_runs_nothing) {
    // user_exec() sets SIGINT and SIGPIPE for the command it runs: keep this process's.
    struct sigaction old_int {};
    struct sigaction old_pipe {};
    ::sigaction(SIGINT, nullptr, &old_int);
    ::sigaction(SIGPIPE, nullptr, &old_pipe);
    recording_console con;
    canned_agent agent;
    user_env env;
    user_session s{con, agent.link(), env};
    user_exec_args a;
    a.command = {"/nonexistent/avn-test-command", "arg"};
    agent.replies.push_back(ok(token_result()));
    EXPECT_EQ(user_exec(s, a), exit_cmd_not_found);
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: cannot run '/nonexistent/avn-test-command': No such file or "
              "directory\n");
    con.stderr_text.clear();
    agent.replies.push_back(error_reply("not_logged_in", "no session"));
    EXPECT_EQ(user_exec(s, a), exit_failed);
    EXPECT_NE(con.stderr_text.find("not authenticated"), std::string::npos);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
}

}  // namespace
