"""Starting and stopping the real agent: eval output, -k, the socket folder's
safety checks, a second agent, signals, hardening."""

import os
import pwd
import signal
import stat
import subprocess

from harness import TestCase, binary, pid_alive, run, wait_for

NOBODY = 65534


class StartModes(TestCase):
    def runtime_env(self, shell="/bin/sh"):
        runtime = self.tmp("runtime")
        os.chmod(runtime, 0o700)
        return self.env(XDG_RUNTIME_DIR=runtime, SHELL=shell), runtime

    def kill_later(self, pid):
        self.addCleanup(lambda: pid_alive(pid) and os.kill(pid, signal.SIGKILL))

    def test_eval_in_sh_starts_a_background_agent_and_minus_k_stops_it(self):
        env, runtime = self.runtime_env()
        script = (f'eval "$({binary("avn-agent")})" >/dev/null && '
                  'echo "$AVN_AGENT_SOCK $AVN_AGENT_PID" && '
                  f'{binary("avn-user")} status >/dev/null && echo served && '
                  f'eval "$({binary("avn-agent")} -k)" && echo "killed:${{AVN_AGENT_PID:-unset}}"')
        r = run(["/bin/sh", "-c", script], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        sock, pid = lines[0].split()
        self.kill_later(int(pid))
        self.assertEqual(sock, os.path.join(runtime, "avn-agent", "agent.sock"))
        self.assertEqual(lines[1], "served")
        self.assertEqual(lines[-1], "killed:unset")
        self.assertFalse(pid_alive(int(pid)))
        self.assertFalse(os.path.exists(sock), "the socket outlived the agent")

    def test_eval_in_csh(self):
        env, runtime = self.runtime_env(shell="/bin/csh")
        script = (f'eval "`{binary("avn-agent")}`" > /dev/null ; '
                  'echo "$AVN_AGENT_SOCK $AVN_AGENT_PID" ; '
                  f'{binary("avn-user")} status >/dev/null && echo served ; '
                  f'eval "`{binary("avn-agent")} -k`" ; '
                  'if ( $?AVN_AGENT_PID ) then\n echo still-set\nelse\n echo unset\nendif')
        r = run(["/bin/csh", "-f", "-c", script], env=env)
        lines = r.stdout.splitlines()
        self.assertGreaterEqual(len(lines), 3, r.stdout + r.stderr)
        sock, pid = lines[0].split()
        self.kill_later(int(pid))
        self.assertEqual(sock, os.path.join(runtime, "avn-agent", "agent.sock"))
        self.assertEqual(lines[1], "served")
        self.assertEqual(lines[-1], "unset")
        wait_for(lambda: not pid_alive(int(pid)), what="the agent to exit")

    def test_minus_s_and_minus_c_force_the_syntax(self):
        env, _ = self.runtime_env(shell="/bin/tcsh")
        r = run([binary("avn-agent"), "-s"], env=env)
        pid = int(r.stdout.split("AVN_AGENT_PID=")[1].split(";")[0])
        self.kill_later(pid)
        self.assertRegex(r.stdout, r"^AVN_AGENT_SOCK=\S+; export AVN_AGENT_SOCK;\n"
                                   r"AVN_AGENT_PID=\d+; export AVN_AGENT_PID;\n"
                                   r"echo Agent pid \d+;\n$")
        k = run([binary("avn-agent"), "-k", "-c"], env=dict(env, AVN_AGENT_PID=str(pid)))
        self.assertEqual(k.returncode, 0, k.stderr)
        self.assertEqual(k.stdout, "unsetenv AVN_AGENT_SOCK;\nunsetenv AVN_AGENT_PID;\n"
                                   f"echo Agent pid {pid} killed;\n")
        self.assertFalse(pid_alive(pid))

    def test_minus_k_finds_the_agent_through_its_socket(self):
        env, runtime = self.runtime_env()
        r = run([binary("avn-agent"), "-c"], env=env)
        self.assertRegex(r.stdout, r"^setenv AVN_AGENT_SOCK \S+;\nsetenv AVN_AGENT_PID \d+;\n")
        pid = int(r.stdout.split("setenv AVN_AGENT_PID ")[1].split(";")[0])
        self.kill_later(pid)
        k = run([binary("avn-agent"), "-k"], env=env)  # no AVN_AGENT_PID
        self.assertEqual(k.returncode, 0, k.stderr)
        self.assertIn(f"echo Agent pid {pid} killed;", k.stdout)
        self.assertFalse(pid_alive(pid))

    def test_minus_k_without_agent_fails_clearly(self):
        env, _ = self.runtime_env()
        k = run([binary("avn-agent"), "-k"], env=env)
        self.assertEqual(k.returncode, 1)
        self.assertIn("no agent to stop", k.stderr)

    def test_a_log_file_that_cannot_be_opened_stops_the_start(self):
        # In the background stderr goes nowhere: a silent fallback would lose every log line.
        env, runtime = self.runtime_env()
        bad = os.path.join(runtime, "no-such-folder", "agent.log")
        for mode in ([], ["-D"]):
            with self.subTest(mode=mode):
                r = run([binary("avn-agent"), *mode, "--log-file", bad], env=env, timeout=10)
                self.assertEqual(r.returncode, 1)
                self.assertIn(f"cannot open the log file {bad}: No such file or directory",
                              r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertFalse(os.path.exists(os.path.join(runtime, "avn-agent", "agent.sock")))


class SocketSafety(TestCase):
    def test_folder_0700_and_socket_0600(self):
        agent = self.start_agent()
        folder = os.path.dirname(agent.sock)
        self.assertEqual(stat.S_IMODE(os.stat(folder).st_mode), 0o700)
        st = os.stat(agent.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_loose_folder_is_refused_with_its_fix(self):
        runtime = self.tmp("runtime")
        folder = os.path.join(runtime, "avn-agent")
        os.mkdir(folder)
        os.chmod(folder, 0o755)
        r = run([binary("avn-agent"), "-D"], env=self.env(XDG_RUNTIME_DIR=runtime), timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("open to group or others (mode 0755)", r.stderr)
        self.assertIn(f"chmod 700 {folder}", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(os.listdir(folder), [])

    def test_folder_owned_by_someone_else_is_refused(self):
        runtime = self.tmp("runtime")
        folder = os.path.join(runtime, "avn-agent")
        os.mkdir(folder, 0o700)
        os.chown(folder, NOBODY, NOBODY)
        r = run([binary("avn-agent"), "-D"], env=self.env(XDG_RUNTIME_DIR=runtime), timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"is owned by uid {NOBODY}", r.stderr)

    def test_second_agent_on_a_live_socket_refuses(self):
        first = self.start_agent()
        r = run([binary("avn-agent"), "-D"], env=first.env, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("an agent is already running on " + first.sock, r.stderr)
        self.assertEqual(first.call("hello")["result"]["agent"], "avn-agent")

    def test_stale_socket_is_replaced(self):
        first = self.start_agent()
        first.stop(signal.SIGKILL)  # leaves the socket file behind
        self.assertTrue(os.path.exists(first.sock))
        second = self.start_agent(env={"XDG_RUNTIME_DIR": first.runtime})
        self.assertEqual(second.call("status")["result"]["agent"]["pid"], second.pid)

    def test_sigterm_and_sigint_remove_the_socket(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            agent = self.start_agent()
            client = agent.client()  # an idle client must not delay the exit
            self.assertEqual(agent.stop(sig, timeout=10), 0)
            self.assertFalse(os.path.exists(agent.sock))
            self.assertTrue(client.at_eof())
            self.assertIn("stopping: " + ("SIGTERM" if sig == signal.SIGTERM else "SIGINT"),
                          agent.log())

    def test_shutdown_op_replies_then_stops(self):
        agent = self.start_agent()
        self.assertEqual(agent.call("shutdown")["result"], {"stopping": True})
        self.assertEqual(agent.proc.wait(10), 0)
        self.assertFalse(os.path.exists(agent.sock))

    def test_client_of_another_uid_is_refused_while_the_owner_is_served(self):
        agent = self.start_agent()
        # Open the folder and socket so that only the uid check stands in the way.
        os.chmod(os.path.dirname(agent.sock), 0o755)
        os.chmod(agent.sock, 0o666)
        os.chmod(agent.runtime, 0o755)
        os.chmod(self._tmp, 0o755)
        probe = ("import socket,sys\n"
                 "s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])\n"
                 "try:\n"
                 "    s.sendall(b'{\"v\":1,\"id\":1,\"op\":\"status\"}\\n')\n"
                 "    d=s.recv(4096)\n"
                 "except (ConnectionResetError, BrokenPipeError):\n"
                 "    d=b''  # closed by the agent, possibly before we wrote\n"
                 "print('EOF' if d==b'' else 'DATA')\n")
        r = run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 "/usr/bin/python3", "-c", probe, agent.sock], env=agent.env)
        self.assertEqual(r.stdout.strip(), "EOF", r.stderr)
        self.assertIn(f"refused a connection from uid {NOBODY}", agent.log())
        status = agent.call("status")["result"]["agent"]
        self.assertEqual(status["connections_refused"], 1)
        # avn-user run as that user says what happened.
        u = run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 binary("avn-user"), "status"], env=dict(agent.env, AVN_AGENT_SOCK=agent.sock))
        self.assertEqual(u.returncode, 1)
        self.assertIn("closed the connection", u.stderr)


class Hardening(TestCase):
    def test_agent_is_not_dumpable_and_has_no_core_limit(self):
        # Run the agent as an unprivileged user: root could ptrace anything.
        runtime = self.tmp("nobody-runtime")
        os.chown(runtime, NOBODY, NOBODY)
        os.chmod(runtime, 0o700)
        env = self.env(XDG_RUNTIME_DIR=runtime)
        proc = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             binary("avn-agent"), "-D", "--keyring", "memory"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stdout.close()))
        self.assertTrue(proc.stdout.readline().startswith(b"AVN_AGENT_SOCK="))
        # A non-dumpable process's /proc files belong to root, not to its user.
        self.assertEqual(os.stat(f"/proc/{proc.pid}/status").st_uid, 0)
        with open(f"/proc/{proc.pid}/limits") as f:
            core = [l for l in f if l.startswith("Max core file size")][0].split()
        self.assertEqual(core[4:6], ["0", "0"])
        # A same-uid ptrace attach is refused.
        attach = ("import ctypes,sys\n"
                  "libc=ctypes.CDLL(None,use_errno=True)\n"
                  "r=libc.ptrace(16,int(sys.argv[1]),None,None)\n"  # PTRACE_ATTACH
                  "print(r, ctypes.get_errno())\n")
        r = run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 "/usr/bin/python3", "-c", attach, str(proc.pid)], env=env)
        result, err = r.stdout.split()
        self.assertEqual(result, "-1")
        self.assertEqual(int(err), 1)  # EPERM
        # A dumpable process of the same user, for contrast, can be attached.
        sleeper = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                                    "--clear-groups", "sleep", "30"])
        self.addCleanup(lambda: (sleeper.kill(), sleeper.wait()))
        wait_for(lambda: os.stat(f"/proc/{sleeper.pid}/status").st_uid == NOBODY,
                 what="sleep to drop privileges")
        r2 = run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                  "/usr/bin/python3", "-c", attach, str(sleeper.pid)], env=env)
        self.assertEqual(r2.stdout.split()[0], "0", r2.stdout + r2.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
