"""Tokens for tools through the real agent and the local Aiven fake: `avn-user token`
(bare, --json, --exec-credential), `avn-user exec`, and git-credential-avn driven by
the real git (2.39) as well as directly."""

import base64
import datetime
import http.server
import json
import os
import re
import signal
import ssl
import subprocess
import threading

from harness import (BIN_DIR, NOT_LOGGED_IN, TestCase, UserCase, avn_json, binary, popen_user,
                     user_env)

GIT_HOST = "git.example.com"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def unix_time(iso):
    """Seconds since the epoch for the fake's "...Z" times."""
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class TokenToolsCase(UserCase):
    def session_token(self):
        return self.newest_login_token(self.ALICE)["full_token"]

    def token_row(self, full_token):
        rows = [t for t in self.fake.user_tokens(self.ALICE) if t["full_token"] == full_token]
        self.assertEqual(len(rows), 1, "the token is not one of the user's")
        return rows[0]

    def assertTokenWorks(self, full_token):
        """A request to the fake with the token succeeds."""
        conn = self.fake.connection()
        try:
            conn.request("GET", "/v1/me", headers={"Authorization": "aivenv1 " + full_token})
            response = conn.getresponse()
            body = json.loads(response.read())
        finally:
            conn.close()
        self.assertEqual(response.status, 200, body)
        self.assertEqual(body["user"]["user"], self.ALICE)

    def me_checks_with(self, full_token):
        return [r for r in self.fake.requests()
                if r["path"] == "/v1/me" and r["token_prefix"] == full_token[:10]]


