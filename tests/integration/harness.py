"""Test support for the integration tests: the real avn-agent and avn-user
binaries, run in throw-away folders, with nothing left behind.

Locations come from the environment set by ctest (tests/CMakeLists.txt):
AVN_BIN_DIR (the built binaries) and AVN_SOURCE_DIR (the checkout).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get(
    "AVN_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN_DIR = os.environ.get("AVN_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))
BUILD_DIR = os.environ.get("AVN_BUILD_DIR", os.path.dirname(BIN_DIR))
SANITIZED = os.environ.get("AVN_SANITIZE", "0") in ("1", "ON", "TRUE", "true")

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "fake_aiven"))


def binary(name):
    return os.path.join(BIN_DIR, name)


def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    """Polls `predicate` until it is true; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


class Client:
    """A protocol client on one connection: newline-delimited JSON."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_line(self):
        """One reply line as a dict, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, op, args=None, v=1):
        rid = self.next_id
        self.next_id += 1
        req = {"v": v, "id": rid, "op": op}
        if args is not None:
            req["args"] = args
        self.send_raw(json.dumps(req).encode() + b"\n")
        reply = self.read_line()
        assert reply is not None, f"connection closed while waiting for the reply to {op}"
        assert reply["id"] == rid, reply
        return reply

    def at_eof(self, timeout=5.0):
        """True when the agent closes the connection within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class Agent:
    """A real avn-agent in the foreground (-D) with its log in a file."""

    def __init__(self, case, args=(), env=None, sock=None):
        self.case = case
        self.runtime = case.tmp("runtime")
        os.chmod(self.runtime, 0o700)
        self.sock = sock or os.path.join(self.runtime, "avn-agent", "agent.sock")
        self.log_path = case.tmp_path("agent.log")
        self.env = case.env(XDG_RUNTIME_DIR=self.runtime, AVN_AGENT_SOCK=sock or None)
        if env:
            self.env.update({k: v for k, v in env.items() if v is not None})
        self.args = list(args)
        self.proc = None

    def start(self, expect_ready=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary("avn-agent"), "-D", "-s", *self.args], env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.logf)
        self.case.addCleanup(self.kill)
        if expect_ready:
            # -D prints the shell code once the socket listens.
            first = self.proc.stdout.readline().decode()
            assert first.startswith("AVN_AGENT_SOCK="), f"agent did not start: {first!r} {self.log()}"
        return self

    @property
    def pid(self):
        return self.proc.pid

    def client(self, timeout=10.0):
        return Client(self.sock, timeout)

    def call(self, op, args=None):
        c = self.client()
        try:
            return c.call(op, args)
        finally:
            c.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            return self.proc.wait(timeout)
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "logf", None):
            self.logf.close()

    def user(self, *args, **kw):
        """Runs avn-user against this agent."""
        env = dict(self.env)
        env["AVN_AGENT_SOCK"] = self.sock
        env.update(kw.pop("env", {}))
        return run([binary("avn-user"), *args], env=env, **kw)


def run(argv, env=None, input=None, timeout=60, check=False):
    return subprocess.run(argv, env=env, input=input, capture_output=True, timeout=timeout,
                          text=True, check=check)


class TestCase(unittest.TestCase):
    """Gives each test a private folder and an environment without the
    caller's agent, display or session bus."""

    def setUp(self):
        self._tmp = tempfile.mkdtemp(prefix="avn-it-")
        os.chmod(self._tmp, 0o755)
        self.addCleanup(shutil.rmtree, self._tmp, True)

    def tmp_path(self, name):
        return os.path.join(self._tmp, name)

    def tmp(self, name):
        path = self.tmp_path(name)
        os.makedirs(path, exist_ok=True)
        return path

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AVN_AGENT_", "AIVEN_", "DBUS_", "XDG_", "LISTEN_", "NOTIFY_"))
               and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env["HOME"] = self.tmp("home")
        env["SHELL"] = "/bin/sh"
        if SANITIZED:
            # The agent is not dumpable by design; LeakSanitizer needs ptrace.
            env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        for k, v in extra.items():
            if v is not None:
                env[k] = v
        return env

    def start_agent(self, *args, **kw):
        return Agent(self, args, **kw).start()

    def assertResult(self, r, status, stdout=None, stderr=None):
        """Checks the exit status and, when given, stdout and stderr exactly."""
        self.assertEqual(r.returncode, status, (r.stdout, r.stderr))
        if stdout is not None:
            self.assertEqual(r.stdout, stdout, r.stderr)
        if stderr is not None:
            self.assertEqual(r.stderr, stderr)


