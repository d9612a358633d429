// The `avn user` commands against a scripted console and canned agent replies: what each one
// sends (op and args), what it prompts, and what it prints for a given result. Expected output
// is what `avn user ...` prints for the same API answers (aiven-api.md §3).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "helper/exit_codes.hpp"
#include "helper/user_commands.hpp"
#include "helper/user_session.hpp"
#include "tests/unit/helper_fake_agent.hpp"

namespace {

namespace json = boost::json;
using namespace avn::helper;
using avn::platform::secret;

// Answers prompts from a script and records everything written, in order.
class scripted_console final : public console {
  public:
    std::deque<std::optional<std::string>> inputs;   // input() answers
    std::deque<std::optional<std::string>> secrets;  // getpass() answers
    std::deque<std::optional<std::string>> lines;    // read_line() answers
    std::vector<std::string> input_prompts;
    std::vector<std::string> getpass_prompts;
    std::string stdout_text;
    std::string stderr_text;

    std::optional<secret> input(std::string_view prompt) override {
        input_prompts.emplace_back(prompt);
        stdout_text += prompt;
        return next(inputs);
    }
    std::optional<secret> getpass(std::string_view prompt) override {
        getpass_prompts.emplace_back(prompt);
        return next(secrets);
    }
    std::optional<secret> read_line() override { return next(lines); }
    void out(std::string_view text) override { stdout_text += text; }
    void err(std::string_view text) override { stderr_text += text; }

  private:
    static std::optional<secret> next(std::deque<std::optional<std::string>>& q) {
        if (q.empty()) {
            ADD_FAILURE() << "unexpected prompt";
            return std::nullopt;
        }
        auto v = std::move(q.front());
        q.pop_front();
        if (!v) {
            return std::nullopt;
        }
        return secret(*v);
    }
};

using avn::helper::test_support::canned_agent;
using avn::helper::test_support::error_reply;
using avn::helper::test_support::no_reply;
using avn::helper::test_support::ok;
using avn::helper::test_support::sent_request;

class user_command : public ::testing::Test {
  protected:
    scripted_console con;
    canned_agent agent;
    user_env env;

    user_session session() { return user_session{con, agent.link(), env}; }

    json::value args(std::size_t i = 0) const { return agent.sent.at(i).args; }
    std::string op(std::size_t i = 0) const { return agent.sent.at(i).op; }
};

const char* const token_object = R"({
    "token_prefix": "ab+/cdEFgh", "description": "ci", "create_time": "2024-01-02T03:04:05.123456Z",
    "expiry_time": "2024-02-01T03:04:05.654321Z", "max_age_seconds": 2592000,
    "extend_when_used": true, "created_manually": true, "currently_active": false,
    "last_used_time": null, "last_ip": null, "last_user_agent": null,
    "last_user_agent_human_readable": null, "scopes": null,
    "full_token": "ab+/cdEFghFULL="})";

// ---------------------------------------------------------------------------------------------
// failure_line: avn's error lines

TEST(failure_line, api_error_uses_the_api_message_and_status) {
    EXPECT_EQ(failure_line("login", error_reply("api_error", "the API refused the login", 403,
                                                "Authentication failed")),
              "ERROR\tcommand failed: Error: Authentication failed (status 403)\n");
}

TEST(failure_line, api_error_without_api_message_falls_back_to_ours) {
    EXPECT_EQ(failure_line("user_info", error_reply("api_error", "API answered 502", 502)),
              "ERROR\tcommand failed: Error: API answered 502 (status 502)\n");
}

TEST(failure_line, otp_required_answered_twice_prints_as_an_api_error) {
    EXPECT_EQ(
        failure_line("login", error_reply("otp_required", "code needed", 510,
                                          "Two-factor authentication OTP required")),
        "ERROR\tcommand failed: Error: Two-factor authentication OTP required (status 510)\n");
}

TEST(failure_line, not_logged_in_is_avns_user_error) {
    EXPECT_EQ(failure_line("user_info", error_reply("not_logged_in", "no session")),
              "ERROR\tcommand failed: UserError: not authenticated: please login first with "
              "'avn user login'\n");
}

