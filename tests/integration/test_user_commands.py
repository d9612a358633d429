"""The `avn user` commands through avn-user and the agent against the local Aiven
fake: stdout byte for byte (expected tables and JSON computed here from the fake's
own data), prompts without a terminal, stderr lines and exit statuses."""

import re

from harness import (AVN_INFO_COLUMNS, AVN_TOKEN_CREATE_COLUMNS, AVN_TOKEN_LIST_COLUMNS,
                     NOT_LOGGED_IN, STORED, UserCase, api_token_view, avn_json, avn_table)


class Info(UserCase):
    def test_not_logged_in(self):
        self.assertNotLoggedIn()

    def test_table(self):
        self.login()
        user = self.fake.user(self.ALICE)
        expected = avn_table([user], AVN_INFO_COLUMNS)
        self.assertIn("alice@example.com  Alice Example  active", expected)
        self.assertIn("alpha, beta", expected)
        self.assertResult(self.user("info"), 0, expected, "")

    def test_json_is_a_one_element_array_of_the_user(self):
        self.login()
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.ALICE)]),
                          "")

    def test_aiven_auth_token_overrides_the_session(self):
        self.login(self.ALICE)
        bobs = self.fake.create_token(self.BOB, description="bob's")
        r = self.user("info", "--json", env={"AIVEN_AUTH_TOKEN": bobs})
        self.assertResult(r, 0, avn_json([self.fake.user(self.BOB)]), "")
        self.assertEqual(self.fake.requests()[-1]["token_prefix"], bobs[:10])
        # The session itself is untouched.
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.ALICE)]))

    def test_aiven_auth_token_works_without_a_session(self):
        token = self.fake.create_token(self.BOB)
        r = self.user("info", env={"AIVEN_AUTH_TOKEN": token})
        self.assertResult(r, 0, avn_table([self.fake.user(self.BOB)], AVN_INFO_COLUMNS), "")

    def test_usage_error_exits_2(self):
        self.assertEqual(self.user("info", "--bogus").returncode, 2)


class Login(UserCase):
    def test_prompts_without_a_terminal(self):
        # input() writes its prompt to stdout; getpass without a terminal writes its prompt
        # to stderr and reads stdin, then ends the prompt's line.
        r = self.user("login", input=f"{self.ALICE}\n{self.PASSWORD}\n")
        self.assertResult(r, 0, "Username (email): ",
                          f"{self.ALICE}'s Aiven password: \n" + STORED)
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.ALICE)]))

    def test_email_argument_and_aiven_password(self):
        r = self.user("login", self.ALICE, env={"AIVEN_PASSWORD": self.PASSWORD})
        self.assertResult(r, 0, "", STORED)
        login = [e for e in self.fake.requests() if e["path"] == "/v1/userauth"]
        self.assertEqual(login[0]["body"], {"email": self.ALICE, "password": self.PASSWORD})

    def test_empty_aiven_password_still_prompts(self):
        r = self.user("login", self.ALICE, input=self.PASSWORD + "\n", env={"AIVEN_PASSWORD": ""})
        self.assertResult(r, 0, "", f"{self.ALICE}'s Aiven password: \n" + STORED)

    def test_password_stdin(self):
        r = self.user("login", self.ALICE, "--password-stdin", input=self.PASSWORD + "\n",
                      env={"AIVEN_PASSWORD": "not this one"})
        self.assertResult(r, 0, "", STORED)
        self.assertLoggedInAs(self.ALICE)

    def test_password_stdin_without_a_line_end_is_refused_at_64_kib(self):
        # A stream with no line end (a binary file, /dev/zero) must not grow memory without end.
        r = self.user("login", self.ALICE, "--password-stdin", input="x" * (1 << 20))
        self.assertResult(r, 1, "", "avn-user: the line read is longer than 64 KiB; not used\n"
                          "ERROR\tcommand failed: UserError: --password-stdin: no password on "
                          "the first line of stdin\n")
        self.assertFalse([e for e in self.fake.requests() if e["path"] == "/v1/userauth"])

    def test_password_stdin_accepts_crlf_and_no_newline(self):
        for text in (self.PASSWORD + "\r\n", self.PASSWORD):
            self.assertResult(self.user("login", self.ALICE, "--password-stdin", input=text), 0,
                              "", STORED)

    def test_password_stdin_with_nothing_on_stdin(self):
        r = self.user("login", self.ALICE, "--password-stdin", input="")
        self.assertResult(r, 1, "")
        self.assertTrue(r.stderr.startswith("ERROR\tcommand failed: UserError: --password-stdin"),
                        r.stderr)
        self.assertEqual(self.fake.requests(), [])

    def test_password_stdin_needs_the_email_argument(self):
        self.assertResult(self.user("login", "--password-stdin", input="x\n"), 2, "")

    def test_wrong_password(self):
        r = self.user("login", self.ALICE, "--password-stdin", input="wrong horse\n")
        self.secrets.append("wrong horse")
        self.assertResult(r, 1, "",
                          "ERROR\tcommand failed: Error: Authentication failed (status 403)\n")
        self.assertNotLoggedIn()

    def test_unknown_user(self):
        r = self.user("login", "nobody@example.com", "--password-stdin", input="whatever\n")
        self.assertResult(r, 1, "",
                          "ERROR\tcommand failed: Error: Authentication failed (status 403)\n")

    def test_end_of_input_at_the_email_prompt(self):
        r = self.user("login", input="")
        self.assertResult(r, 1, "Username (email): ",
                          "ERROR\tcommand failed: EOFError: end of input at the prompt\n")

    def test_tenant_is_sent(self):
        r = self.user("login", self.ALICE, "--tenant", "acme", env={"AIVEN_PASSWORD": self.PASSWORD})
        self.assertResult(r, 0, "", STORED)
        login = [e for e in self.fake.requests() if e["path"] == "/v1/userauth"]
        self.assertEqual(login[0]["body"]["tenant"], "acme")

    def test_login_replaces_the_previous_session(self):
        self.login(self.ALICE)
        self.login(self.BOB)
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.BOB)]))


