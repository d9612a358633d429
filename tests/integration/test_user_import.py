"""avn-user import: avn's plain-text credentials moved into the agent."""

import json
import os
import stat

from harness import AVN_INFO_COLUMNS, NOT_LOGGED_IN, UserCase, avn_table


class Import(UserCase):
    def write_credentials(self, token, email=None, folder="aiven"):
        config = self.tmp(folder)
        path = os.path.join(config, "aiven-credentials.json")
        with open(path, "w") as f:
            json.dump({"auth_token": token, "user_email": email or self.ALICE}, f)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        return config, path

    def test_import_with_remove_file_moves_the_session(self):
        token = self.fake.login_token(self.ALICE)
        self.secrets.append(token)
        config, path = self.write_credentials(token)
        r = self.user("import", "--remove-file", env={"AIVEN_CONFIG_DIR": config})
        self.assertResult(r, 0, "", f"INFO\tAiven credentials imported from {path} into avn-agent\n"
                                    f"INFO\tRemoved {path}\n")
        self.assertFalse(os.path.exists(path))
        r = self.user("info")
        self.assertResult(r, 0, avn_table([self.fake.user(self.ALICE)], AVN_INFO_COLUMNS), "")

    def test_credentials_file_variable_wins_and_the_file_is_kept_by_default(self):
        token = self.fake.login_token(self.ALICE)
        self.secrets.append(token)
        _, path = self.write_credentials(token, folder="elsewhere")
        r = self.user("import", env={"AIVEN_CREDENTIALS_FILE": path,
                                     "AIVEN_CONFIG_DIR": self.tmp("empty")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(path))
        self.assertEqual(self.user("info").returncode, 0)

    def test_dead_token_is_refused_and_the_file_stays(self):
        token = self.fake.login_token(self.ALICE)
        self.secrets.append(token)
        self.fake.revoke_token(token)
        config, path = self.write_credentials(token)
        r = self.user("import", "--remove-file", env={"AIVEN_CONFIG_DIR": config})
        self.assertResult(r, 1, "", "ERROR\tcommand failed: Error: Invalid token (status 401)\n")
        self.assertTrue(os.path.exists(path))
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)

    def test_missing_or_malformed_file_is_a_clear_error(self):
        config = self.tmp("none")
        r = self.user("import", env={"AIVEN_CONFIG_DIR": config})
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"cannot read avn's credentials file {config}/aiven-credentials.json",
                      r.stderr)
        path = os.path.join(config, "aiven-credentials.json")
        with open(path, "w") as f:
            f.write('{"user_email": "x@example.com"}')
        r = self.user("import", env={"AIVEN_CONFIG_DIR": config})
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not an avn credentials file", r.stderr)

    def test_a_folder_or_a_huge_file_is_named_as_such(self):
        folder = self.tmp("folder")
        r = self.user("import", "--file", folder)
        self.assertResult(r, 1, "", "ERROR\tcommand failed: UserError: cannot read avn's "
                                    f"credentials file {folder}: Is a directory\n")
        huge = os.path.join(self.tmp("huge"), "aiven-credentials.json")
        with open(huge, "w") as f:
            f.write('{"auth_token": "' + "x" * (2 << 20) + '"}')
        r = self.user("import", "--file", huge)
        self.assertResult(r, 1, "", "ERROR\tcommand failed: UserError: cannot read avn's "
                                    f"credentials file {huge}: larger than 1 MiB, so not avn's "
                                    "credentials file\n")
        self.assertResult(self.user("info"), 1, "", NOT_LOGGED_IN)