TEST(failure_line, network_trouble_names_the_kind) {
    EXPECT_EQ(failure_line("user_info", error_reply("network_error", "connect to x: refused")),
              "ERROR\tcommand failed: ConnectionError: connect to x: refused\n");
    EXPECT_EQ(failure_line("user_info", error_reply("tls_error", "handshake with x: bad cert")),
              "ERROR\tcommand failed: SSLError: handshake with x: bad cert\n");
    EXPECT_EQ(failure_line("user_info", error_reply("timeout", "x did not answer in 30 s")),
              "ERROR\tcommand failed: Timeout: x did not answer in 30 s\n");
}

TEST(failure_line, unknown_op_says_the_agent_is_older) {
    const std::string line = failure_line("login", error_reply("unknown_op", "unknown op 'login'"));
    EXPECT_EQ(line.rfind("ERROR\tcommand failed: ", 0), 0U) << line;
    EXPECT_NE(line.find("'login'"), std::string::npos) << line;
    EXPECT_NE(line.find("older"), std::string::npos) << line;
}

TEST(failure_line, other_codes_show_message_and_code) {
    EXPECT_EQ(failure_line("login", error_reply("keyring_locked", "the keyring is locked")),
              "ERROR\tcommand failed: the keyring is locked (keyring_locked)\n");
    EXPECT_EQ(failure_line("login", error_reply("brand_new_code", "something new")),
              "ERROR\tcommand failed: something new (brand_new_code)\n");
}

TEST(failure_line, no_agent_keeps_the_status_line_and_exit_3) {
    scripted_console con;
    const auto r = no_reply(call_failure::no_agent, "no agent is running on /x");
    EXPECT_EQ(report_failure(con, "user_info", r), exit_no_agent);
    EXPECT_EQ(con.stderr_text, "avn-user: no agent is running on /x\n");
}

TEST(failure_line, agent_deadline_is_a_failed_command) {
    scripted_console con;
    const auto r = no_reply(call_failure::timeout, "the agent on /x did not answer within 1 s");
    EXPECT_EQ(report_failure(con, "user_info", r), exit_failed);
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: the agent on /x did not answer within 1 s\n");
}

// ---------------------------------------------------------------------------------------------
// info

TEST_F(user_command, info_prints_the_user_as_avns_table) {
    agent.replies.push_back(ok(R"({"user":{"user":"alice@example.com","user_id":"u1",
        "real_name":"Alice","state":"active","projects":["p1","p2"],"auth":["password"],
        "token_validity_begin":"2021-08-18T09:24:10.298796+00:00","invitations":[]}})"));
    auto s = session();
    EXPECT_EQ(user_info(s, {}), exit_ok);
    EXPECT_EQ(op(), "user_info");
    EXPECT_EQ(args(), json::parse("{}"));
    EXPECT_EQ(con.stdout_text,
              "USER               REAL_NAME  STATE   TOKEN_VALIDITY_BEGIN              "
              "PROJECTS  AUTH    \n"
              "=================  =========  ======  ================================  "
              "========  ========\n"
              "alice@example.com  Alice      active  2021-08-18T09:24:10.298796+00:00  "
              "p1, p2    password\n");
    EXPECT_EQ(con.stderr_text, "");
}

TEST_F(user_command, info_json_is_a_one_element_array_of_the_user) {
    agent.replies.push_back(ok(R"({"user":{"user":"a@b.c","state":"active"}})"));
    auto s = session();
    EXPECT_EQ(user_info(s, {.json = true}), exit_ok);
    EXPECT_EQ(con.stdout_text,
              "[\n    {\n        \"state\": \"active\",\n        \"user\": \"a@b.c\"\n    }\n]\n");
}

TEST_F(user_command, info_sends_aiven_auth_token_as_auth_token) {
    env.auth_token = secret("tok+/=");
    agent.replies.push_back(ok(R"({"user":{"user":"a@b.c"}})"));
    auto s = session();
    EXPECT_EQ(user_info(s, {}), exit_ok);
    EXPECT_EQ(args(), json::parse(R"({"auth_token":"tok+/="})"));
}