class TwoFactor(UserCase):
    def setUp(self):
        super().setUp()
        self.fake.add_user("carol@example.com", self.PASSWORD, otp=self.OTP, real_name="Carol")

    def test_code_is_asked_on_stdout_and_the_login_repeated(self):
        r = self.user("login", "carol@example.com", input=f"{self.PASSWORD}\n{self.OTP}\n")
        self.assertResult(r, 0, "Two-factor authentication OTP: ",
                          "carol@example.com's Aiven password: \n" + STORED)
        logins = [e for e in self.fake.requests() if e["path"] == "/v1/userauth"]
        self.assertEqual([e["status"] for e in logins], [510, 200])
        self.assertNotIn("otp", logins[0]["body"])
        self.assertEqual(logins[1]["body"]["otp"], self.OTP)
        self.assertResult(self.user("info", "--json"), 0,
                          avn_json([self.fake.user("carol@example.com")]))

    def test_password_stdin_then_the_code_from_the_next_line(self):
        r = self.user("login", "carol@example.com", "--password-stdin", "--tenant", "acme",
                      input=f"{self.PASSWORD}\n{self.OTP}\n")
        self.assertResult(r, 0, "Two-factor authentication OTP: ", STORED)
        logins = [e for e in self.fake.requests() if e["path"] == "/v1/userauth"]
        # avn drops --tenant from the second request; it is kept here.
        self.assertEqual([e["body"].get("tenant") for e in logins], ["acme", "acme"])

    def test_wrong_code(self):
        r = self.user("login", "carol@example.com", input=f"{self.PASSWORD}\n000000\n")
        self.assertResult(r, 1, "Two-factor authentication OTP: ",
                          "carol@example.com's Aiven password: \n"
                          "ERROR\tcommand failed: Error: Authentication failed (status 403)\n")
        self.assertNotLoggedIn()

    def test_no_code(self):
        r = self.user("login", "carol@example.com", "--password-stdin", input=self.PASSWORD + "\n")
        self.assertResult(r, 1, "Two-factor authentication OTP: ",
                          "ERROR\tcommand failed: EOFError: end of input at the prompt\n")


