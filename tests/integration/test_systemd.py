"""The systemd user units and the agent under socket activation with a
readiness (sd_notify) listener, using systemd's own tools."""

import os
import signal
import socket
import subprocess

from harness import BUILD_DIR, Client, TestCase, binary, run, wait_for

UNITS = os.path.join(BUILD_DIR, "systemd", "test")


class Units(TestCase):
    def test_units_verify_without_any_complaint(self):
        env = self.env(XDG_RUNTIME_DIR=self.tmp("runtime"))
        r = run(["systemd-analyze", "verify", "--user",
                 os.path.join(UNITS, "avn-agent.socket"),
                 os.path.join(UNITS, "avn-agent.service")], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "systemd-analyze printed warnings")

    def test_service_is_notify_type_and_hardened(self):
        with open(os.path.join(UNITS, "avn-agent.service")) as f:
            unit = f.read()
        for line in ("Type=notify", "LimitCORE=0", "NoNewPrivileges=yes",
                     "MemoryDenyWriteExecute=yes", f"ExecStart={binary('avn-agent')}"):
            self.assertIn(line + "\n", unit)
        with open(os.path.join(UNITS, "avn-agent.socket")) as f:
            sock = f.read()
        self.assertIn("ListenStream=%t/avn-agent/agent.sock\n", sock)
        self.assertIn("SocketMode=0600\n", sock)


class SocketActivation(TestCase):
    def notify_listener(self):
        path = self.tmp_path("notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(10)
        self.addCleanup(s.close)
        return s, path

    def test_activated_agent_serves_notifies_and_stops(self):
        notify, notify_path = self.notify_listener()
        folder = self.tmp("run")
        os.chmod(folder, 0o700)
        sock = os.path.join(folder, "agent.sock")
        log = open(self.tmp_path("agent.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", sock, "--fdname=avn-agent",
             "-E", f"NOTIFY_SOCKET={notify_path}", binary("avn-agent")],
            env=self.env(), stdout=subprocess.DEVNULL, stderr=log,
            preexec_fn=lambda: os.umask(0o077))
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        wait_for(lambda: os.path.exists(sock), what="the activation socket")

        # The first connection starts the agent, which answers on it.
        c = Client(sock)
        hello = c.call("hello")
        self.assertEqual(hello["result"]["agent"], "avn-agent")
        ready = notify.recv(4096).decode()
        self.assertIn("READY=1", ready.splitlines())
        status = c.call("status")["result"]["agent"]
        self.assertEqual(status["pid"], proc.pid)  # the activator exec'd the agent
        self.assertEqual(status["socket"], sock)
        c.close()

        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        self.assertIn("STOPPING=1", notify.recv(4096).decode().splitlines())
        # The service manager owns the socket file; the agent leaves it.
        self.assertTrue(os.path.exists(sock))

    def run_with_listen_env(self, shell_env, redirect=""):
        script = f"{shell_env} exec {binary('avn-agent')} {redirect}"
        return run(["/bin/sh", "-c", script], env=self.env(), timeout=10)

    def test_listen_pid_of_another_process_is_refused(self):
        r = self.run_with_listen_env("LISTEN_PID=1 LISTEN_FDS=1", "3</dev/null")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not name this process", r.stderr)

    def test_more_than_one_descriptor_is_refused(self):
        r = self.run_with_listen_env('LISTEN_PID=$$ LISTEN_FDS=2', "3</dev/null 4</dev/null")
        self.assertEqual(r.returncode, 1)
        self.assertIn("exactly one socket", r.stderr)

    def test_a_descriptor_that_is_not_a_listening_socket_is_refused(self):
        r = self.run_with_listen_env('LISTEN_PID=$$ LISTEN_FDS=1', "3</dev/null")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a listening Unix stream socket", r.stderr)