TEST_F(user_command, info_not_logged_in) {
    agent.replies.push_back(error_reply("not_logged_in", "no session"));
    auto s = session();
    EXPECT_EQ(user_info(s, {}), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: UserError: not authenticated: please login first with "
              "'avn user login'\n");
}

TEST_F(user_command, info_result_without_user_is_reported) {
    agent.replies.push_back(ok(R"({"nope":1})"));
    auto s = session();
    EXPECT_EQ(user_info(s, {}), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_NE(con.stderr_text.find("unexpected reply from the agent"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// login

TEST_F(user_command, login_prompts_for_email_and_password_like_avn) {
    con.inputs.push_back("alice@example.com");
    con.secrets.push_back("s3cret pw");
    agent.replies.push_back(ok(R"({"user_email":"alice@example.com"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {}), exit_ok);
    EXPECT_EQ(con.input_prompts, std::vector<std::string>{"Username (email): "});
    EXPECT_EQ(con.getpass_prompts,
              std::vector<std::string>{"alice@example.com's Aiven password: "});
    EXPECT_EQ(op(), "login");
    EXPECT_EQ(args(), json::parse(R"({"email":"alice@example.com","password":"s3cret pw"})"));
    EXPECT_EQ(con.stdout_text, "Username (email): ");
    EXPECT_EQ(con.stderr_text, "INFO\tAiven credentials stored in avn-agent\n");
}

TEST_F(user_command, login_with_email_and_tenant) {
    con.secrets.push_back("pw");
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .tenant = "acme"}), exit_ok);
    EXPECT_TRUE(con.input_prompts.empty());
    EXPECT_EQ(args(), json::parse(R"({"email":"a@b.c","password":"pw","tenant":"acme"})"));
    EXPECT_EQ(con.stdout_text, "");
}

TEST_F(user_command, login_aiven_password_replaces_the_prompt) {
    env.password = secret("from env");
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c"}), exit_ok);
    EXPECT_TRUE(con.getpass_prompts.empty());
    EXPECT_EQ(args().at("password"), "from env");
}

TEST_F(user_command, login_password_stdin_wins_over_the_variable) {
    env.password = secret("from env");
    con.lines.push_back("from stdin");
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .password_stdin = true}), exit_ok);
    EXPECT_TRUE(con.getpass_prompts.empty());
    EXPECT_EQ(args().at("password"), "from stdin");
}

TEST_F(user_command, login_password_stdin_needs_a_line) {
    con.lines.push_back(std::nullopt);
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .password_stdin = true}), exit_failed);
    EXPECT_TRUE(agent.sent.empty());
    EXPECT_EQ(con.stderr_text.rfind("ERROR\tcommand failed: UserError: --password-stdin", 0), 0U)
        << con.stderr_text;
}

TEST_F(user_command, login_two_factor_asks_for_the_code_on_stdout_and_resends) {
    con.secrets.push_back("pw");
    con.inputs.push_back("123456");
    agent.replies.push_back(
        error_reply("otp_required", "code needed", 510, "Two-factor authentication OTP required"));
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .tenant = "t"}), exit_ok);
    ASSERT_EQ(agent.sent.size(), 2U);
    EXPECT_EQ(args(0), json::parse(R"({"email":"a@b.c","password":"pw","tenant":"t"})"));
    EXPECT_EQ(op(1), "login");
    EXPECT_EQ(args(1),
              json::parse(R"({"email":"a@b.c","password":"pw","tenant":"t","otp":"123456"})"));
    EXPECT_EQ(con.stdout_text, "Two-factor authentication OTP: ");
    EXPECT_EQ(con.stderr_text, "INFO\tAiven credentials stored in avn-agent\n");
}