class TokenLogin(UserCase):
    def test_token_from_the_prompt_is_checked_and_kept(self):
        token = self.fake.create_token(self.ALICE, description="for login")
        self.secrets.append(token)
        r = self.user("login", self.ALICE, "--token", input=token + "\n")
        self.assertResult(r, 0, "", f"{self.ALICE}'s Aiven access token: \n" + STORED)
        self.assertIn("/v1/me", [e["path"] for e in self.fake.requests()])
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.ALICE)]))

    def test_token_from_aiven_auth_token(self):
        token = self.fake.create_token(self.BOB)
        r = self.user("login", self.BOB, "--token", env={"AIVEN_AUTH_TOKEN": token})
        self.assertResult(r, 0, "", STORED)
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.BOB)]))

    def test_token_from_stdin(self):
        token = self.fake.create_token(self.BOB)
        r = self.user("login", self.BOB, "--token", "--password-stdin", input=token + "\n")
        self.assertResult(r, 0, "", STORED)

    def test_email_prompt_comes_first(self):
        token = self.fake.create_token(self.BOB)
        r = self.user("login", "--token", input=f"{self.BOB}\n{token}\n")
        self.assertResult(r, 0, "Username (email): ", f"{self.BOB}'s Aiven access token: \n" + STORED)

    def test_revoked_token_is_refused_and_not_kept(self):
        token = self.fake.create_token(self.ALICE)
        self.fake.revoke_token(token)
        self.secrets.append(token)
        r = self.user("login", self.ALICE, "--token", env={"AIVEN_AUTH_TOKEN": token})
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Invalid token (status 401)\n")
        self.assertNotLoggedIn()

    def test_expired_token_is_refused(self):
        token = self.fake.create_token(self.ALICE, max_age_seconds=600)
        self.fake.advance(601)
        self.secrets.append(token)
        r = self.user("login", self.ALICE, "--token", "--password-stdin", input=token + "\n")
        self.assertResult(r, 1, "",
                          "ERROR\tcommand failed: Error: Missing (expired) db token (status 401)\n")
        self.assertNotLoggedIn()


