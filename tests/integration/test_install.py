"""`cmake --install` puts everything where a packager expects it."""

import os
import stat

from harness import BUILD_DIR, TestCase, run


class Install(TestCase):
    def test_install_tree_is_complete_and_its_units_verify(self):
        prefix = self.tmp("prefix")
        r = run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], env=self.env(), timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for binary in ("avn-agent", "avn-user", "git-credential-avn"):
            path = os.path.join(prefix, "bin", binary)
            self.assertTrue(os.stat(path).st_mode & stat.S_IXUSR, path)
        units = os.path.join(prefix, "lib", "systemd", "user")
        with open(os.path.join(units, "avn-agent.service")) as f:
            self.assertIn(f"ExecStart={prefix}/bin/avn-agent\n", f.read())
        v = run(["systemd-analyze", "verify", "--user",
                 os.path.join(units, "avn-agent.socket"), os.path.join(units, "avn-agent.service")],
                env=self.env(XDG_RUNTIME_DIR=self.tmp("rt")))
        self.assertEqual((v.returncode, v.stderr), (0, ""))
        docs = os.path.join(prefix, "share", "doc", "avn-agent")
        for doc in ("README.md", "PROTOCOL.md", "ARCHITECTURE.md", "AVN_USER.md", "KEYRING.md"):
            self.assertTrue(os.path.isfile(os.path.join(docs, doc)), doc)
        # The installed helper runs, and git finds the credential helper by name.
        u = run([os.path.join(prefix, "bin", "avn-user"), "--version"], env=self.env())
        self.assertEqual(u.returncode, 0, u.stderr)
        env = self.env(PATH=os.path.join(prefix, "bin") + ":" + os.environ["PATH"],
                       GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
        g = run(["git", "-c", "credential.helper=avn", "credential", "fill"], env=env,
                input="protocol=https\nhost=git.example.com\n\n")
        # No agent runs here: our helper answers nothing, so git gives up
        # without prompting (GIT_TERMINAL_PROMPT=0) rather than failing to
        # find the helper.
        self.assertNotIn("git: 'credential-avn' is not a git command", g.stderr)