TEST_F(user_command, login_wrong_code) {
    con.secrets.push_back("pw");
    con.inputs.push_back("000000");
    agent.replies.push_back(error_reply("otp_required", "code needed", 510, "OTP required"));
    agent.replies.push_back(error_reply("api_error", "refused", 403, "Authentication failed"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c"}), exit_failed);
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: Error: Authentication failed (status 403)\n");
}

TEST_F(user_command, login_end_of_input_at_the_email_prompt) {
    con.inputs.push_back(std::nullopt);
    auto s = session();
    EXPECT_EQ(user_login(s, {}), exit_failed);
    EXPECT_TRUE(agent.sent.empty());
    EXPECT_EQ(con.stderr_text.rfind("ERROR\tcommand failed: EOFError", 0), 0U);
}

TEST_F(user_command, login_token_prompts_for_the_token_and_sends_login_token) {
    con.secrets.push_back("tok+/=");
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .token = true}), exit_ok);
    EXPECT_EQ(con.getpass_prompts, std::vector<std::string>{"a@b.c's Aiven access token: "});
    EXPECT_EQ(op(), "login_token");
    EXPECT_EQ(args(), json::parse(R"({"token":"tok+/=","email":"a@b.c"})"));
    EXPECT_EQ(con.stderr_text, "INFO\tAiven credentials stored in avn-agent\n");
}

TEST_F(user_command, login_token_from_aiven_auth_token_and_no_email) {
    env.auth_token = secret("tok");
    con.inputs.push_back("");
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.token = true}), exit_ok);
    EXPECT_EQ(con.input_prompts, std::vector<std::string>{"Username (email): "});
    EXPECT_TRUE(con.getpass_prompts.empty());
    EXPECT_EQ(args(), json::parse(R"({"token":"tok"})"));
}

TEST_F(user_command, login_token_from_stdin) {
    env.auth_token = secret("from env");
    con.lines.push_back("from stdin");
    agent.replies.push_back(ok(R"({"user_email":"a@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .token = true, .password_stdin = true}), exit_ok);
    EXPECT_EQ(args().at("token"), "from stdin");
}

TEST_F(user_command, login_token_rejected) {
    con.secrets.push_back("bad");
    agent.replies.push_back(error_reply("api_error", "refused", 401, "Invalid token"));
    auto s = session();
    EXPECT_EQ(user_login(s, {.email = "a@b.c", .token = true}), exit_failed);
    EXPECT_EQ(con.stderr_text, "ERROR\tcommand failed: Error: Invalid token (status 401)\n");
}

// ---------------------------------------------------------------------------------------------
// logout

TEST_F(user_command, logout_revokes_by_default_and_prints_nothing) {
    agent.replies.push_back(ok(R"({"revoked":true})"));
    auto s = session();
    EXPECT_EQ(user_logout(s, {}), exit_ok);
    EXPECT_EQ(op(), "logout");
    EXPECT_EQ(args(), json::parse(R"({"revoke":true})"));
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text, "");
}

TEST_F(user_command, logout_no_token_revoke) {
    agent.replies.push_back(ok(R"({"revoked":false,"reason":"not asked to revoke"})"));
    auto s = session();
    EXPECT_EQ(user_logout(s, {.no_token_revoke = true}), exit_ok);
    EXPECT_EQ(args(), json::parse(R"({"revoke":false})"));
    EXPECT_EQ(con.stderr_text, "");
}

TEST_F(user_command, logout_of_a_dead_token_says_so) {
    agent.replies.push_back(ok(R"({"revoked":false,"reason":"the token had expired"})"));
    auto s = session();
    EXPECT_EQ(user_logout(s, {}), exit_ok);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text,
              "INFO\tLogged out; the token was not revoked: the token had expired\n");
}

TEST_F(user_command, logout_carries_aiven_auth_token) {
    env.auth_token = secret("tok");
    agent.replies.push_back(ok(R"({"revoked":true})"));
    auto s = session();
    EXPECT_EQ(user_logout(s, {}), exit_ok);
    EXPECT_EQ(args(), json::parse(R"({"auth_token":"tok","revoke":true})"));
}

// ---------------------------------------------------------------------------------------------
// tokens-expire

TEST_F(user_command, tokens_expire_prints_the_message) {
    agent.replies.push_back(ok(R"({"message":"All tokens expired","session_cleared":true})"));
    auto s = session();
    EXPECT_EQ(user_tokens_expire(s), exit_ok);
    EXPECT_EQ(op(), "tokens_expire");
    EXPECT_EQ(con.stdout_text, "All tokens expired\n");
    EXPECT_EQ(con.stderr_text.rfind("INFO\t", 0), 0U);
}