class Logout(UserCase):
    def test_revokes_the_token_and_prints_nothing(self):
        session = self.login()
        self.assertResult(self.user("logout"), 0, "", "")
        with self.assertRaises(KeyError):
            self.fake.token(session["token_prefix"])
        revoke = self.fake.requests()[-1]
        self.assertEqual(revoke["method"], "DELETE")
        self.assertTrue(revoke["path"].startswith("/v1/access_token/"))
        self.assertNotIn("/", revoke["path"][len("/v1/access_token/"):])
        self.assertNotLoggedIn()

    def test_no_token_revoke_keeps_the_token_alive(self):
        session = self.login()
        self.assertResult(self.user("logout", "--no-token-revoke"), 0, "", "")
        self.assertEqual(self.fake.token(session["token_prefix"])["state"], "active")
        self.assertNotLoggedIn()

    def test_expired_token_still_logs_out(self):
        session = self.login()
        self.fake.expire_token(session["token_prefix"])
        r = self.user("logout")
        self.assertResult(r, 0, "")
        self.assertTrue(r.stderr.startswith("INFO\tLogged out; the token was not revoked"),
                        r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertNotLoggedIn()

    def test_revoked_token_still_logs_out(self):
        session = self.login()
        self.fake.revoke_token(session["token_prefix"])
        r = self.user("logout")
        self.assertResult(r, 0, "")
        self.assertTrue(r.stderr.startswith("INFO\tLogged out; the token was not revoked"),
                        r.stderr)
        self.assertNotLoggedIn()

    def test_not_logged_in(self):
        self.assertResult(self.user("logout"), 1, "", NOT_LOGGED_IN)


class TokensExpire(UserCase):
    def test_prints_the_message_and_the_session_is_gone(self):
        self.login()
        other = self.fake.create_token(self.ALICE)
        r = self.user("tokens-expire")
        self.assertResult(r, 0, "All tokens expired\n")
        self.assertEqual(self.fake.token(other)["state"], "invalidated")
        self.assertNotLoggedIn()

    def test_not_logged_in(self):
        self.assertResult(self.user("tokens-expire"), 1, "", NOT_LOGGED_IN)


class PasswordChange(UserCase):
    NEW = "new password 91c2"
    CHANGED = ("Password changed. Next, use 'avn user login' to log in again using your new "
               "password.\n")

    def setUp(self):
        super().setUp()
        self.secrets.append(self.NEW)

    def test_prompts_and_the_session_stays(self):
        self.login()
        r = self.user("password-change", input=f"{self.PASSWORD}\n{self.NEW}\n{self.NEW}\n")
        self.assertResult(r, 0, self.CHANGED)
        self.assertTrue(r.stderr.startswith("Current password: \nNew password: \n"
                                            "Confirm password again: \n"), r.stderr)
        put = [e for e in self.fake.requests() if e["path"] == "/v1/me/password"]
        self.assertEqual(put[0]["body"], {"password": self.PASSWORD, "new_password": self.NEW})
        # Unlike avn, whose token died with the change, the agent is still logged in.
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.ALICE)]))
        # And the new password is the one that works.
        r = self.user("login", self.ALICE, "--password-stdin", input=self.NEW + "\n")
        self.assertResult(r, 0, "", STORED)

    def test_aiven_new_password_replaces_both_new_prompts(self):
        self.login()
        r = self.user("password-change", input=self.PASSWORD + "\n",
                      env={"AIVEN_NEW_PASSWORD": self.NEW, "AIVEN_PASSWORD": "not used here"})
        self.assertResult(r, 0, self.CHANGED)
        self.assertTrue(r.stderr.startswith("Current password: \n"), r.stderr)
        self.assertNotIn("New password", r.stderr)

    def test_mismatch_sends_nothing(self):
        self.login()
        before = len(self.fake.requests())
        r = self.user("password-change", input=f"{self.PASSWORD}\n{self.NEW}\nsomething else\n")
        self.assertResult(r, 1, "", "Current password: \nNew password: \nConfirm password again: \n"
                                    "ERROR\tcommand failed: UserError: Passwords do not match\n")
        self.assertEqual(len(self.fake.requests()), before)

    def test_wrong_current_password_keeps_everything(self):
        self.login()
        r = self.user("password-change", input=f"wrong one\n{self.NEW}\n{self.NEW}\n")
        self.assertResult(r, 1, "")
        self.assertTrue(r.stderr.endswith(
            "ERROR\tcommand failed: Error: Authentication failed (status 403)\n"), r.stderr)
        self.assertResult(self.user("info", "--json"), 0, avn_json([self.fake.user(self.ALICE)]))

    def test_too_short(self):
        self.login()
        r = self.user("password-change", input=f"{self.PASSWORD}\nshort\nshort\n")
        self.assertResult(r, 1, "")
        self.assertIn("ERROR\tcommand failed: Error: New password is too short", r.stderr)
        self.assertTrue(r.stderr.endswith("(status 400)\n"), r.stderr)

    def test_not_logged_in_fails_before_prompting(self):
        r = self.user("password-change", input=f"{self.PASSWORD}\n{self.NEW}\n{self.NEW}\n")
        self.assertResult(r, 1, "", NOT_LOGGED_IN)

    def test_aiven_auth_token_changes_that_users_password(self):
        token = self.fake.create_token(self.BOB)
        r = self.user("password-change", input=f"{self.PASSWORD}\n",
                      env={"AIVEN_AUTH_TOKEN": token, "AIVEN_NEW_PASSWORD": self.NEW})
        self.assertResult(r, 0, self.CHANGED)
        # The override is for this one request: Bob's new token does not become the session.
        self.assertNotLoggedIn()
        r = self.user("login", self.BOB, "--password-stdin", input=self.NEW + "\n")
        self.assertResult(r, 0, "", STORED)


class Create(UserCase):
    NEW = "new user pw 5d1e"
    EMAIL = "dave@example.com"

    def setUp(self):
        super().setUp()
        self.secrets.append(self.NEW)

    def test_prompts_twice_and_logs_in(self):
        r = self.user("create", self.EMAIL, "--real-name", "Dave Example",
                      input=f"{self.NEW}\n{self.NEW}\n")
        self.assertResult(r, 0, "", f"New aiven.io password for {self.EMAIL}: \n"
                                    "Confirm password again: \n" + STORED)
        post = [e for e in self.fake.requests() if e["path"] == "/v1/user"]
        self.assertEqual(post[0]["body"],
                         {"email": self.EMAIL, "real_name": "Dave Example", "password": self.NEW})
        user = self.fake.user(self.EMAIL)
        self.assertEqual(user["real_name"], "Dave Example")
        self.assertResult(self.user("info"), 0, avn_table([user], AVN_INFO_COLUMNS), "")

    def test_aiven_new_password(self):
        r = self.user("create", self.EMAIL, "--real-name", "D", env={"AIVEN_NEW_PASSWORD": self.NEW})
        self.assertResult(r, 0, "", STORED)

    def test_mismatch(self):
        r = self.user("create", self.EMAIL, "--real-name", "D", input=f"{self.NEW}\nother one\n")
        self.assertResult(r, 1, "")
        self.assertTrue(r.stderr.endswith(
            "ERROR\tcommand failed: UserError: Passwords do not match\n"), r.stderr)
        self.assertEqual(self.fake.requests(), [])

    def test_existing_user(self):
        r = self.user("create", self.ALICE, "--real-name", "A", env={"AIVEN_NEW_PASSWORD": self.NEW})
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: User with email address "
                                    f"{self.ALICE} already exists (status 409)\n")

    def test_real_name_is_required(self):
        self.assertResult(self.user("create", self.EMAIL, env={"AIVEN_NEW_PASSWORD": self.NEW}), 2,
                          "")
        self.assertResult(self.user("create", "--real-name", "X"), 2, "")