# ---------------------------------------------------------------------------
# The `avn user` commands (test_user_*.py): avn-user against an agent that
# talks to the local Aiven fake, and avn's output rules re-stated in Python.
# ---------------------------------------------------------------------------

AVN_INFO_COLUMNS = ["user", "real_name", "state", "token_validity_begin", "projects", "auth"]
AVN_TOKEN_CREATE_COLUMNS = ["expiry_time", "description", "max_age_seconds", "extend_when_used",
                            "full_token"]
AVN_TOKEN_LIST_COLUMNS = ["expiry_time", "token_prefix", "description", "max_age_seconds",
                          "extend_when_used", "last_used_time", "last_ip", "last_user_agent"]


def start_user_agent(case, fake, *args, env=None):
    """An agent in the foreground whose Aiven API is `fake`."""
    full = {"AIVEN_WEB_URL": fake.url, "AIVEN_CA_CERT": fake.ca_file}
    full.update(env or {})
    return case.start_agent(*args, env=full)


def user_env(agent, env=None):
    full = dict(agent.env)
    full["AVN_AGENT_SOCK"] = agent.sock
    full.update(env or {})
    return full


def run_user(agent, *args, input=None, env=None, timeout=60):
    """avn-user against `agent` in a session of its own: no controlling terminal, so
    password prompts fall back to stdin as under cron or CI. Text stdout and stderr."""
    return subprocess.run([binary("avn-user"), *args], env=user_env(agent, env), input=input,
                          capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)