class Token(TokenToolsCase):
    def test_bare_token_is_the_session_token_and_works(self):
        self.login()
        r = self.user("token")
        self.assertResult(r, 0, self.session_token() + "\n", "")
        self.assertTokenWorks(r.stdout.strip())

    def test_json(self):
        self.login()
        r = self.user("token", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        parsed = json.loads(r.stdout)
        self.assertEqual(r.stdout, avn_json(parsed))
        self.assertEqual(sorted(parsed), ["expiry_time", "name", "token"])
        self.assertIsNone(parsed["name"])
        self.assertEqual(parsed["token"], self.session_token())
        # The agent's ISO time may drop the fraction of a second the API sent.
        self.assertRegex(parsed["expiry_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertLess(abs(unix_time(parsed["expiry_time"])
                            - unix_time(self.token_row(parsed["token"])["expiry_time"])), 1)

    def test_exec_credential(self):
        self.login()
        r = self.user("token", "--exec-credential")
        self.assertEqual(r.returncode, 0, r.stderr)
        cred = json.loads(r.stdout)
        self.assertEqual(cred["apiVersion"], "client.authentication.k8s.io/v1")
        self.assertEqual(cred["kind"], "ExecCredential")
        self.assertEqual(sorted(cred["status"]), ["expirationTimestamp", "token"])
        token = cred["status"]["token"]
        self.assertEqual(token, self.session_token())
        stamp = cred["status"]["expirationTimestamp"]
        self.assertRegex(stamp, RFC3339_UTC)
        # The fake's clock runs at real time here, so the local expiry is the server's.
        expiry = unix_time(self.token_row(token)["expiry_time"])
        self.assertLess(abs(unix_time(stamp) - expiry), 5)
        self.assertTokenWorks(token)

    def test_exec_credential_answers_the_version_kubectl_asks_for(self):
        self.login()
        info = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                "spec": {"interactive": False}}
        r = self.user("token", "--exec-credential",
                      env={"KUBERNETES_EXEC_INFO": json.dumps(info)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["apiVersion"],
                         "client.authentication.k8s.io/v1beta1")

    def test_exec_credential_without_expiry_for_a_lasting_token(self):
        lasting = self.fake.create_token(self.ALICE, description="lasting", max_age_seconds=None)
        r = self.user("login", self.ALICE, "--token", env={"AIVEN_AUTH_TOKEN": lasting})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.user("token", "--exec-credential")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], {"token": lasting})

    def test_named_token_is_derived_created_once_and_reused(self):
        self.login()
        r = self.user("token", "--name", "ci")
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        self.assertNotEqual(token, self.session_token())
        row = self.token_row(token)
        self.assertIn("ci", row["description"])
        self.assertTrue(row["created_manually"])
        self.assertTrue(row["extend_when_used"])
        self.assertEqual(row["max_age_seconds"], 3600)
        self.assertTokenWorks(token)
        again = self.user("token", "--name", "ci", "--json")
        self.assertEqual(again.returncode, 0, again.stderr)
        parsed = json.loads(again.stdout)
        self.assertEqual(parsed["token"], token)
        self.assertEqual(parsed["name"], "ci")
        manual = [t for t in self.fake.user_tokens(self.ALICE) if t["created_manually"]]
        self.assertEqual(len(manual), 1)

    def test_named_token_with_max_age_and_scopes(self):
        self.login()
        r = self.user("token", "--name", "reader", "--max-age", "7200", "--scope",
                      "projects:read")
        self.assertEqual(r.returncode, 0, r.stderr)
        row = self.token_row(r.stdout.strip())
        self.assertEqual(row["max_age_seconds"], 7200)
        self.assertEqual(row["scopes"], ["projects:read"])

    def test_max_age_and_scope_need_a_name(self):
        self.login()
        self.assertEqual(self.user("token", "--max-age", "7200").returncode, 2)
        self.assertEqual(self.user("token", "--json", "--exec-credential").returncode, 2)

    def test_min_ttl_beyond_what_the_token_can_last(self):
        self.login()
        r = self.user("token", "--min-ttl", "3000000")  # above the 30-day session max age
        self.assertResult(r, 1, "")
        # The agent's own words, without the code that other failures show.
        self.assertRegex(r.stderr, r"^ERROR\tcommand failed: [^\n]*3000000 s[^\n]*\n$")
        self.assertNotIn("insufficient_ttl", r.stderr)

    def test_invalid_name(self):
        self.login()
        r = self.user("token", "--name", "no spaces")
        self.assertResult(r, 1, "")
        self.assertIn("(bad_request)", r.stderr)

    def test_mistyped_or_out_of_range_arguments_are_refused_not_dropped(self):
        self.login()
        before = len(self.fake.user_tokens(self.ALICE))
        for op, args in (("token", {"min_ttl": "60"}),
                         ("token", {"min_ttl": 1e300}),
                         ("token", {"name": "ci", "max_age_seconds": "3600"}),
                         ("token", {"name": "ci", "max_age_seconds": 1e300}),
                         ("access_token_create", {"description": "x", "scopes": "user:read"}),
                         ("access_token_create", {"description": "x", "max_age_seconds": "60"}),
                         ("access_token_create", {"description": "x", "extend_when_used": 1})):
            with self.subTest(op=op, args=args):
                self.assertEqual(self.agent.call(op, args)["error"]["code"], "bad_request")
        # Nothing was created with a wider scope or a longer life than asked for.
        self.assertEqual(len(self.fake.user_tokens(self.ALICE)), before)

    def test_not_logged_in(self):
        self.assertResult(self.user("token"), 1, "", NOT_LOGGED_IN)

    def test_no_agent(self):
        r = self.user("token", env={"AVN_AGENT_SOCK": self.tmp_path("nothing.sock")})
        self.assertResult(r, 3, "")
        self.assertTrue(r.stderr.startswith("avn-user: no agent is running on "), r.stderr)


