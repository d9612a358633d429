"""A real Secret Service for the integration tests: a private D-Bus session bus
and a gnome-keyring-daemon (secrets component only) on it, whose `login`
collection is created and unlocked with a known password, in a throw-away
HOME with its own XDG folders.

    with PrivateKeyring() as kr:
        agent_env = kr.env          # DBUS_SESSION_BUS_ADDRESS, HOME, XDG_* folders
        kr.lock(); kr.unlock()      # lock / unlock the `login` collection
        kr.stop(); kr.cont()        # SIGSTOP / SIGCONT the daemon (a hung keyring)
        kr.items()                  # the avn-agent items, as secret-tool shows them

What this does, and why (the same lessons as tests/unit/keyring_fixture.cpp):

- The bus is `dbus-daemon --nofork --print-address` with a generated
  configuration that names no service folders, so nothing is ever
  auto-started on it (with the stock session configuration a second
  gnome-keyring is activated now and then).
- The keyring is `gnome-keyring-daemon --foreground --unlock
  --components=secrets` with the password on stdin *without* a trailing
  newline (it would be part of the password). `--foreground` keeps it a
  direct child, so it can be stopped and reaped; it is waited for with
  `gdbus wait --session --timeout 10 org.freedesktop.secrets`.
- DISPLAY and WAYLAND_DISPLAY are removed from every child's environment: with
  a display, an unlock prompt could open a window and block.
- Both daemons get PR_SET_PDEATHSIG (SIGTERM) so they do not outlive the test
  process even if it crashes (the signal follows the *thread* that started
  them: start from the main thread); `close()` stops them (SIGCONT first, since a
  test may have stopped the keyring, then SIGTERM, then SIGKILL) and reaps
  them, then removes the folder.
- The daemon's pid is the one the bus reports for `org.freedesktop.secrets`
  (GetConnectionUnixProcessID), checked against our child's pid; nothing
  is ever looked up by name (`pgrep -f` would match the wrapper shell too).

Unlocking without a restart: `unlock()` speaks gnome-keyring's control
socket (`$XDG_RUNTIME_DIR/keyring/control`), the channel pam_gnome_keyring
uses to unlock the login keyring of a running daemon: one NUL byte (the
daemon takes the peer's credentials from the socket), then a big-endian
packet `u32 length, u32 op (1 = unlock), u32 password length, password`;
the answer is `u32 length (8), u32 result` with 0 = ok, 1 = denied (a wrong
password), 2 = failed. The daemon, its pid and its bus name stay the same.
The alternatives do not do that, headless:

- `org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface
  .UnlockWithMasterPassword` needs the password as a Secret Service secret,
  i.e. inside a session opened with `OpenSession` on the *same* bus
  connection; `gdbus call` opens a new connection per call, and the
  standard library has no D-Bus client.
- `printf %s PW | gnome-keyring-daemon --unlock` while a daemon runs does not
  unlock that daemon: it starts a second, detached daemon (reparented to
  init) and the collection stays locked.
- `gnome-keyring-daemon --replace --unlock` works, but the name changes
  hands and the pid changes: a client then has to reconnect, which is
  another thing to test, not a way to unlock.
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile

DEFAULT_PASSWORD = "avn-e2e keyring 5d1c"

LOGIN_COLLECTION = "/org/freedesktop/secrets/collection/login"

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def _die_with_parent(parent):
    """preexec_fn: the child gets SIGTERM when the process that started it dies.
    Everything it calls is resolved before the fork."""

    def child():
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(127)

    return child


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Variables of the caller that must not reach the bus, the keyring or the
# commands run in this session.
_DROPPED_PREFIXES = ("DBUS_", "XDG_", "GNOME_KEYRING_", "AVN_AGENT_", "AIVEN_")
_DROPPED = ("DISPLAY", "WAYLAND_DISPLAY", "SSH_AUTH_SOCK")


class KeyringError(AssertionError):
    """The private session could not do what was asked (a test failure)."""


class PrivateKeyring:
    """A private session bus and, unless `keyring=False`, a gnome-keyring on it.

    `keyring=False` gives a bus on which nothing provides org.freedesktop.secrets.
    """

    def __init__(self, password=DEFAULT_PASSWORD, keyring=True):
        self.password = password
        self.with_keyring = keyring
        self.root = None
        self.address = None
        self.bus_proc = None
        self.keyring_proc = None
        self._log = None
        self.search_messages = []

    # -- life cycle ---------------------------------------------------------

    def start(self):
        self.root = tempfile.mkdtemp(prefix="avn-keyring-")
        try:
            for sub in ("home", "runtime", "data", "config", "cache", "state"):
                os.mkdir(os.path.join(self.root, sub), 0o700)
            self._log = open(os.path.join(self.root, "daemons.log"), "ab")
            self._start_bus()
            if self.with_keyring:
                self._start_keyring()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _spawn(self, argv, **kw):
        return subprocess.Popen(argv, env=self._child_env(),
                                preexec_fn=_die_with_parent(os.getpid()), **kw)

    def _start_bus(self):
        conf = os.path.join(self.root, "bus.conf")
        with open(conf, "w") as f:
            f.write(_BUS_CONFIG.format(dir=self.root))
        self.bus_proc = self._spawn(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile", "--print-address"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log)
        line = self.bus_proc.stdout.readline().decode().strip()
        if not line.startswith("unix:"):
            raise KeyringError(f"dbus-daemon did not start: {line!r} {self.daemon_log()}")
        self.address = line

    def _start_keyring(self):
        self.keyring_proc = self._spawn(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=self._log, stderr=self._log)
        # No trailing newline: it would be part of the password.
        self.keyring_proc.stdin.write(self.password.encode())
        self.keyring_proc.stdin.close()
        waited = self.run(["gdbus", "wait", "--session", "--timeout", "10",
                           "org.freedesktop.secrets"], timeout=20)
        if waited.returncode != 0:
            raise KeyringError(f"gnome-keyring-daemon did not start: {waited.stderr} "
                               f"{self.daemon_log()}")
        pid = self.daemon_pid()
        if pid != self.keyring_proc.pid:
            raise KeyringError(f"org.freedesktop.secrets is pid {pid}, not our daemon "
                               f"{self.keyring_proc.pid}")
        if self.is_locked():
            raise KeyringError("the login collection is locked right after the start")

    def close(self):
        """Stops and reaps both daemons and removes the folder; idempotent."""
        for name in ("keyring_proc", "bus_proc"):
            proc = getattr(self, name)
            if proc is None:
                continue
            _end(proc)
            setattr(self, name, None)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- environment and commands --------------------------------------------

    @property
    def env(self):
        """What a client of this session needs: the bus, HOME and the XDG folders."""
        e = {
            "HOME": os.path.join(self.root, "home"),
            "XDG_RUNTIME_DIR": os.path.join(self.root, "runtime"),
            "XDG_DATA_HOME": os.path.join(self.root, "data"),
            "XDG_CONFIG_HOME": os.path.join(self.root, "config"),
            "XDG_CACHE_HOME": os.path.join(self.root, "cache"),
            "XDG_STATE_HOME": os.path.join(self.root, "state"),
        }
        if self.address:
            e["DBUS_SESSION_BUS_ADDRESS"] = self.address
        return e

    def _child_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED}
        env.update(self.env)
        return env

    def run(self, argv, input=None, timeout=30):
        """Runs a command in this session (text in and out)."""
        return subprocess.run(argv, env=self._child_env(), input=input, capture_output=True,
                              text=True, timeout=timeout)

    def gdbus_call(self, dest, path, method, *args, timeout=30):
        r = self.run(["gdbus", "call", "--session", "--dest", dest, "--object-path", path,
                      "--method", method, *args], timeout=timeout)
        if r.returncode != 0:
            raise KeyringError(f"gdbus {method} failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def daemon_log(self):
        try:
            with open(os.path.join(self.root, "daemons.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except (OSError, TypeError):
            return ""

    # -- the daemon -----------------------------------------------------------

    def daemon_pid(self):
        """The pid owning org.freedesktop.secrets, as the bus says; None when nobody does."""
        r = self.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                      "--object-path", "/org/freedesktop/DBus", "--method",
                      "org.freedesktop.DBus.GetConnectionUnixProcessID",
                      "org.freedesktop.secrets"], timeout=10)
        m = re.search(r"uint32 (\d+)", r.stdout)
        return int(m.group(1)) if r.returncode == 0 and m else None

    def stop(self):
        """SIGSTOP the keyring daemon: it keeps its bus name and answers nothing."""
        os.kill(self._keyring_pid(), signal.SIGSTOP)

    def cont(self):
        """SIGCONT the keyring daemon, then waits until it answers a call again."""
        os.kill(self._keyring_pid(), signal.SIGCONT)
        self.is_locked()

    def _keyring_pid(self):
        if self.keyring_proc is None or self.keyring_proc.poll() is not None:
            raise KeyringError("the keyring daemon is not running")
        return self.keyring_proc.pid

    # -- the login collection ---------------------------------------------------

    def is_locked(self):
        out = self.gdbus_call("org.freedesktop.secrets", LOGIN_COLLECTION,
                              "org.freedesktop.DBus.Properties.Get",
                              "org.freedesktop.Secret.Collection", "Locked")
        return "true" in out

    def lock(self):
        """Locks the login collection with the Secret Service's Lock method."""
        out = self.gdbus_call("org.freedesktop.secrets", "/org/freedesktop/secrets",
                              "org.freedesktop.Secret.Service.Lock",
                              f"[objectpath '{LOGIN_COLLECTION}']")
        # Locked at once, no prompt: "([objectpath '.../login'], objectpath '/')".
        if LOGIN_COLLECTION not in out or not self.is_locked():
            raise KeyringError(f"the login collection was not locked: {out}")

    def unlock(self, password=None):
        """Unlocks the login collection of the running daemon through its control
        socket (see the module's documentation); the daemon stays the same."""
        pw = (self.password if password is None else password).encode()
        packet = struct.pack(">II", 1, len(pw)) + pw  # op 1: unlock
        packet = struct.pack(">I", 4 + len(packet)) + packet
        path = os.path.join(self.env["XDG_RUNTIME_DIR"], "keyring", "control")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall(b"\0" + packet)
            reply = b""
            while len(reply) < 8:
                chunk = s.recv(8 - len(reply))
                if not chunk:
                    break
                reply += chunk
        if len(reply) != 8:
            raise KeyringError(f"the keyring's control socket answered {reply!r}")
        _, result = struct.unpack(">II", reply)
        if result != 0:
            raise KeyringError(f"the keyring refused to unlock (result {result}: "
                               f"{ {1: 'denied', 2: 'failed', 3: 'no daemon'}.get(result, '?') })")
        if self.is_locked():
            raise KeyringError("the control socket said ok, but the collection is still locked")

    # -- items ------------------------------------------------------------------

    def items(self, *attributes):
        """The items `secret-tool search --all application avn-agent [ATTR VALUE ...]`
        finds, as dicts: path, label, secret (None when it could not be read: a
        locked collection), created, modified, schema and attributes (a dict,
        xdg:schema excluded). secret-tool's own messages ("secret-tool: ...")
        are kept in `search_messages`.

        secret-tool prints the label and secret on stdout and the attributes on
        stderr; both go to one pipe here, in the order printed (GLib flushes stdout
        after every line), so that each attribute lands in its own item."""
        argv = ["secret-tool", "search", "--all", "application", "avn-agent", *attributes]
        proc = subprocess.run(argv, env=self._child_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        text = proc.stdout.decode(errors="replace")
        items = []
        self.search_messages = []
        for line in text.splitlines():
            if line.startswith("[") and line.endswith("]"):
                items.append({"path": line[1:-1], "secret": None, "attributes": {}})
                continue
            if line.startswith("secret-tool: "):
                # e.g. "Cannot get secret of a locked object": the item is listed
                # without its secret.
                self.search_messages.append(line)
                continue
            key, sep, value = line.partition(" = ")
            if not sep:
                if line.strip():
                    raise KeyringError(f"unexpected secret-tool output: {line!r} in {text!r}")
                continue
            if not items:
                raise KeyringError(f"secret-tool printed {line!r} before any item: {text!r}")
            if key.startswith("attribute."):
                items[-1]["attributes"][key[len("attribute."):]] = value
            else:
                items[-1][key] = value
        if proc.returncode != 0 and items:
            raise KeyringError(f"secret-tool failed ({proc.returncode}): {text}")
        return items


def _end(proc, grace=3.0):
    """Stops a child for good and reaps it: SIGCONT, SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
