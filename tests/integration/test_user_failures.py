"""avn-user when things go wrong: dead tokens, API faults, an API that never
answers, unreachable and untrusted APIs, no agent, and Ctrl-C while waiting."""

import os
import signal
import socket
import subprocess

from harness import (AVN_INFO_COLUMNS, NOT_LOGGED_IN, UserCase, avn_table, binary, popen_user,
                     start_user_agent, user_env, wait_for)
from fake_aiven import FakeAiven


class DeadSession(UserCase):
    def test_expired_session_token(self):
        session = self.login()
        self.fake.expire_token(session["token_prefix"])
        self.assertResult(self.user("info"), 1, "", "ERROR\tcommand failed: Error: Missing "
                                                    "(expired) db token (status 401)\n")
        # logout still clears the session even though the token cannot be revoked.
        self.assertResult(self.user("logout"), 0, "")
        self.assertNotLoggedIn()

    def test_revoked_session_token(self):
        session = self.login()
        self.fake.revoke_token(session["token_prefix"])
        self.assertResult(self.user("access-token", "list"), 1, "",
                          "ERROR\tcommand failed: Error: Invalid token (status 401)\n")

    def test_tokens_expired_elsewhere(self):
        self.login()
        self.fake.expire_user_tokens(self.ALICE)
        self.assertResult(self.user("info", "--json"), 1, "", "ERROR\tcommand failed: Error: "
                                                              "Missing (expired) db token "
                                                              "(status 401)\n")

    def test_expired_aiven_auth_token(self):
        self.login()
        token = self.fake.create_token(self.ALICE, max_age_seconds=600)
        self.secrets.append(token)
        self.fake.advance(601)
        r = self.user("info", env={"AIVEN_AUTH_TOKEN": token})
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Missing (expired) db token "
                                    "(status 401)\n")


class ApiFaults(UserCase):
    def test_persistent_server_error(self):
        self.login()
        self.fake.add_fault("GET", "^/v1/me$", status=500, count=100)
        self.assertResult(self.user("info"), 1, "", "ERROR\tcommand failed: Error: Internal "
                                                    "Server Error (status 500)\n")

    def test_server_error_with_the_apis_own_message(self):
        self.login()
        self.fake.add_fault("POST", "^/v1/me/expire_tokens$", status=503, count=100,
                            body={"message": "Service temporarily unavailable",
                                  "errors": [{"message": "Service temporarily unavailable",
                                              "status": 503}]})
        self.assertResult(self.user("tokens-expire"), 1, "",
                          "ERROR\tcommand failed: Error: Service temporarily unavailable "
                          "(status 503)\n")

    def test_error_body_that_is_not_json_is_shown_raw(self):
        self.login()
        self.fake.add_fault("GET", "^/v1/access_token$", status=502, body="upstream broke",
                            count=100)
        self.assertResult(self.user("access-token", "list"), 1, "",
                          "ERROR\tcommand failed: Error: upstream broke (status 502)\n")

    def test_server_error_is_reported_like_avn_and_the_next_call_works(self):
        # Like avn, a user command is not retried on a 5xx: it reports it.
        self.login()
        self.fake.add_fault("GET", "^/v1/me$", status=503, count=1)
        r = self.user("info")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^ERROR\tcommand failed: Error: .+ \(status 503\)\n$")
        r = self.user("info")
        self.assertResult(r, 0, avn_table([self.fake.user(self.ALICE)], AVN_INFO_COLUMNS), "")

    def test_login_refused_by_the_server(self):
        self.fake.add_fault("POST", "^/v1/userauth$", status=500, count=100)
        r = self.user("login", self.ALICE, "--password-stdin", input=self.PASSWORD + "\n")
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Internal Server Error "
                                    "(status 500)\n")
        self.assertNotLoggedIn()


