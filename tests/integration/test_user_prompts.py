"""Password prompts on a real (pseudo-)terminal: no echo while the secret is typed,
the echo back afterwards and after Ctrl-C, and which prompt uses the terminal and
which uses stdin/stdout, as getpass() and input() do for avn."""

from harness import STORED, PtyUser, UserCase


class Terminal(UserCase):
    def pty_user(self, *args, **kw):
        p = PtyUser(self.agent, *args, **kw)
        self.addCleanup(p.close)
        return p

    def test_password_is_read_without_echo(self):
        p = self.pty_user("login", self.ALICE)
        prompt = f"{self.ALICE}'s Aiven password: "
        p.read_until(prompt)
        self.assertFalse(p.echo_on())
        p.type(self.PASSWORD + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (0, "", STORED))
        # The terminal shows the prompt and the line end getpass writes; not the password.
        self.assertEqual(p.tty_output, (prompt + "\r\n").encode())
        self.assertTrue(p.echo_on())
        self.assertEqual(self.user("info").returncode, 0)

    def test_ctrl_c_at_the_prompt_restores_echo_and_exits_2(self):
        p = self.pty_user("login", self.ALICE)
        p.read_until("password: ")
        self.assertFalse(p.echo_on())
        p.type("half typ")
        p.type("\x03")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (2, "", "ERROR\t*** terminated by keyboard ***\n"))
        self.assertTrue(p.echo_on())
        self.assertEqual(self.fake.requests(), [])

    def test_end_of_input_at_the_prompt_restores_echo(self):
        p = self.pty_user("login", self.ALICE)
        p.read_until("password: ")
        p.type("\x04")
        status, out, err = p.finish()
        self.assertEqual(status, 1)
        self.assertEqual(err, "ERROR\tcommand failed: EOFError: end of input at the prompt\n")
        self.assertTrue(p.echo_on())

    def test_terminal_wins_over_stdin_for_the_password(self):
        # input() reads the email from stdin and prompts on stdout; getpass() uses the
        # terminal although stdin is a pipe.
        p = self.pty_user("login", stdin_text=f"{self.ALICE}\nnot the password\n")
        p.read_until("password: ")
        p.type(self.PASSWORD + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (0, "Username (email): ", STORED))

    def test_two_factor_code_comes_from_stdin_with_its_prompt_on_stdout(self):
        self.fake.add_user("carol@example.com", self.PASSWORD, otp=self.OTP)
        p = self.pty_user("login", "carol@example.com", stdin_text=self.OTP + "\n")
        p.read_until("password: ")
        p.type(self.PASSWORD + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (0, "Two-factor authentication OTP: ", STORED))
        self.assertNotIn(self.OTP.encode(), p.tty_output)

    def test_create_asks_twice_on_the_terminal(self):
        new = "brand new pw 0a9b"
        self.secrets.append(new)
        p = self.pty_user("create", "erin@example.com", "--real-name", "Erin")
        p.read_until("New aiven.io password for erin@example.com: ")
        p.type(new + "\n")
        p.read_until("Confirm password again: ")
        self.assertFalse(p.echo_on())
        p.type(new + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (0, "", STORED))
        self.assertEqual(p.tty_output, b"New aiven.io password for erin@example.com: \r\n"
                                       b"Confirm password again: \r\n")
        self.assertTrue(p.echo_on())

    def test_password_change_mismatch_on_the_terminal(self):
        self.login()
        p = self.pty_user("password-change")
        for prompt, answer in (("Current password: ", self.PASSWORD),
                               ("New password: ", "first new one"),
                               ("Confirm password again: ", "second new one")):
            p.read_until(prompt)
            p.type(answer + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err),
                         (1, "", "ERROR\tcommand failed: UserError: Passwords do not match\n"))
        self.assertTrue(p.echo_on())

    def test_token_prompt_without_echo(self):
        token = self.fake.create_token(self.BOB)
        self.secrets.append(token)
        p = self.pty_user("login", self.BOB, "--token")
        p.read_until(f"{self.BOB}'s Aiven access token: ")
        self.assertFalse(p.echo_on())
        p.type(token + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (0, "", STORED))
        self.assertNotIn(token.encode(), p.tty_output)

    def test_password_stdin_does_not_touch_the_terminal(self):
        p = self.pty_user("login", self.ALICE, "--password-stdin",
                          stdin_text=self.PASSWORD + "\n")
        status, out, err = p.finish()
        self.assertEqual((status, out, err), (0, "", STORED))
        self.assertEqual(p.tty_output, b"")
