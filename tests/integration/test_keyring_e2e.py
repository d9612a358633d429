"""The session kept in a real keyring, end to end: the real avn-agent and avn-user,
the local Aiven fake, and a real gnome-keyring on a private D-Bus session
(keyring_session.PrivateKeyring). Restarts and crashes, what the keyring shows,
logout, a session the API no longer takes, a locked and a hung keyring, the
fallback to the file store, the file store itself, and secrets kept out of the
agent's log and /proc."""

import json
import os
import signal
import stat
import subprocess
import time

from harness import (AVN_INFO_COLUMNS, NOT_LOGGED_IN, STORED, Agent, FakeUsersCase, avn_table,
                     binary, popen_user, run_user, wait_for)
from keyring_session import PrivateKeyring

# The agent's deadline for one keyring call is 5 s (docs/KEYRING.md).
KEYRING_ANSWER_LIMIT = 15.0


class KeyringCase(FakeUsersCase):
    """The fake Aiven API with users, a private keyring, and agents started on them.
    After each test, no password or token may be in the agent's log."""

    keyring = True

    def setUp(self):
        super().setUp()
        self.kr = None
        if self.keyring:
            self.kr = PrivateKeyring().start()
            self.addCleanup(self.kr.close)
        sock_dir = self.tmp("sock")
        os.chmod(sock_dir, 0o700)
        # Given explicitly: the keyring's environment has an XDG_RUNTIME_DIR of its own.
        self.sock = os.path.join(sock_dir, "agent.sock")
        self.secrets = [self.PASSWORD]
        self.seen_tokens = set()
        self.agents = []
        self.addCleanup(self.check_agent_log)

    # -- agents -----------------------------------------------------------------

    def agent_env(self):
        env = {"AIVEN_WEB_URL": self.fake.url, "AIVEN_CA_CERT": self.fake.ca_file}
        if self.kr is not None:
            env.update(self.kr.env)
        return env

    def launch(self, *args, keyring="secret-service", env=None, expect_ready=True):
        """An agent in the foreground on this test's socket, keyring and fake."""
        argv = (["--keyring", keyring] if keyring else []) + list(args)
        agent = Agent(self, argv, env=env if env is not None else self.agent_env(),
                      sock=self.sock)
        agent.start(expect_ready=expect_ready)
        self.agents.append(agent)
        self.agent = agent
        return agent

    def process_env(self, env):
        """The environment an agent started by `launch` would get from `env`."""
        return Agent(self, [], env=env, sock=self.sock).env

    def kill9(self, agent=None):
        agent = agent or self.agent
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait(10)

    def status(self, agent=None):
        """`avn-user status --json`, parsed."""
        r = run_user(agent or self.agent, "status", "--json", timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def session_status(self, agent=None):
        return (agent or self.agent).call("status")["result"]["session"]

    def settled(self, what, predicate, agent=None):
        """Waits until the `session` section of status satisfies `predicate` (the agent
        restores the session in the background once it serves)."""
        last = {}

        def check():
            last["s"] = self.session_status(agent)
            return predicate(last["s"])

        try:
            wait_for(check, timeout=10, what=what)
        except AssertionError:
            self.fail(f"{what}: status stayed {last.get('s')}\n{(agent or self.agent).log()}")
        return last["s"]

    def restored(self, agent=None):
        return self.settled("the session restored", lambda s: s.get("logged_in"), agent)

    # -- avn-user -----------------------------------------------------------------

    def user(self, *args, agent=None, **kw):
        return run_user(agent or self.agent, *args, **kw)

    def login(self, email=None):
        email = email or self.ALICE
        r = self.user("login", email, env={"AIVEN_PASSWORD": self.PASSWORD})
        self.assertResult(r, 0, "", STORED)
        self.remember_tokens()

    def remember_tokens(self):
        """Full tokens are gone from the fake once revoked: keep every one seen."""
        for u in self.fake.users():
            self.seen_tokens.update(t["full_token"] for t in self.fake.user_tokens(u["user"]))

    def info_table(self, email=None):
        return avn_table([self.fake.user(email or self.ALICE)], AVN_INFO_COLUMNS)

    def assertInfoWorks(self, email=None, agent=None):
        self.assertResult(self.user("info", agent=agent), 0, self.info_table(email), "")

    def live_session_token(self, email=None):
        live = [t for t in self.fake.user_tokens(email or self.ALICE, include_dead=False)
                if not t["created_manually"]]
        self.assertEqual(len(live), 1, live)
        return live[0]["full_token"]

    def check_agent_log(self):
        self.remember_tokens()
        for agent in self.agents:
            log = agent.log()
            for s in list(self.secrets) + sorted(self.seen_tokens):
                self.assertNotIn(s, log, "a secret reached the agent's log")


class Restart(KeyringCase):
    def test_session_survives_kill_9(self):
        self.launch()
        self.login()
        self.kill9()
        agent = self.launch()
        s = self.restored()
        self.assertEqual(s["user_email"], self.ALICE)
        self.assertInfoWorks()
        st = self.status()
        self.assertTrue(st["session"]["logged_in"], st)
        self.assertEqual(st["session"]["user_email"], self.ALICE)
        self.assertEqual(st["session"]["store"], "secret-service")
        self.assertNotIn("restore_error", st["session"])
        self.assertEqual(st["keyring"]["backend"], "secret-service")
        self.assertFalse(st["keyring"]["fallback"])
        self.assertIn(f"restored the session of {self.ALICE} from the secret-service store",
                      agent.log())
        # No second login happened: the only session token is still the first one.
        logins = [e for e in self.fake.requests() if e["path"] == "/v1/userauth"]
        self.assertEqual(len(logins), 1)

    def test_first_command_right_after_start_sees_the_stored_session(self):
        # What a user does after a reboot: start the agent, run a command. The agent
        # announces itself (-D prints the shell code) before its background restore
        # has read the keyring; a command in that window must not say "not
        # authenticated" while a session is stored. Several restarts, since it is a race.
        self.launch()
        self.login()
        for _ in range(5):
            self.kill9()
            self.launch()
            r = self.user("info")
            self.assertResult(r, 0, self.info_table(), "")


class Items(KeyringCase):
    def test_item_attributes_and_label(self):
        self.launch()
        self.login()
        token = self.live_session_token()
        items = self.kr.items()
        self.assertEqual(len(items), 1, items)
        item = items[0]
        self.assertEqual(item["attributes"], {
            "application": "avn-agent", "api_url": self.fake.url, "kind": "session", "name": "",
            "account": self.ALICE})
        self.assertEqual(item["schema"], "io.aiven.AvnAgent")
        self.assertEqual(item["label"],
                         f"avn-agent: Aiven session for {self.ALICE} ({self.fake.url})")
        # Only identifiers are visible without the secret: no password, no token.
        visible = [item["label"], item["path"]]
        visible += [k + "=" + v for k, v in item["attributes"].items()]
        for text in visible:
            self.assertNotIn(self.PASSWORD, text)
            self.assertNotIn(token, text)
        # The token is the item's secret, and the password is not kept at all.
        self.assertEqual(json.loads(item["secret"])["token"], token)
        self.assertNotIn(self.PASSWORD, item["secret"])
        # The documented narrower search finds it too.
        self.assertEqual(len(self.kr.items("kind", "session")), 1)

    def test_login_as_another_user_replaces_the_item(self):
        self.launch()
        self.login(self.ALICE)
        self.login(self.BOB)
        items = self.kr.items()
        self.assertEqual([i["attributes"]["account"] for i in items], [self.BOB], items)

    def test_logout_leaves_no_item(self):
        self.launch()
        self.login()
        self.assertEqual(len(self.kr.items()), 1)
        self.assertResult(self.user("logout"), 0, "", "")
        self.assertEqual(self.kr.items(), [])
        # And a restart finds nothing to restore.
        self.kill9()
        self.launch()
        self.settled("restore finished", lambda s: "restore_error" not in s)
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)


