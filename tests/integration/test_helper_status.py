"""avn-user's plumbing: status against the real agent, the socket search,
errors and exit codes, and what the binary links."""

import json
import os
import subprocess

from harness import TestCase, binary, run

EXIT_NO_AGENT = 3


class Status(TestCase):
    def test_status_prints_the_agent(self):
        agent = self.start_agent()
        r = agent.user("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, rf"(?m)^Agent: +running, pid {agent.pid}, avn-agent \S+ "
                                   r"\(protocol 1\)$")
        self.assertIn(f"Socket:       {agent.sock}\n", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^Connections: +\d+ served, \d+ open, 0 refused$")

    def test_status_json_is_sorted_indented_json(self):
        agent = self.start_agent()
        r = agent.user("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        data = json.loads(r.stdout)
        self.assertEqual(data["agent"]["pid"], agent.pid)
        self.assertEqual(r.stdout, json.dumps(data, indent=4, sort_keys=True) + "\n")

    def test_default_socket_comes_from_xdg_runtime_dir(self):
        agent = self.start_agent()
        env = self.env(XDG_RUNTIME_DIR=agent.runtime)
        r = run([binary("avn-user"), "status"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_agent_exits_3_and_says_how_to_start_one(self):
        runtime = self.tmp("runtime")
        r = run([binary("avn-user"), "status"], env=self.env(XDG_RUNTIME_DIR=runtime))
        self.assertEqual(r.returncode, EXIT_NO_AGENT)
        self.assertEqual(r.stdout, "")
        line = r.stderr.strip()
        self.assertEqual(len(line.splitlines()), 1)
        self.assertIn(f"no agent is running on {runtime}/avn-agent/agent.sock", line)
        self.assertIn("eval \"$(avn-agent)\"", line)

    def test_stale_socket_counts_as_no_agent(self):
        agent = self.start_agent()
        agent.stop(9)
        r = agent.user("status")
        self.assertEqual(r.returncode, EXIT_NO_AGENT)
        self.assertIn("Connection refused", r.stderr)

    def test_agent_that_never_answers_hits_the_deadline(self):
        # A listener that accepts and never replies.
        import socket
        path = self.tmp_path("mute.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        self.addCleanup(s.close)
        r = run([binary("avn-user"), "--timeout", "0.5", "status"],
                env=self.env(AVN_AGENT_SOCK=path), timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("did not answer within", r.stderr)

    def fake_agent(self, answer):
        """A listener that reads one request and sends `answer` (bytes), then closes."""
        import socket
        import threading
        path = self.tmp_path("odd.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        self.addCleanup(s.close)

        def serve():
            conn, _ = s.accept()
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(answer)
                except OSError:
                    pass  # the client gave up reading: that is the point
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self.addCleanup(t.join, 10)
        return path

    def test_a_reply_that_is_not_a_reply_is_named_as_such(self):
        cases = ((b"garbage\n", "unexpected reply from the agent: reply is not valid JSON"),
                 (b'{"v":1,"id":1}\n',
                  'unexpected reply from the agent: reply has neither "result" nor "error"'),
                 (b"x" * (17 << 20), "the agent's reply is too long"))
        for answer, what in cases:
            with self.subTest(what=what):
                path = self.fake_agent(answer)
                r = run([binary("avn-user"), "--timeout", "20", "status"],
                        env=self.env(AVN_AGENT_SOCK=path), timeout=30)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertIn(what, r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                os.unlink(path)

    def test_usage_errors_exit_2(self):
        for argv in (["frobnicate"], [], ["status", "--bogus"]):
            r = run([binary("avn-user"), *argv], env=self.env())
            self.assertEqual(r.returncode, 2, (argv, r.stdout, r.stderr))

    def test_help_and_version_exit_0(self):
        self.assertEqual(run([binary("avn-user"), "--help"], env=self.env()).returncode, 0)
        v = run([binary("avn-user"), "--version"], env=self.env())
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"^avn-user \d+\.\d+\.\d+")


class Linkage(TestCase):
    def test_client_programs_link_no_tls_http_or_keyring_library(self):
        for program in ("avn-user", "git-credential-avn"):
            with self.subTest(program=program):
                out = subprocess.run(["ldd", binary(program)], capture_output=True, text=True,
                                     check=True).stdout
                libs = [line.split()[0] for line in out.splitlines() if line.strip()]
                for forbidden in ("libssl", "libcrypto", "libsecret", "libgio", "libglib",
                                  "libdbus", "libsystemd", "libcurl", "libnghttp"):
                    self.assertFalse([x for x in libs if x.startswith(forbidden)],
                                     f"{program} links {forbidden}: {libs}")

    def test_agent_links_what_it_needs(self):
        out = subprocess.run(["ldd", binary("avn-agent")], capture_output=True, text=True,
                             check=True).stdout
        for lib in ("libssl", "libsecret", "libsystemd"):
            self.assertIn(lib, out)