class Exec(TokenToolsCase):
    def test_token_in_both_variables_and_the_commands_exit_status(self):
        self.login()
        r = self.user("exec", "--", "sh", "-c", 'echo "$AIVEN_AUTH_TOKEN $AIVEN_TOKEN"; exit 7')
        token = self.session_token()
        self.assertResult(r, 7, f"{token} {token}\n", "")

    def test_the_command_replaces_avn_user(self):
        self.login()
        p = popen_user(self.agent, "exec", "--", "sh", "-c", "echo $$")
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(int(out), p.pid)

    def test_a_signal_death_is_the_callers(self):
        self.login()
        r = self.user("exec", "--", "sh", "-c", "kill -TERM $$")
        self.assertEqual(r.returncode, -signal.SIGTERM, (r.stdout, r.stderr))

    def test_replaces_existing_variables_once(self):
        self.login()
        r = self.user("exec", "--", "env",
                      env={"AIVEN_AUTH_TOKEN": "old-one", "AIVEN_TOKEN": "old-two"})
        self.assertEqual(r.returncode, 0, r.stderr)
        token = self.session_token()
        lines = r.stdout.splitlines()
        self.assertEqual([x for x in lines if x.startswith("AIVEN_AUTH_TOKEN=")],
                         [f"AIVEN_AUTH_TOKEN={token}"])
        self.assertEqual([x for x in lines if x.startswith("AIVEN_TOKEN=")],
                         [f"AIVEN_TOKEN={token}"])
        self.assertIn("HOME=" + self.agent.env["HOME"], lines)

    def test_named_token(self):
        self.login()
        r = self.user("exec", "--name", "deploy", "--min-ttl", "120", "--", "sh", "-c",
                      'printf %s "$AIVEN_TOKEN"')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("deploy", self.token_row(r.stdout)["description"])

    def test_arguments_after_the_separator_are_the_commands(self):
        self.login()
        r = self.user("exec", "--", "sh", "-c", 'echo "$@"', "sh", "--name", "-x", "--json")
        self.assertResult(r, 0, "--name -x --json\n", "")

    def test_signal_dispositions_are_the_ones_avn_user_started_with(self):
        self.login()
        sigint, sigpipe = 1 << (signal.SIGINT - 1), 1 << (signal.SIGPIPE - 1)
        show = ["exec", "--", "sh", "-c", "grep SigIgn /proc/$$/status"]

        def ignored(preexec=None):
            p = subprocess.run([binary("avn-user"), *show], env=user_env(self.agent),
                               capture_output=True, text=True, timeout=30,
                               preexec_fn=preexec)
            self.assertEqual(p.returncode, 0, p.stderr)
            return int(p.stdout.split()[1], 16)

        mask = ignored()
        self.assertEqual(mask & (sigint | sigpipe), 0)

        def ignore_both():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)

        mask = ignored(ignore_both)
        self.assertEqual(mask & (sigint | sigpipe), sigint | sigpipe)

    def test_command_not_found(self):
        self.login()
        r = self.user("exec", "--", "avn-no-such-command")
        self.assertResult(r, 127, "",
                          "ERROR\tcommand failed: cannot run 'avn-no-such-command': No such file "
                          "or directory\n")

    def test_command_not_executable(self):
        self.login()
        path = self.tmp_path("not-executable")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n")
        r = self.user("exec", "--", path)
        self.assertResult(r, 126, "")
        self.assertIn("Permission denied", r.stderr)

    def test_no_command_is_a_usage_error(self):
        self.login()
        self.assertEqual(self.user("exec").returncode, 2)
        self.assertEqual(self.user("exec", "--").returncode, 2)

    def test_not_logged_in_runs_nothing(self):
        marker = self.tmp_path("ran")
        r = self.user("exec", "--", "sh", "-c", f"touch {marker}")
        self.assertResult(r, 1, "", NOT_LOGGED_IN)
        self.assertFalse(os.path.exists(marker))