class DeadSession(KeyringCase):
    def test_session_expired_on_the_server_is_cleared_at_start(self):
        self.launch()
        self.login()
        self.agent.stop()  # SIGTERM
        self.fake.expire_user_tokens(self.ALICE)
        self.launch()
        s = self.settled("the dead session cleared", lambda s: "cleared" in s)
        self.assertFalse(s["logged_in"], s)
        self.assertIn("the stored session was no longer valid", s["cleared"])
        self.assertFalse(self.status()["session"]["logged_in"])
        self.assertEqual(self.kr.items(), [])
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)

    def test_session_past_its_max_age_is_cleared_at_start(self):
        self.launch()
        self.login()
        self.agent.stop()
        self.fake.advance(31 * 24 * 3600)  # the fake's session max age is 30 days
        self.launch()
        s = self.settled("the dead session cleared", lambda s: "cleared" in s)
        self.assertIn("no longer valid", s["cleared"])
        self.assertEqual(self.kr.items(), [])
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)


class Locked(KeyringCase):
    def test_restart_with_the_keyring_locked_then_unlocked(self):
        self.launch()
        self.login()
        self.agent.stop()
        self.kr.lock()
        self.launch()
        s = self.settled("the restore failed", lambda s: "restore_error" in s)
        self.assertFalse(s["logged_in"], s)

        r = self.user("info")
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("ERROR\tcommand failed: "), r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("locked", r.stderr)
        self.assertIn("unlock", r.stderr)
        self.assertNotIn("not authenticated", r.stderr)

        st = self.status()["session"]
        self.assertFalse(st["logged_in"], st)
        self.assertEqual(st["restore_code"], "keyring_locked", st)
        self.assertIn("locked", st["restore_error"])
        # The agent never unlocks the keyring itself, nor takes it for a logout.
        self.assertTrue(self.kr.is_locked())
        items = self.kr.items()
        self.assertEqual([(i["attributes"]["kind"], i["secret"]) for i in items],
                         [("session", None)], items)
        self.assertNotIn("cleared", st)

        self.kr.unlock()
        self.assertInfoWorks()
        st = self.status()["session"]
        self.assertTrue(st["logged_in"], st)
        self.assertNotIn("restore_error", st)
        self.assertNotIn("restore_code", st)
        logins = [e for e in self.fake.requests() if e["path"] == "/v1/userauth"]
        self.assertEqual(len(logins), 1, "a second login was needed")

    def test_logout_with_the_keyring_locked_still_logs_out(self):
        self.launch()
        self.login()
        token = self.live_session_token()
        self.kr.lock()
        # The token is revoked and the session ends; the item the locked keyring
        # keeps is checked with the API, and dropped, at the next start.
        self.assertResult(self.user("logout"), 0, "", "")
        self.assertIn("ended, but its item stays in the store", self.agent.log())
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)
        with self.assertRaises(KeyError):  # revoked
            self.fake.token(token)
        self.kr.unlock()
        self.agent.stop()
        self.launch()
        s = self.settled("the left-over item dropped", lambda s: "cleared" in s)
        self.assertFalse(s["logged_in"], s)
        self.assertEqual(self.kr.items(), [])