TEST_F(user_command, tokens_expire_server_error) {
    agent.replies.push_back(error_reply("api_error", "x", 500, "Internal Server Error"));
    auto s = session();
    EXPECT_EQ(user_tokens_expire(s), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: Error: Internal Server Error (status 500)\n");
}

// ---------------------------------------------------------------------------------------------
// password-change

TEST_F(user_command, password_change_prompts_three_times) {
    agent.replies.push_back(ok(R"({"agent":{},"session":{"logged_in":true}})"));
    con.secrets.push_back("old pw");
    con.secrets.push_back("new password");
    con.secrets.push_back("new password");
    agent.replies.push_back(ok(R"({"session_kept":true})"));
    auto s = session();
    EXPECT_EQ(user_password_change(s), exit_ok);
    EXPECT_EQ(con.getpass_prompts, (std::vector<std::string>{"Current password: ", "New password: ",
                                                             "Confirm password again: "}));
    EXPECT_EQ(op(0), "status");
    EXPECT_EQ(op(1), "password_change");
    EXPECT_EQ(args(1), json::parse(R"({"password":"old pw","new_password":"new password"})"));
    EXPECT_EQ(con.stdout_text,
              "Password changed. Next, use 'avn user login' to log in again using your new "
              "password.\n");
}

TEST_F(user_command, password_change_mismatch_sends_nothing) {
    agent.replies.push_back(ok(R"({"agent":{}})"));
    con.secrets.push_back("old");
    con.secrets.push_back("one");
    con.secrets.push_back("two");
    auto s = session();
    EXPECT_EQ(user_password_change(s), exit_failed);
    ASSERT_EQ(agent.sent.size(), 1U);
    EXPECT_EQ(op(), "status");
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text, "ERROR\tcommand failed: UserError: Passwords do not match\n");
}

TEST_F(user_command, password_change_new_password_from_the_variable) {
    env.new_password = secret("new password");
    env.password = secret("ignored here, as in avn");
    con.secrets.push_back("old");
    agent.replies.push_back(ok(R"({"agent":{},"session":{"logged_in":true}})"));
    agent.replies.push_back(ok(R"({"session_kept":true})"));
    auto s = session();
    EXPECT_EQ(user_password_change(s), exit_ok);
    EXPECT_EQ(con.getpass_prompts, std::vector<std::string>{"Current password: "});
    EXPECT_EQ(args(1), json::parse(R"({"password":"old","new_password":"new password"})"));
}

TEST_F(user_command, password_change_refuses_before_prompting_when_logged_out) {
    agent.replies.push_back(ok(R"({"agent":{},"session":{"logged_in":false}})"));
    auto s = session();
    EXPECT_EQ(user_password_change(s), exit_failed);
    EXPECT_TRUE(con.getpass_prompts.empty());
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: UserError: not authenticated: please login first with "
              "'avn user login'\n");
}

TEST_F(user_command, password_change_with_aiven_auth_token_skips_the_check) {
    env.auth_token = secret("tok");
    env.new_password = secret("new password");
    con.secrets.push_back("old");
    agent.replies.push_back(ok(R"({"session_kept":false})"));
    auto s = session();
    EXPECT_EQ(user_password_change(s), exit_ok);
    ASSERT_EQ(agent.sent.size(), 1U);
    EXPECT_EQ(
        args(),
        json::parse(R"({"auth_token":"tok","password":"old","new_password":"new password"})"));
    EXPECT_EQ(con.stderr_text, "");
}

// ---------------------------------------------------------------------------------------------
// create

TEST_F(user_command, create_prompts_twice_and_sends_user_create) {
    con.secrets.push_back("long password");
    con.secrets.push_back("long password");
    agent.replies.push_back(ok(R"({"user_email":"n@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_create(s, {.email = "n@b.c", .real_name = "New User"}), exit_ok);
    EXPECT_EQ(con.getpass_prompts, (std::vector<std::string>{"New aiven.io password for n@b.c: ",
                                                             "Confirm password again: "}));
    EXPECT_EQ(op(), "user_create");
    EXPECT_EQ(
        args(),
        json::parse(R"({"email":"n@b.c","real_name":"New User","password":"long password"})"));
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text, "INFO\tAiven credentials stored in avn-agent\n");
}