class AccessToken(UserCase):
    def created(self, before):
        """The token that appeared since `before` (a list of control views)."""
        known = {t["token_prefix"] for t in before}
        new = [t for t in self.fake.user_tokens(self.ALICE) if t["token_prefix"] not in known]
        self.assertEqual(len(new), 1)
        self.secrets.append(new[0]["full_token"])
        return new[0]

    def test_create_table(self):
        self.login()
        before = self.fake.user_tokens(self.ALICE)
        r = self.user("access-token", "create", "--description", "ci pipeline")
        token = self.created(before)
        self.assertResult(r, 0, avn_table([token], AVN_TOKEN_CREATE_COLUMNS), "")
        self.assertEqual(re.split(r"\s{2,}", r.stdout.splitlines()[2]),
                         ["null", "ci pipeline", "null", "false", token["full_token"]])
        post = [e for e in self.fake.requests() if e["path"] == "/v1/access_token"][-1]
        # What avn sends: no max age is an explicit null.
        self.assertEqual(post["body"], {"description": "ci pipeline", "extend_when_used": False,
                                        "max_age_seconds": None})

    def test_create_with_every_option_as_json(self):
        session = self.login()
        before = self.fake.user_tokens(self.ALICE)
        r = self.user("access-token", "create", "--description", "déploiement €",
                      "--max-age-seconds", "3600", "--extend-when-used",
                      "--scope", "user:read", "--scope", "projects:read", "--json")
        token = self.created(before)
        self.assertEqual(token["max_age_seconds"], 3600)
        self.assertTrue(token["extend_when_used"])
        self.assertEqual(token["scopes"], ["user:read", "projects:read"])
        self.assertResult(r, 0, avn_json([api_token_view(token, session["token_prefix"],
                                                         full=True)]), "")

    def test_create_table_with_max_age(self):
        self.login()
        before = self.fake.user_tokens(self.ALICE)
        r = self.user("access-token", "create", "--description", "short", "--max-age-seconds",
                      "600")
        token = self.created(before)
        self.assertResult(r, 0, avn_table([token], AVN_TOKEN_CREATE_COLUMNS), "")

    def test_create_beyond_the_limit(self):
        self.login()
        for i in range(10):
            self.secrets.append(self.fake.create_token(self.ALICE, description=f"t{i}"))
        r = self.user("access-token", "create", "--description", "one too many")
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Maximum number of access tokens "
                                    "reached: at most 10 access tokens are allowed per user; "
                                    "revoke unused tokens first (status 400)\n")

    def test_create_out_of_range_max_age(self):
        self.login()
        r = self.user("access-token", "create", "--description", "x", "--max-age-seconds", "10")
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Field 'max_age_seconds' must be "
                                    "between 600 and 315360000 (status 400)\n")

    def test_create_usage_errors(self):
        self.assertEqual(self.user("access-token", "create").returncode, 2)
        self.assertEqual(self.user("access-token", "create", "--description", "x",
                                   "--max-age-seconds", "1.5").returncode, 2)
        self.assertEqual(self.user("access-token").returncode, 2)

    def live_views(self, current_prefix):
        return [api_token_view(t, current_prefix)
                for t in self.fake.user_tokens(self.ALICE, include_dead=False)]

    def assertLastRequestWasTheList(self):
        # The expected rows are read from the fake after the command: nothing may have used
        # a token in between.
        last = self.fake.requests()[-1]
        self.assertEqual((last["method"], last["path"]), ("GET", "/v1/access_token"))

    def test_list_table(self):
        session = self.login()
        self.secrets.append(self.fake.create_token(self.ALICE, description="no expiry"))
        self.secrets.append(self.fake.create_token(self.ALICE, description='say "hi" £5',
                                                   max_age_seconds=7200.0, extend_when_used=True))
        r = self.user("access-token", "list")
        self.assertLastRequestWasTheList()
        expected = avn_table(self.live_views(session["token_prefix"]), AVN_TOKEN_LIST_COLUMNS)
        self.assertIn('"say \\"hi\\" \\u00a35"', expected)
        self.assertIn("7200.0", expected)
        self.assertResult(r, 0, expected, "")

    def test_list_json(self):
        session = self.login()
        self.secrets.append(self.fake.create_token(self.ALICE, description="x",
                                                   scopes=["user:read"]))
        r = self.user("access-token", "list", "--json")
        self.assertLastRequestWasTheList()
        self.assertResult(r, 0, avn_json(self.live_views(session["token_prefix"])), "")

    def test_list_with_aiven_auth_token(self):
        token = self.fake.create_token(self.ALICE, description="the caller")
        self.secrets.append(token)
        r = self.user("access-token", "list", env={"AIVEN_AUTH_TOKEN": token})
        self.assertLastRequestWasTheList()
        self.assertResult(r, 0, avn_table(self.live_views(token[:10]), AVN_TOKEN_LIST_COLUMNS), "")

    def test_list_empty_json_is_an_empty_array(self):
        # The caller's own token is always listed; a token of another user sees its own only,
        # so an empty list needs an API answer without tokens.
        self.login()
        self.fake.add_fault("GET", "^/v1/access_token$", status=200, body={"tokens": []})
        self.assertResult(self.user("access-token", "list", "--json"), 0, "[]\n", "")
        self.fake.add_fault("GET", "^/v1/access_token$", status=200, body={"tokens": []})
        self.assertResult(self.user("access-token", "list"), 0, "", "")

    def test_update_by_prefix(self):
        session = self.login()
        token = self.fake.create_token(self.ALICE, description="old")
        self.secrets.append(token)
        r = self.user("access-token", "update", token[:10], "--description", "new")
        view = api_token_view(self.fake.token(token), session["token_prefix"])
        self.assertEqual(view["description"], "new")
        self.assertResult(r, 0, avn_table([view], AVN_TOKEN_LIST_COLUMNS), "")

    def test_update_by_full_token_as_json(self):
        session = self.login()
        token = self.fake.create_token(self.ALICE, description="old")
        self.secrets.append(token)
        r = self.user("access-token", "update", token, "--description", "renamed", "--json")
        view = api_token_view(self.fake.token(token), session["token_prefix"])
        self.assertResult(r, 0, avn_json([view]), "")
        put = self.fake.requests()[-1]
        self.assertEqual(put["method"], "PUT")
        self.assertNotIn("+", put["path"])
        self.assertEqual(put["path"].count("/"), 3)

    def test_update_unknown(self):
        self.login()
        r = self.user("access-token", "update", "nosuchtokn", "--description", "x")
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Access token not found "
                                    "(status 404)\n")

    def test_revoke(self):
        self.login()
        token = self.fake.create_token(self.ALICE)
        self.secrets.append(token)
        self.assertResult(self.user("access-token", "revoke", token[:10]), 0, "Revoked\n", "")
        with self.assertRaises(KeyError):
            self.fake.token(token)
        self.assertLoggedInAs(self.ALICE)  # revoking another token keeps the session

    def test_revoke_by_full_token(self):
        self.login()
        token = self.fake.create_token(self.ALICE)
        self.secrets.append(token)
        self.assertResult(self.user("access-token", "revoke", token), 0, "Revoked\n", "")
        with self.assertRaises(KeyError):
            self.fake.token(token)

    def test_revoke_unknown(self):
        self.login()
        self.assertResult(self.user("access-token", "revoke", "nosuchtokn"), 1, "",
                          "ERROR\tcommand failed: Error: Access token not found (status 404)\n")

    def test_revoke_the_session_token_logs_out(self):
        session = self.login()
        r = self.user("access-token", "revoke", session["token_prefix"])
        self.assertResult(r, 0, "Revoked\n")
        self.assertNotLoggedIn()

    def test_not_logged_in(self):
        for args in (("create", "--description", "x"), ("list",), ("list", "--json"),
                     ("update", "abc", "--description", "x"), ("revoke", "abc")):
            self.assertResult(self.user("access-token", *args), 1, "", NOT_LOGGED_IN)
