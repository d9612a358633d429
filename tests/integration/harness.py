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
