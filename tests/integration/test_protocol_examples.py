"""The client examples of docs/PROTOCOL.md ("## Examples"), taken from the page and run
against a real agent logged in to the local Aiven fake, so the page cannot drift from the
agent: each must print the session's token."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

from harness import SOURCE_DIR, UserCase, user_env


def examples_section():
    with open(os.path.join(SOURCE_DIR, "docs", "PROTOCOL.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Examples\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def first_block(language):
    """The first fenced block of `language` under "## Examples"."""
    m = re.search(rf"^```{re.escape(language)}\n(.*?)^```$", examples_section(), re.M | re.S)
    assert m, f"no ```{language} block under '## Examples' in docs/PROTOCOL.md"
    return m.group(1)


class ProtocolExamples(UserCase):
    def setUp(self):
        super().setUp()
        self.login()
        self.session_token = self.newest_login_token(self.ALICE)["full_token"]

    def run_example(self, argv, **kw):
        r = subprocess.run(argv, env=user_env(self.agent), capture_output=True, text=True,
                           timeout=60, **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_python_example_prints_the_session_token(self):
        path = self.tmp_path("example.py")
        with open(path, "w") as f:
            f.write(first_block("python"))
        r = self.run_example([sys.executable, path])
        self.assertEqual(r.stdout, self.session_token + "\n")
        self.assertEqual(r.stderr, "")

    def test_python_example_finds_the_socket_without_avn_agent_sock(self):
        path = self.tmp_path("example.py")
        with open(path, "w") as f:
            f.write(first_block("python"))
        env = user_env(self.agent)
        del env["AVN_AGENT_SOCK"]  # the agent's socket is under its XDG_RUNTIME_DIR
        r = subprocess.run([sys.executable, path], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.session_token + "\n")

    @unittest.skipUnless(shutil.which("socat"), "socat is not installed")
    def test_socat_example_answers_the_session_token(self):
        r = self.run_example(["sh", "-c", first_block("sh")])
        reply = json.loads(r.stdout)
        self.assertEqual(reply["result"]["token"], self.session_token)

    @unittest.skipUnless(shutil.which("g++"), "g++ is not installed")
    def test_cpp_example_prints_the_session_token(self):
        source = self.tmp_path("token.cpp")
        program = self.tmp_path("token")
        with open(source, "w") as f:
            f.write(first_block("cpp"))
        build = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-o", program,
                                source], capture_output=True, text=True, timeout=120)
        self.assertEqual(build.returncode, 0, build.stderr)
        r = self.run_example([program])
        self.assertEqual(r.stdout, self.session_token + "\n")