class GitCase(TokenToolsCase):
    REQUEST = f"protocol=https\nhost={GIT_HOST}\n\n"

    def git_env(self, **extra):
        env = user_env(self.agent)
        env.update({
            "PATH": BIN_DIR + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmp("git-home"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
        })
        env.update(extra)
        return env

    def git(self, *args, input="", **extra):
        return subprocess.run(["git", *args], env=self.git_env(**extra), input=input,
                              capture_output=True, text=True, timeout=60,
                              start_new_session=True)

    def helper(self, *args, input=REQUEST, **extra):
        """git-credential-avn called directly, as git would."""
        return subprocess.run([binary("git-credential-avn"), *args], env=self.git_env(**extra),
                              input=input, capture_output=True, text=True, timeout=60)

    def fill(self, helper="avn", request=REQUEST):
        return self.git("-c", f"credential.helper={helper}", "credential", "fill",
                        input=request)


class Git(GitCase):
    def test_git_fill_answers_email_and_session_token(self):
        self.login()
        r = self.fill()
        self.assertResult(r, 0, f"protocol=https\nhost={GIT_HOST}\nusername={self.ALICE}\n"
                                f"password={self.session_token()}\n", "")

    def test_the_documented_global_setup(self):
        self.login()
        r = self.git("config", "--global", f"credential.https://{GIT_HOST}.helper", "avn")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.git("credential", "fill", input=self.REQUEST)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"password={self.session_token()}\n", r.stdout)
        # Another host never reaches the helper; with no prompt allowed, git gives up.
        r = self.git("credential", "fill", input="protocol=https\nhost=other.example.com\n\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("password=", r.stdout)

    def test_direct_get_includes_the_expiry(self):
        self.login()
        r = self.helper("get")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        token = self.session_token()
        m = re.fullmatch(f"username={re.escape(self.ALICE)}\npassword={re.escape(token)}\n"
                         r"password_expiry_utc=(\d+)\n", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        expiry = unix_time(self.token_row(token)["expiry_time"])
        self.assertLess(abs(int(m.group(1)) - expiry), 5)

    def test_host_option_limits_the_helper(self):
        self.login()
        r = self.fill(helper=f"avn --host {GIT_HOST}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"password={self.session_token()}\n", r.stdout)
        r = self.fill(helper=f"avn --host {GIT_HOST}",
                      request="protocol=https\nhost=other.example.com\n\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("password=", r.stdout)
        # Our helper's own part in that: nothing at all.
        r = self.helper("--host", GIT_HOST, "get",
                        input="protocol=https\nhost=other.example.com\n\n")
        self.assertResult(r, 0, "", "")

    def test_plain_http_is_not_answered(self):
        self.login()
        r = self.helper("get", input=f"protocol=http\nhost={GIT_HOST}\n\n")
        self.assertResult(r, 0, "", "")

    def test_unknown_keys_are_ignored(self):
        self.login()
        r = self.helper("get", input=(f"capability[]=authtype\nprotocol=https\nhost={GIT_HOST}\n"
                                      "wwwauth[]=Basic realm=\"x\"\nsomething_new=1\n\n"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"password={self.session_token()}\n", r.stdout)

    def test_malformed_input_is_refused(self):
        self.login()
        for request in ("protocol=https\nnot a pair\n\n", "protocol=https\nhost=a\0b\n\n"):
            r = self.helper("get", input=request)
            self.assertEqual(r.returncode, 1, request)
            self.assertEqual(r.stdout, "")
            self.assertTrue(r.stderr.startswith("git-credential-avn: refused: "), r.stderr)

    def test_named_token_for_git(self):
        self.login()
        r = self.fill(helper="avn --name git --min-ttl 300")
        self.assertEqual(r.returncode, 0, r.stderr)
        password = re.search(r"^password=(.*)$", r.stdout, re.M).group(1)
        self.assertNotEqual(password, self.session_token())
        self.assertIn("git", self.token_row(password)["description"])

    def test_store_does_nothing(self):
        self.login()
        self.fake.clear_requests()
        r = self.git("-c", "credential.helper=avn", "credential", "approve",
                     input=self.REQUEST.rstrip("\n") + f"\nusername=x\npassword=y\n\n")
        self.assertResult(r, 0, "", "")
        self.assertEqual(self.fake.requests(), [])

    def test_reject_checks_the_token_and_keeps_the_session(self):
        self.login()
        token = self.session_token()
        self.fake.clear_requests()
        r = self.git("-c", "credential.helper=avn", "credential", "reject",
                     input=(f"protocol=https\nhost={GIT_HOST}\nusername={self.ALICE}\n"
                            f"password={token}\n\n"))
        self.assertResult(r, 0, "", "")
        self.assertEqual(len(self.me_checks_with(token)), 1, self.fake.requests())
        self.assertEqual(self.user("info").returncode, 0)
        session = self.agent.call("status")["result"]["session"]
        self.assertTrue(session["logged_in"])
        self.assertEqual(session["user_email"], self.ALICE)
        self.assertEqual(self.user("token").stdout, token + "\n")

    def test_reject_of_a_dead_session_token_ends_the_session(self):
        self.login()
        token = self.session_token()
        self.fake.revoke_token(token)
        r = self.git("-c", "credential.helper=avn", "credential", "reject",
                     input=f"protocol=https\nhost={GIT_HOST}\npassword={token}\n\n")
        self.assertEqual(r.returncode, 0)
        self.assertIn("ended the session", r.stderr)
        self.assertNotIn(token, r.stderr)
        self.assertFalse(self.agent.call("status")["result"]["session"]["logged_in"])

    def test_reject_of_a_dead_derived_token_drops_it(self):
        self.login()
        first = self.helper("--name", "git", "get").stdout
        token = re.search(r"^password=(.*)$", first, re.M).group(1)
        self.fake.revoke_token(token)
        r = self.helper("--name", "git", "erase",
                        input=f"protocol=https\nhost={GIT_HOST}\npassword={token}\n\n")
        self.assertResult(r, 0, "", "")
        again = self.helper("--name", "git", "get").stdout
        fresh = re.search(r"^password=(.*)$", again, re.M).group(1)
        self.assertNotEqual(fresh, token)
        self.assertTokenWorks(fresh)
        self.assertTrue(self.agent.call("status")["result"]["session"]["logged_in"])

    def test_reject_of_another_helpers_password_stays_here(self):
        self.login()
        foreign = "a-password-from-another-helper"
        self.fake.clear_requests()
        r = self.helper("erase", input=f"protocol=https\nhost={GIT_HOST}\npassword={foreign}\n\n")
        self.assertResult(r, 0, "", "")
        self.assertEqual(self.me_checks_with(foreign), [])
        self.assertNotIn(foreign, json.dumps(self.fake.requests()))
        self.assertTrue(self.agent.call("status")["result"]["session"]["logged_in"])

    def test_not_logged_in(self):
        r = self.helper("get")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr,
                         "git-credential-avn: avn-agent has no session; log in with "
                         "'avn-user login'\n")
        r = self.fill()
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("password=", r.stdout)

    def test_no_agent(self):
        r = self.helper("get", AVN_AGENT_SOCK=self.tmp_path("nothing.sock"))
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("git-credential-avn: no agent is running on "),
                        r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1)

    def test_usage(self):
        self.assertEqual(self.helper().returncode, 2)
        self.assertEqual(self.helper("--bogus", "get").returncode, 2)
        self.assertEqual(self.helper("--min-ttl", "soon", "get").returncode, 2)
        r = self.helper("capability", input="")
        self.assertResult(r, 0, "", "")


class GitServer:
    """A git server over HTTPS (the fake's certificate) speaking git's dumb HTTP protocol
    for one repository, behind Basic authentication. It accepts `password` when set, else
    refuses every password; it records the Authorization headers it sees."""

    REF = "0123456789abcdef0123456789abcdef01234567\trefs/heads/main\n"

    def __init__(self, fake):
        server = self
        self.password = None
        self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                auth = self.headers.get("Authorization")
                server.seen.append(auth)
                expected = None
                if server.password is not None:
                    expected = "Basic " + base64.b64encode(
                        f"{UserCase.ALICE}:{server.password}".encode()).decode()
                if auth is None or auth != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="aiven"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not self.path.startswith("/repo.git/info/refs"):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = GitServer.REF.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(fake.cert_file, fake.key_file)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.host = f"localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class GitOverHttps(GitCase):
    """Real git fetching refs from a real HTTPS server with the helper's answer."""

    def setUp(self):
        super().setUp()
        self.server = GitServer(self.fake)
        self.addCleanup(self.server.stop)
        self.url = f"https://{self.server.host}/repo.git"

    def ls_remote(self, helper):
        return self.git("-c", f"credential.helper={helper}", "ls-remote", self.url,
                        GIT_SSL_CAINFO=self.fake.ca_file)

    def test_git_authenticates_with_the_token(self):
        self.login()
        self.server.password = self.session_token()
        r = self.ls_remote(f"avn --host {self.server.host}")
        self.assertResult(r, 0, GitServer.REF)
        self.assertIn("Basic " + base64.b64encode(
            f"{self.ALICE}:{self.session_token()}".encode()).decode(), self.server.seen)

    def test_a_git_server_refusal_rechecks_the_token_but_keeps_the_session(self):
        self.login()
        token = self.session_token()
        self.fake.clear_requests()
        r = self.ls_remote("avn")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Authentication failed", r.stderr)
        self.assertNotIn(token, r.stderr)
        # git sent erase; the agent asked the API, which still accepts the token.
        self.assertEqual(len(self.me_checks_with(token)), 1, self.fake.requests())
        self.assertTrue(self.agent.call("status")["result"]["session"]["logged_in"])
        self.assertResult(self.user("token"), 0, token + "\n", "")


class GitHelperVersion(TestCase):
    def test_git_helper_version(self):
        r = subprocess.run([binary("git-credential-avn"), "--version"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^git-credential-avn \d+\.\d+\.\d+")