TEST_F(user_command, create_never_sends_aiven_auth_token) {
    env.auth_token = secret("tok");
    env.new_password = secret("long password");
    agent.replies.push_back(ok(R"({"user_email":"n@b.c"})"));
    auto s = session();
    EXPECT_EQ(user_create(s, {.email = "n@b.c", .real_name = "N"}), exit_ok);
    EXPECT_TRUE(con.getpass_prompts.empty());
    EXPECT_FALSE(args().as_object().contains("auth_token"));
}

TEST_F(user_command, create_mismatch) {
    con.secrets.push_back("a");
    con.secrets.push_back("b");
    auto s = session();
    EXPECT_EQ(user_create(s, {.email = "n@b.c", .real_name = "N"}), exit_failed);
    EXPECT_TRUE(agent.sent.empty());
    EXPECT_EQ(con.stderr_text, "ERROR\tcommand failed: UserError: Passwords do not match\n");
}

// ---------------------------------------------------------------------------------------------
// access-token

TEST_F(user_command, access_token_create_maps_every_option) {
    agent.replies.push_back(ok(token_object));
    auto s = session();
    access_token_create_args a;
    a.description = "ci";
    a.max_age_seconds = 2592000;
    a.extend_when_used = true;
    a.scopes = {"user:read", "projects"};
    EXPECT_EQ(access_token_create(s, a), exit_ok);
    EXPECT_EQ(op(), "access_token_create");
    EXPECT_EQ(args(), json::parse(R"({"description":"ci","extend_when_used":true,
        "max_age_seconds":2592000,"scopes":["user:read","projects"]})"));
    EXPECT_EQ(
        con.stdout_text,
        "EXPIRY_TIME           DESCRIPTION  MAX_AGE_SECONDS  EXTEND_WHEN_USED  FULL_TOKEN     "
        "\n"
        "====================  ===========  ===============  ================  "
        "===============\n"
        "2024-02-01T03:04:05Z  ci           2592000          true              "
        "ab+/cdEFghFULL=\n");
}

TEST_F(user_command, access_token_create_minimal_sends_no_max_age_and_no_scopes) {
    agent.replies.push_back(ok(token_object));
    auto s = session();
    EXPECT_EQ(access_token_create(s, {.description = "d"}), exit_ok);
    EXPECT_EQ(args(), json::parse(R"({"description":"d","extend_when_used":false})"));
}

TEST_F(user_command, access_token_create_json_is_a_one_element_array) {
    agent.replies.push_back(ok(R"({"full_token":"F","max_age_seconds":3600.0,"scopes":null})"));
    auto s = session();
    EXPECT_EQ(access_token_create(s, {.description = "d", .json = true}), exit_ok);
    EXPECT_EQ(con.stdout_text,
              "[\n    {\n        \"full_token\": \"F\",\n        \"max_age_seconds\": 3600.0,\n"
              "        \"scopes\": null\n    }\n]\n");
}

TEST_F(user_command, access_token_create_limit_reached) {
    agent.replies.push_back(
        error_reply("api_error", "x", 400, "Maximum number of access tokens reached"));
    auto s = session();
    EXPECT_EQ(access_token_create(s, {.description = "d"}), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(
        con.stderr_text,
        "ERROR\tcommand failed: Error: Maximum number of access tokens reached (status 400)\n");
}

TEST_F(user_command, access_token_list_prints_the_tokens) {
    agent.replies.push_back(ok(R"({"tokens":[
        {"token_prefix":"AAAA+/aaaa","description":null,"expiry_time":null,"max_age_seconds":null,
         "extend_when_used":false,"last_used_time":"2024-01-02T03:04:05.000001Z",
         "last_ip":"127.0.0.1","last_user_agent":"avn-agent/0.1.0"},
        {"token_prefix":"BBBB/+bbbb","description":"caf\u00e9","expiry_time":"2024-02-01T00:00:00Z",
         "max_age_seconds":3600.0,"extend_when_used":true,"last_used_time":null,
         "last_ip":null,"last_user_agent":null}]})"));
    auto s = session();
    EXPECT_EQ(access_token_list(s, {}), exit_ok);
    EXPECT_EQ(op(), "access_token_list");
    EXPECT_EQ(con.stdout_text,
              "EXPIRY_TIME           TOKEN_PREFIX  DESCRIPTION  MAX_AGE_SECONDS  "
              "EXTEND_WHEN_USED  LAST_USED_TIME        LAST_IP    LAST_USER_AGENT\n"
              "====================  ============  ===========  ===============  "
              "================  ====================  =========  ===============\n"
              "null                  AAAA+/aaaa    null         null             false          "
              "   2024-01-02T03:04:05Z  127.0.0.1  avn-agent/0.1.0\n"
              "2024-02-01T00:00:00Z  BBBB/+bbbb    \"caf\\u00e9\"  3600.0           true           "
              "   null                  null       null\n");
}