class Hung(KeyringCase):
    def test_stopped_keyring_daemon(self):
        agent = self.launch()
        self.login()
        self.remember_tokens()
        self.fake.clear_requests()
        self.kr.stop()
        try:
            logout = popen_user(agent, "logout")
            try:
                # The revoke reached the API: the agent is now erasing the item.
                wait_for(lambda: any(e["method"] == "DELETE" for e in self.fake.requests()),
                         timeout=10, what="the logout's revoke")
                time.sleep(0.3)
                self.assertIsNone(logout.poll(), "logout ended before the keyring deadline")
                r = run_user(agent, "status", timeout=10)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Agent:        running", r.stdout)
                self.assertIsNone(logout.poll(), "status was not answered during the logout")
                # Bounded by the agent's keyring deadline (5 s), not by the hung daemon.
                out, err = logout.communicate(timeout=KEYRING_ANSWER_LIMIT)
            finally:
                if logout.poll() is None:
                    logout.kill()
                    logout.communicate()
        finally:
            self.kr.cont()
        # The token is revoked, so the logout stands: the session ends, and the item the
        # keyring could not erase is checked with the API at the next start.
        self.assertEqual((logout.returncode, out, err), (0, "", ""))
        self.assertIn("ended, but its item stays in the store", agent.log())
        self.assertIn("did not answer", agent.log())
        # Working again: a new login is kept and used.
        self.login()
        self.assertInfoWorks()
        items = self.kr.items()
        self.assertEqual(len(items), 1, items)
        self.assertEqual(json.loads(items[0]["secret"])["token"], self.live_session_token())


class NoBus(KeyringCase):
    keyring = False

    def no_bus_env(self):
        state = self.tmp("state")
        return state, {"AIVEN_WEB_URL": self.fake.url, "AIVEN_CA_CERT": self.fake.ca_file,
                       "XDG_STATE_HOME": state}

    def test_auto_falls_back_to_the_file_loudly(self):
        state, env = self.no_bus_env()
        agent = self.launch(keyring="auto", env=env)
        path = os.path.join(state, "avn-agent", "secrets.json")
        warnings = [line for line in agent.log().splitlines() if "warning" in line]
        self.assertTrue(any(line.startswith("avn-agent: warning: ") and path in line
                            and "D-Bus" in line for line in warnings), agent.log())
        k = self.status()["keyring"]
        self.assertEqual(k["backend"], "file", k)
        self.assertIs(k["fallback"], True)
        self.assertIn("D-Bus", k["why"])
        self.assertIn(path, k["why"])
        r = run_user(agent, "status")
        self.assertIn("WARNING: fallback", r.stdout)
        # And it does keep the session there.
        self.login()
        self.assertTrue(os.path.isfile(path))

    def test_secret_service_without_a_bus_refuses_to_start(self):
        _, env = self.no_bus_env()
        r = subprocess.run([binary("avn-agent"), "-D", "-s", "--keyring", "secret-service"],
                           env=self.process_env(env), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("avn-agent: --keyring secret-service: "), r.stderr)
        self.assertIn("DBUS_SESSION_BUS_ADDRESS", r.stderr)
        self.assertFalse(os.path.exists(self.sock))

    def test_a_bus_without_a_secret_service(self):
        with PrivateKeyring(keyring=False) as bus:
            env = dict(bus.env, AIVEN_WEB_URL=self.fake.url, AIVEN_CA_CERT=self.fake.ca_file)
            r = subprocess.run([binary("avn-agent"), "-D", "-s", "--keyring", "secret-service"],
                               env=self.process_env(env),
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=20)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("org.freedesktop.secrets", r.stderr)
            agent = self.launch(keyring="auto", env=env)
            k = self.status()["keyring"]
            self.assertEqual((k["backend"], k["fallback"]), ("file", True), k)
            self.assertIn("no Secret Service", k["why"])
            self.assertIn("avn-agent: warning: no Secret Service", agent.log())