def popen_user(agent, *args, env=None):
    """avn-user started in the background, without a controlling terminal."""
    return subprocess.Popen([binary("avn-user"), *args], env=user_env(agent, env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


# Runs in the child: a new session whose first terminal opened becomes its
# controlling terminal (/dev/tty), then avn-user in place of the interpreter.
_PTY_CHILD = (
    "import os, sys\n"
    "os.setsid()\n"
    "os.close(os.open(sys.argv[1], os.O_RDWR))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n")


class PtyUser:
    """avn-user whose controlling terminal is a pseudo-terminal driven by the test,
    while stdin, stdout and stderr are pipes (what getpass and input() tell apart)."""

    def __init__(self, agent, *args, env=None, stdin_text=""):
        import pty  # noqa: F401  (os.openpty needs the pty support it checks for)
        self.master, self.slave = os.openpty()
        self.tty_output = b""
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _PTY_CHILD, os.ttyname(self.slave), binary("avn-user"), *args],
            env=user_env(agent, env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.proc.stdin.write(stdin_text.encode())
        self.proc.stdin.close()
        self.proc.stdin = None

    def _read(self, timeout):
        import select
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:
            return False
        self.tty_output += chunk
        return bool(chunk)

    def read_until(self, text, timeout=10.0):
        """Waits until the terminal has shown `text` (bytes or str)."""
        want = text.encode() if isinstance(text, str) else text
        deadline = time.monotonic() + timeout
        while want not in self.tty_output:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(left) and self.proc.poll() is not None):
                raise AssertionError(f"terminal never showed {want!r}: {self.tty_output!r}")

    def type(self, data):
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def echo_on(self):
        import termios
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def finish(self, timeout=30):
        """Waits for the exit; returns (status, stdout, stderr) as text."""
        out, err = self.proc.communicate(timeout=timeout)
        while self._read(0.05):
            pass
        return self.proc.returncode, out.decode(), err.decode()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def avn_cell(key, value):
    """One table cell as avn's pretty-printer shows `value` under column `key`."""
    if isinstance(value, list):
        return ", ".join(avn_cell(None, v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str):
        if key and key.endswith("_time") and value.endswith("Z") and "." in value:
            value = value[:value.index(".")] + "Z"
        encoded = json.dumps(value)
        quoted = f'"{value}"'
        if quoted in (encoded, encoded.replace("\\u00a3", "£").replace("\\u20ac", "€")):
            return value
        return encoded
    return json.dumps(value)


def avn_table(rows, columns):
    """avn's table of top-level members `columns` of `rows`, one "\\n" per line."""
    if not rows:
        return ""
    cells = [{c: avn_cell(c, row[c]) for c in columns if c in row} for row in rows]
    width = {c: max([len(c)] + [len(r[c]) for r in cells if c in r]) for c in columns}
    lines = ["  ".join(c.upper().ljust(width[c]) for c in columns),
             "  ".join("=" * width[c] for c in columns)]
    lines += ["  ".join(r.get(c, "").ljust(width[c]) for c in columns).strip() for r in cells]
    return "".join(line + "\n" for line in lines)


def avn_json(value):
    """avn's --json output."""
    return json.dumps(value, indent=4, sort_keys=True) + "\n"


def api_token_view(control_view, current_prefix=None, full=False):
    """The API's token object for a token the fake reports through its controls."""
    view = {k: v for k, v in control_view.items() if k not in ("full_token", "user_email", "state")}
    view["currently_active"] = control_view["token_prefix"] == current_prefix
    if full:
        view["full_token"] = control_view["full_token"]
    return view


class FakeUsersCase(TestCase):
    """A local Aiven fake (self.fake) with two password users, Alice and Bob."""

    ALICE = "alice@example.com"
    BOB = "bob@example.com"
    PASSWORD = "correct horse 7f3a"

    def setUp(self):
        super().setUp()
        from fake_aiven import FakeAiven
        self.fake = FakeAiven().start()
        self.addCleanup(self.fake.stop)
        self.fake.add_user(self.ALICE, self.PASSWORD, real_name="Alice Example",
                           projects=["alpha", "beta"])
        self.fake.add_user(self.BOB, self.PASSWORD, real_name="Bob", projects=["gamma"])


class UserCase(FakeUsersCase):
    """The fake with users, an agent that uses it, and, after each test, a check
    that no password, OTP or token reached the agent's log."""

    OTP = "731902"
    agent_args = ()

    def setUp(self):
        super().setUp()
        self.secrets = [self.PASSWORD, self.OTP]
        self.agent = start_user_agent(self, self.fake, *self.agent_args)
        self.addCleanup(self.check_agent_log)

    def check_agent_log(self):
        log = self.agent.log()
        secrets = list(self.secrets)
        for user in self.fake.users():
            secrets += [t["full_token"] for t in self.fake.user_tokens(user["user"])]
        for s in secrets:
            self.assertNotIn(s, log, "a secret reached the agent's log")

    def user(self, *args, **kw):
        return run_user(self.agent, *args, **kw)

    def login(self, email=None):
        """Logs in with AIVEN_PASSWORD; returns the session token's control view."""
        email = email or self.ALICE
        r = self.user("login", email, env={"AIVEN_PASSWORD": self.PASSWORD})
        self.assertResult(r, 0, "", "INFO\tAiven credentials stored in avn-agent\n")
        return self.newest_login_token(email)

    def newest_login_token(self, email):
        live = [t for t in self.fake.user_tokens(email, include_dead=False)
                if not t["created_manually"]]
        self.assertTrue(live, "no live login token")
        return live[-1]

    def assertLoggedInAs(self, email):
        """`avn-user info` works and shows `email`'s account."""
        self.assertResult(self.user("info"), 0,
                          avn_table([self.fake.user(email)], AVN_INFO_COLUMNS), "")

    def assertNotLoggedIn(self):
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)


NOT_LOGGED_IN = ("ERROR\tcommand failed: UserError: not authenticated: please login first with "
                 "'avn user login'\n")
STORED = "INFO\tAiven credentials stored in avn-agent\n"
