// avn-user: the command line. Parsing only; each command lives in its own
// file and is declared in commands.hpp or user_commands.hpp.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <ctime>

#include "avn/version.hpp"
#include "helper/commands.hpp"
#include "helper/exit_codes.hpp"
#include "helper/terminal.hpp"
#include "helper/user_commands.hpp"

int main(int argc, char** argv) {
    using namespace avn::helper;
    context ctx;
    CLI::App app{"avn-user: the `avn user` commands, served by avn-agent"};
    app.set_version_flag("-V,--version", std::string("avn-user ") + avn::version_string);
    app.require_subcommand(1);
    double timeout_s = 10;
    std::string socket;
    app.add_option("--socket", socket,
                   "the agent's socket (default: $AVN_AGENT_SOCK, else "
                   "$XDG_RUNTIME_DIR/avn-agent/agent.sock)");
    auto* timeout_opt =
        app.add_option("--timeout", timeout_s,
                       "seconds to wait for the agent (default: 10, and 120 for commands that "
                       "call the Aiven API)")
            ->check(CLI::Range(0.001, 86400.0));

    status_args status;
    auto* st = app.add_subcommand("status", "show the agent's state");
    st->add_flag("--json", status.json, "print JSON");

    user_info_args info;
    auto* info_cmd = app.add_subcommand("info", "Show current user info");
    info_cmd->add_flag("--json", info.json, "Raw json output");

    user_login_args login;
    std::string tenant;
    auto* login_cmd = app.add_subcommand("login", "Login as a user");
    auto* email_opt = login_cmd->add_option("email", login.email, "User email address");
    auto* tenant_opt = login_cmd->add_option("--tenant", tenant, "Login under a different tenant");
    login_cmd->add_flag("--token", login.token, "Provide an access token instead of password");
    login_cmd
        ->add_flag("--password-stdin", login.password_stdin,
                   "Read the password (with --token: the token) from the first line of stdin")
        ->needs(email_opt);

    user_import_args import_args;
    auto* import_cmd =
        app.add_subcommand("import", "Move avn's plain-text aiven-credentials.json into the agent");
    import_cmd->add_option("--file", import_args.file,
                           "the credentials file (default: as avn finds it)");
    import_cmd->add_flag("--remove-file", import_args.remove_file,
                         "delete the plain-text file once the agent holds the session");

    user_logout_args logout;
    auto* logout_cmd = app.add_subcommand("logout", "Logout from current session");
    logout_cmd->add_flag("--no-token-revoke", logout.no_token_revoke, "Do not revoke token");

    auto* expire_cmd = app.add_subcommand("tokens-expire", "Expire all authorization tokens");
    auto* password_cmd = app.add_subcommand("password-change",
                                            "Change the password of the currently logged in user");

    user_create_args create;
    auto* create_cmd = app.add_subcommand("create", "Create a user");
    create_cmd->add_option("email", create.email, "User email address")->required();
    create_cmd->add_option("--real-name", create.real_name, "User real name")->required();

    auto* tokens_cmd = app.add_subcommand("access-token", "User access-token commands");
    tokens_cmd->require_subcommand(1);

    access_token_create_args token_create;
    std::int64_t max_age_seconds = 0;
    auto* token_create_cmd = tokens_cmd->add_subcommand("create", "Creates new access token");
    token_create_cmd
        ->add_option("--description", token_create.description,
                     "Description of how the token will be used")
        ->required();
    auto* max_age_opt = token_create_cmd->add_option("--max-age-seconds", max_age_seconds,
                                                     "Maximum age of the token, if any");
    token_create_cmd->add_flag(
        "--extend-when-used", token_create.extend_when_used,
        "Extend token's expiry time when used (only applicable if token is set to expire)");
    token_create_cmd->add_option("--scope", token_create.scopes,
                                 "Limit the token to these scopes (repeatable)");
    token_create_cmd->add_flag("--json", token_create.json, "Raw json output");

    access_token_list_args token_list;
    auto* token_list_cmd = tokens_cmd->add_subcommand("list", "List all of your access tokens");
    token_list_cmd->add_flag("--json", token_list.json, "Raw json output");

    access_token_update_args token_update;
    auto* token_update_cmd =
        tokens_cmd->add_subcommand("update", "Updates an existing access token");
    token_update_cmd
        ->add_option("token_prefix", token_update.token_prefix,
                     "The full token or token prefix identifying the token to update")
        ->required();
    token_update_cmd
        ->add_option("--description", token_update.description,
                     "Description of how the token will be used")
        ->required();
    token_update_cmd->add_flag("--json", token_update.json, "Raw json output");

    access_token_revoke_args token_revoke;
    auto* token_revoke_cmd = tokens_cmd->add_subcommand("revoke", "Revokes an access token");
    token_revoke_cmd
        ->add_option("token_prefix", token_revoke.token_prefix,
                     "The full token or token prefix identifying the token to revoke")
        ->required();

    user_token_args token;
    std::string token_name;
    std::int64_t token_max_age = 0;
    auto* token_cmd =
        app.add_subcommand("token", "Print a token valid for at least --min-ttl seconds");
    auto* token_name_opt = token_cmd->add_option(
        "--name", token_name,
        "a derived access token of this name (created on first use) instead of the session's");
    token_cmd
        ->add_option("--min-ttl", token.request.min_ttl,
                     "seconds the token stays valid at least (default: 60)")
        ->check(CLI::NonNegativeNumber);
    auto* token_max_age_opt =
        token_cmd
            ->add_option("--max-age", token_max_age,
                         "a derived token's maximum age in seconds (default: 3600)")
            ->needs(token_name_opt);
    token_cmd
        ->add_option("--scope", token.request.scopes,
                     "limit a derived token to these scopes (repeatable)")
        ->needs(token_name_opt);
    bool token_json = false;
    bool token_exec_credential = false;
    auto* token_json_flag = token_cmd->add_flag(
        "--json", token_json, "print {\"expiry_time\", \"name\", \"token\"} as JSON");
    token_cmd
        ->add_flag("--exec-credential", token_exec_credential,
                   "print a Kubernetes ExecCredential (for a kubeconfig's exec plugin)")
        ->excludes(token_json_flag);

    user_exec_args exec;
    std::string exec_name;
    auto* exec_cmd = app.add_subcommand(
        "exec", "Run CMD with a fresh token in AIVEN_AUTH_TOKEN and AIVEN_TOKEN");
    auto* exec_name_opt =
        exec_cmd->add_option("--name", exec_name, "a derived access token of this name");
    exec_cmd
        ->add_option("--min-ttl", exec.request.min_ttl,
                     "seconds the token stays valid at least (default: 60)")
        ->check(CLI::NonNegativeNumber);
    exec_cmd->add_option("command", exec.command, "CMD [ARGS...], after --")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    if (!socket.empty()) {
        ::setenv("AVN_AGENT_SOCK", socket.c_str(), 1);
        ctx.location = avn::platform::default_socket_location();
    }
    ctx.timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
    if (timeout_opt->count() > 0) {
        ctx.api_timeout = ctx.timeout;
    }
    if (tenant_opt->count() > 0) {
        login.tenant = tenant;
    }
    if (max_age_opt->count() > 0) {
        token_create.max_age_seconds = max_age_seconds;
    }
    if (token_name_opt->count() > 0) {
        token.request.name = token_name;
    }
    if (token_max_age_opt->count() > 0) {
        token.request.max_age_seconds = token_max_age;
    }
    token.output = token_exec_credential ? token_output::exec_credential
                   : token_json          ? token_output::json
                                         : token_output::bare;
    if (token.output == token_output::exec_credential) {
        if (const char* exec_info = std::getenv("KUBERNETES_EXEC_INFO")) {
            token.exec_info = exec_info;
        }
        token.now_unix = std::time(nullptr);
    }
    if (exec_name_opt->count() > 0) {
        exec.request.name = exec_name;
    }
    // run_with_terminal() installs its own SIGINT and SIGPIPE actions; CMD gets the original ones.
    struct sigaction inherited {};
    exec.sigint_ignored =
        ::sigaction(SIGINT, nullptr, &inherited) == 0 && inherited.sa_handler == SIG_IGN;
    exec.sigpipe_ignored =
        ::sigaction(SIGPIPE, nullptr, &inherited) == 0 && inherited.sa_handler == SIG_IGN;

    const auto run = [&ctx](auto&& command) { return run_with_terminal(ctx, command); };
    if (st->parsed()) {
        return cmd_status(ctx, status);
    }
    if (info_cmd->parsed()) {
        return run([&](user_session& s) { return user_info(s, info); });
    }
    if (login_cmd->parsed()) {
        return run([&](user_session& s) { return user_login(s, login); });
    }
    if (import_cmd->parsed()) {
        return run([&](user_session& s) { return user_import(s, import_args); });
    }
    if (logout_cmd->parsed()) {
        return run([&](user_session& s) { return user_logout(s, logout); });
    }
    if (expire_cmd->parsed()) {
        return run([](user_session& s) { return user_tokens_expire(s); });
    }
    if (password_cmd->parsed()) {
        return run([](user_session& s) { return user_password_change(s); });
    }
    if (create_cmd->parsed()) {
        return run([&](user_session& s) { return user_create(s, create); });
    }
    if (token_create_cmd->parsed()) {
        return run([&](user_session& s) { return access_token_create(s, token_create); });
    }
    if (token_list_cmd->parsed()) {
        return run([&](user_session& s) { return access_token_list(s, token_list); });
    }
    if (token_update_cmd->parsed()) {
        return run([&](user_session& s) { return access_token_update(s, token_update); });
    }
    if (token_revoke_cmd->parsed()) {
        return run([&](user_session& s) { return access_token_revoke(s, token_revoke); });
    }
    if (token_cmd->parsed()) {
        return run([&](user_session& s) { return user_token(s, token); });
    }
    if (exec_cmd->parsed()) {
        return run([&](user_session& s) { return user_exec(s, exec); });
    }
    return exit_usage;
}