class FileStore(KeyringCase):
    keyring = False

    def test_file_backend_end_to_end(self):
        state = self.tmp("state")
        env = {"AIVEN_WEB_URL": self.fake.url, "AIVEN_CA_CERT": self.fake.ca_file,
               "XDG_STATE_HOME": state}
        self.launch(keyring="file", env=env)
        self.login()
        self.kill9()
        self.launch(keyring="file", env=env)
        self.restored()
        self.assertInfoWorks()
        st = self.status()
        self.assertEqual((st["keyring"]["backend"], st["keyring"]["fallback"]), ("file", False))

        folder = os.path.join(state, "avn-agent")
        path = os.path.join(folder, "secrets.json")
        self.assertEqual(stat.S_IMODE(os.lstat(folder).st_mode), 0o700)
        self.assertTrue(stat.S_ISDIR(os.lstat(folder).st_mode))
        self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o600)
        self.assertTrue(stat.S_ISREG(os.lstat(path).st_mode))
        with open(path) as f:
            doc = json.load(f)
        self.assertEqual(doc["format"], "avn-agent-secrets")
        self.assertEqual([(i["kind"], i["account"]) for i in doc["items"]],
                         [("session", self.ALICE)])
        self.assertNotIn(self.PASSWORD, json.dumps(doc))

        self.agent.stop()
        os.chmod(path, 0o644)
        agent = self.launch(keyring="file", env=env, expect_ready=False)
        self.assertEqual(agent.proc.wait(20), 1)
        self.assertIn(f"chmod 600 {path}", agent.log())
        self.assertFalse(os.path.exists(self.sock))


class SecretsStayOut(KeyringCase):
    def test_log_cmdline_and_environ(self):
        wrong = "wrong horse 22b9"
        self.secrets += [wrong, self.kr.password]
        log_file = self.tmp_path("debug.log")
        agent = self.launch("-d", "--log-file", log_file)

        r = self.user("login", self.ALICE, "--password-stdin", input=wrong + "\n")
        self.assertResult(r, 1, "",
                          "ERROR\tcommand failed: Error: Authentication failed (status 403)\n")
        self.login()
        session_token = self.live_session_token()
        r = self.user("access-token", "create", "--description", "ci", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        created = json.loads(r.stdout)[0]["full_token"]
        self.remember_tokens()
        self.assertIn(session_token, self.seen_tokens)
        self.assertIn(created, self.seen_tokens)
        self.assertResult(self.user("logout"), 0, "", "")

        # Malformed requests that carry a secret: the debug log reports them, and
        # must not repeat what they carried.
        for line in ('{"v":"one","id":1,"op":"login","args":{"email":"a@b.c","password":"%s"}}',
                     '{"v":1,"id":2,"op":"login","args":{"email":"a@b.c","password":"%s"}',
                     '{"v":1,"id":[3],"op":"login_token","args":{"token":"%s"}}'):
            c = agent.client()
            try:
                c.send_raw((line % wrong).encode() + b"\n")
                reply = c.read_line()
                self.assertIn("error", reply)
                self.assertNotIn(wrong, json.dumps(reply))
            finally:
                c.close()

        with open(f"/proc/{agent.pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace")
        try:
            with open(f"/proc/{agent.pid}/environ", "rb") as f:
                environ = f.read().decode(errors="replace")
        except PermissionError:
            # Not dumpable: /proc/PID/environ belongs to root; other users see nothing.
            environ = ""
        with open(log_file, "rb") as f:
            debug_log = f.read().decode(errors="replace")
        # The debug log is really there and says what happened, without the values.
        self.assertIn(": debug: ", debug_log)
        self.assertIn(f"logged in as {self.ALICE}", debug_log)
        for name, text in (("debug log", debug_log), ("stderr", agent.log()),
                           ("cmdline", cmdline), ("environ", environ)):
            for s in [self.PASSWORD, wrong, session_token, created, self.kr.password]:
                self.assertNotIn(s, text, f"a secret is in the agent's {name}")
