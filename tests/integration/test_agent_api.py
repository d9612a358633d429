"""The agent's side of the Aiven API: configuration checks at start, TLS
refusals seen through the protocol, deadlines, and what reaches the log."""

import json
import os
import signal
import threading

from harness import TestCase, binary, run, wait_for  # first: puts tests/fake_aiven on sys.path
from fake_aiven import FakeAiven

PASSWORD = "correct horse battery"


class Config(TestCase):
    def test_plain_http_to_a_remote_host_is_refused_at_start(self):
        r = run([binary("avn-agent"), "-D"],
                env=self.env(XDG_RUNTIME_DIR=self.tmp("rt"), AIVEN_WEB_URL="http://example.com"),
                timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing plain http:// for example.com", r.stderr)
        self.assertIn("use an https:// URL", r.stderr)

    def test_unreadable_ca_file_is_refused_at_start(self):
        r = run([binary("avn-agent"), "-D"],
                env=self.env(XDG_RUNTIME_DIR=self.tmp("rt"), AIVEN_CA_CERT="/nonexistent/ca.pem"),
                timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/ca.pem", r.stderr)
        self.assertIn("AIVEN_CA_CERT", r.stderr)


class Tls(TestCase):
    def login(self, agent):
        return agent.call("login", {"email": "tls@example.com", "password": PASSWORD})

    def test_server_signed_by_another_ca_is_refused(self):
        with FakeAiven() as fake, FakeAiven() as other:
            fake.add_user("tls@example.com", PASSWORD)
            agent = self.start_agent(env={"AIVEN_WEB_URL": fake.url,
                                          "AIVEN_CA_CERT": other.ca_file})
            err = self.login(agent)["error"]
            self.assertEqual(err["code"], "tls_error")
            self.assertIn("certificate verify failed", err["message"])
            self.assertEqual(fake.requests(), [])

    def test_certificate_for_another_host_name_is_refused(self):
        with FakeAiven(san=["wrong.example"]) as fake:
            fake.add_user("tls@example.com", PASSWORD)
            for url, why in ((fake.url.replace("127.0.0.1", "localhost"), "hostname mismatch"),
                             (fake.url, "IP address mismatch")):
                agent = self.start_agent(env={"AIVEN_WEB_URL": url, "AIVEN_CA_CERT": fake.ca_file})
                err = self.login(agent)["error"]
                self.assertEqual(err["code"], "tls_error")
                self.assertIn(why, err["message"])
                agent.stop()

    def test_plain_http_to_loopback_works(self):
        with FakeAiven(plain_http=True) as fake:
            fake.add_user("tls@example.com", PASSWORD)
            agent = self.start_agent(env={"AIVEN_WEB_URL": fake.url})
            self.assertEqual(self.login(agent)["result"], {"user_email": "tls@example.com"})


class Deadlines(TestCase):
    def test_api_that_never_answers_times_out_while_others_are_served(self):
        with FakeAiven() as fake:
            fake.add_user("slow@example.com", PASSWORD)
            agent = self.start_agent("--api-timeout", "1",
                                     env={"AIVEN_WEB_URL": fake.url,
                                          "AIVEN_CA_CERT": fake.ca_file})
            fake.add_fault("POST", "^/v1/userauth$", delay=30, count=100)
            result = {}

            def slow_login():
                result["reply"] = agent.call(
                    "login", {"email": "slow@example.com", "password": PASSWORD})

            t = threading.Thread(target=slow_login)
            t.start()
            wait_for(lambda: any(f["count"] < 100 for f in fake.faults_list()),
                     what="the login to reach the API")
            # The agent keeps answering while the login waits for the API.
            for _ in range(5):
                self.assertIn("result", agent.call("status"))
            t.join(15)
            self.assertFalse(t.is_alive())
            err = result["reply"]["error"]
            self.assertEqual(err["code"], "timeout")
            self.assertIn("timed out", err["message"])
            self.assertFalse(agent.call("status")["result"]["session"]["logged_in"])

    def test_api_error_keeps_its_status_and_message_apart(self):
        with FakeAiven() as fake:
            fake.add_user("e@example.com", PASSWORD)
            agent = self.start_agent(env={"AIVEN_WEB_URL": fake.url,
                                          "AIVEN_CA_CERT": fake.ca_file})
            fake.add_fault("POST", "^/v1/userauth$", status=503,
                           body={"message": "Service temporarily unavailable",
                                 "errors": [{"message": "Service temporarily unavailable",
                                             "status": 503}]})
            err = agent.call("login", {"email": "e@example.com", "password": PASSWORD})["error"]
            self.assertEqual(err["code"], "api_error")
            self.assertEqual(err["status"], 503)
            self.assertEqual(err["api_message"], "Service temporarily unavailable")


class Stopping(TestCase):
    def hanging_login(self, grace):
        """An agent with --shutdown-grace `grace` and a client whose login the API holds."""
        fake = FakeAiven().start()
        self.addCleanup(fake.stop)
        fake.add_user("slow@example.com", PASSWORD)
        agent = self.start_agent("--shutdown-grace", grace,
                                 env={"AIVEN_WEB_URL": fake.url, "AIVEN_CA_CERT": fake.ca_file})
        fake.add_fault("POST", "^/v1/userauth$", delay=30, count=100)
        c = agent.client(timeout=20)
        self.addCleanup(c.close)
        c.send_raw(json.dumps({"v": 1, "id": 1, "op": "login",
                               "args": {"email": "slow@example.com",
                                        "password": PASSWORD}}).encode() + b"\n")
        wait_for(lambda: any(f["count"] < 100 for f in fake.faults_list()),
                 what="the login to reach the API")
        return agent, c

    def test_sigterm_with_a_request_waiting_on_the_api_ends_after_the_grace(self):
        agent, c = self.hanging_login("0.5")
        self.assertEqual(agent.stop(signal.SIGTERM, timeout=15), 0)
        self.assertFalse(os.path.exists(agent.sock))
        self.assertIn("1 connection(s) still busy at the end of the grace period; exiting",
                      agent.log())
        self.assertTrue(c.at_eof())  # no reply, the connection closed

    def test_a_second_signal_during_the_grace_ends_the_agent_at_once(self):
        agent, _ = self.hanging_login("60")
        agent.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "stopping: SIGTERM" in agent.log(), what="the stop to begin")
        # Well before the 60 s grace: the second signal does not wait for the login.
        self.assertEqual(agent.stop(signal.SIGTERM, timeout=15), 0)
        self.assertFalse(os.path.exists(agent.sock))


class LogLines(TestCase):
    def test_text_from_the_api_cannot_forge_a_log_line(self):
        with FakeAiven() as fake:
            fake.add_user("log@example.com", PASSWORD)
            agent = self.start_agent("-d", env={"AIVEN_WEB_URL": fake.url,
                                                "AIVEN_CA_CERT": fake.ca_file})
            self.assertIn("result", agent.call("login", {"email": "log@example.com",
                                                         "password": PASSWORD}))
            forged = "avn-agent[1]: error: forged line"
            fake.add_fault("GET", "^/v1/me$", status=401, body={"message": "gone\n" + forged})
            err = agent.call("user_info")["error"]
            self.assertEqual(err["api_message"], "gone\n" + forged)  # the client gets it as sent
            wait_for(lambda: "forged line" in agent.log(), what="the API's message in the log")
            lines = agent.log().splitlines()
            self.assertFalse([l for l in lines if l.startswith(forged)], lines)
            self.assertTrue([l for l in lines if "gone?" + forged in l], lines)


class Secrets(TestCase):
    def test_no_password_or_token_in_the_log_even_in_debug(self):
        with FakeAiven() as fake:
            fake.add_user("log@example.com", PASSWORD)
            agent = self.start_agent("-d", env={"AIVEN_WEB_URL": fake.url,
                                                "AIVEN_CA_CERT": fake.ca_file})
            agent.call("login", {"email": "log@example.com", "password": "wrong password"})
            self.assertIn("result", agent.call("login", {"email": "log@example.com",
                                                          "password": PASSWORD}))
            created = agent.call("access_token_create", {"description": "ci"})["result"]
            agent.call("user_info")
            agent.call("logout")
            log = agent.log()
            self.assertIn("logged in as log@example.com", log)
            secrets = [PASSWORD, "wrong password", created["full_token"]]
            secrets += [t["full_token"] for t in fake.user_tokens("log@example.com")]
            for s in secrets:
                self.assertNotIn(s, log)
            with open(f"/proc/{agent.pid}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
            for s in secrets:
                self.assertNotIn(s, cmdline)