TEST_F(user_command, access_token_list_empty_prints_nothing_and_json_prints_brackets) {
    agent.replies.push_back(ok(R"({"tokens":[]})"));
    agent.replies.push_back(ok(R"({"tokens":[]})"));
    auto s = session();
    EXPECT_EQ(access_token_list(s, {}), exit_ok);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(access_token_list(s, {.json = true}), exit_ok);
    EXPECT_EQ(con.stdout_text, "[]\n");
}

TEST_F(user_command, access_token_update_maps_and_prints_one_row) {
    agent.replies.push_back(ok(token_object));
    auto s = session();
    EXPECT_EQ(access_token_update(s, {.token_prefix = "ab+/cdEFgh", .description = "new"}),
              exit_ok);
    EXPECT_EQ(op(), "access_token_update");
    EXPECT_EQ(args(), json::parse(R"({"token_prefix":"ab+/cdEFgh","description":"new"})"));
    EXPECT_EQ(con.stdout_text,
              "EXPIRY_TIME           TOKEN_PREFIX  DESCRIPTION  MAX_AGE_SECONDS  "
              "EXTEND_WHEN_USED  LAST_USED_TIME  LAST_IP  LAST_USER_AGENT\n"
              "====================  ============  ===========  ===============  "
              "================  ==============  =======  ===============\n"
              "2024-02-01T03:04:05Z  ab+/cdEFgh    ci           2592000          true         "
              "     null            null     null\n");
}

TEST_F(user_command, access_token_update_json) {
    agent.replies.push_back(ok(R"({"token_prefix":"P"})"));
    auto s = session();
    EXPECT_EQ(access_token_update(s, {.token_prefix = "P", .description = "d", .json = true}),
              exit_ok);
    EXPECT_EQ(con.stdout_text, "[\n    {\n        \"token_prefix\": \"P\"\n    }\n]\n");
}

TEST_F(user_command, access_token_revoke_prints_revoked) {
    env.auth_token = secret("tok");
    agent.replies.push_back(ok(R"({"message":"Access token revoked"})"));
    auto s = session();
    EXPECT_EQ(access_token_revoke(s, {.token_prefix = "ab+/cdEFgh"}), exit_ok);
    EXPECT_EQ(op(), "access_token_revoke");
    EXPECT_EQ(args(), json::parse(R"({"auth_token":"tok","token_prefix":"ab+/cdEFgh"})"));
    EXPECT_EQ(con.stdout_text, "Revoked\n");
    EXPECT_EQ(con.stderr_text, "");
}

TEST_F(user_command, access_token_revoke_unknown) {
    agent.replies.push_back(error_reply("api_error", "x", 404, "Access token not found"));
    auto s = session();
    EXPECT_EQ(access_token_revoke(s, {.token_prefix = "nope"}), exit_failed);
    EXPECT_EQ(con.stdout_text, "");
    EXPECT_EQ(con.stderr_text,
              "ERROR\tcommand failed: Error: Access token not found (status 404)\n");
}

TEST_F(user_command, access_token_revoke_of_the_session_token_says_so) {
    agent.replies.push_back(ok(R"({"message":"Access token revoked","session_cleared":true})"));
    auto s = session();
    EXPECT_EQ(access_token_revoke(s, {.token_prefix = "x"}), exit_ok);
    EXPECT_EQ(con.stdout_text, "Revoked\n");
    EXPECT_EQ(con.stderr_text.rfind("INFO\t", 0), 0U);
}

}  // namespace