class SlowApi(UserCase):
    agent_args = ("--api-timeout", "3")

    def hang_user_info(self):
        """Makes GET /v1/me hang; returns a function telling whether a request is hanging."""
        self.fake.add_fault("GET", "^/v1/me$", delay=60, count=100)
        return lambda: any(f["count"] < 100 for f in self.fake.faults_list())

    def test_agent_deadline_fires_and_other_clients_are_served(self):
        self.login()
        hanging = self.hang_user_info()
        slow = popen_user(self.agent, "info")
        self.addCleanup(lambda: slow.poll() is None and slow.kill())
        wait_for(hanging, what="the API request to hang")
        # While the agent waits for the API, it answers other clients, including API calls.
        self.assertEqual(self.user("status").returncode, 0)
        self.assertEqual(self.user("access-token", "list").returncode, 0)
        self.assertIsNone(slow.poll(), "the other clients waited for the slow one")
        out, err = slow.communicate(timeout=60)
        self.assertEqual(slow.returncode, 1, err)
        self.assertEqual(out, "")
        self.assertTrue(err.startswith("ERROR\tcommand failed: Timeout: "), err)
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_helper_deadline_shorter_than_the_agents(self):
        self.login()
        self.hang_user_info()
        r = self.user("--timeout", "0.5", "info", timeout=30)
        self.assertResult(r, 1, "")
        self.assertTrue(r.stderr.startswith("ERROR\tcommand failed: the agent on "), r.stderr)
        self.assertIn("did not answer within", r.stderr)

    def test_ctrl_c_while_waiting_exits_2(self):
        self.login()
        hanging = self.hang_user_info()
        slow = popen_user(self.agent, "info")
        self.addCleanup(lambda: slow.poll() is None and slow.kill())
        wait_for(hanging, what="the API request to hang")
        slow.send_signal(signal.SIGINT)
        out, err = slow.communicate(timeout=10)
        self.assertEqual(slow.returncode, 2)
        self.assertEqual(out, "")
        self.assertEqual(err, "ERROR\t*** terminated by keyboard ***\n")


class Unreachable(UserCase):
    def restart_agent(self, **env):
        self.agent.stop()
        self.agent = start_user_agent(self, self.fake, env=env)

    def test_nothing_listens_on_the_api_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.restart_agent(AIVEN_WEB_URL=f"https://127.0.0.1:{port}")
        r = self.user("login", self.ALICE, "--password-stdin", input=self.PASSWORD + "\n")
        self.assertResult(r, 1, "")
        self.assertTrue(r.stderr.startswith("ERROR\tcommand failed: ConnectionError: "), r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_untrusted_certificate(self):
        with FakeAiven() as other:
            self.restart_agent(AIVEN_CA_CERT=other.ca_file)
            r = self.user("login", self.ALICE, "--password-stdin", input=self.PASSWORD + "\n")
        self.assertResult(r, 1, "")
        self.assertTrue(r.stderr.startswith("ERROR\tcommand failed: SSLError: "), r.stderr)
        self.assertEqual(self.fake.requests(), [])

    def test_no_agent_exits_3(self):
        self.agent.stop()
        r = self.user("info")
        self.assertResult(r, 3, "")
        self.assertTrue(r.stderr.startswith("avn-user: no agent is running on "), r.stderr)
        r = self.user("login", self.ALICE, "--password-stdin", input=self.PASSWORD + "\n")
        self.assertResult(r, 3, "")


class NotLoggedIn(UserCase):
    def test_every_session_command(self):
        for args in (("info",), ("info", "--json"), ("tokens-expire",), ("logout",),
                     ("logout", "--no-token-revoke")):
            self.assertResult(self.user(*args), 1, "", NOT_LOGGED_IN)


class ClosedStdout(UserCase):
    def test_reader_gone_exits_13_as_avn(self):
        self.login()
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            p = subprocess.run([binary("avn-user"), "info"], env=user_env(self.agent),
                               stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                               start_new_session=True)
        finally:
            os.close(write_end)
        self.assertEqual(p.returncode, 13, p.stderr)
        self.assertEqual(p.stderr, "ERROR\t*** output truncated ***\n")
