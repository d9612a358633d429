#!/usr/bin/python3
"""Tests of the fake Aiven API, against the running HTTPS server.

Run from the repository root:
    /usr/bin/python3 -m unittest -v tests/fake_aiven/test_fake_aiven.py
or from anywhere:
    /usr/bin/python3 /path/to/tests/fake_aiven/test_fake_aiven.py -v
"""

import base64
import email.utils
import http.client
import itertools
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fake_aiven  # noqa: E402
from fake_aiven import FakeAiven  # noqa: E402

FAKE = None
_ids = itertools.count(1)

PASSWORD = "correct horse battery"


def setUpModule():
    global FAKE
    FAKE = FakeAiven().start()


def tearDownModule():
    FAKE.stop()


def new_email():
    return "user%d-%s@example.com" % (next(_ids), os.getpid())


def enc(value):
    """Percent-encode a path segment fully (only A-Z a-z 0-9 _ . - ~ stay)."""
    return urllib.parse.quote(value, safe="")


def client_context(ca_file):
    """Trust ONLY the given CA (the environment's SSL_CERT_FILE is not used)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_file)
    return ctx


class Client:
    """One keep-alive connection and JSON helpers."""

    def __init__(self, fake=None, host="127.0.0.1", port=None, ca_file=None, plain=False, timeout=10):
        if port is None:  # a FakeAiven in this process (default: the shared one)
            fake = fake or FAKE
            host, port, ca_file, plain = fake.host, fake.port, fake.ca_file, fake.plain_http
        if plain:
            self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            self.conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=client_context(ca_file))

    def call(self, method, path, body=None, token=None, user_agent="avn-agent/0.0-test", headers=None):
        h = {}
        if user_agent:
            h["User-Agent"] = user_agent
        if token is not None:
            h["Authorization"] = "aivenv1 " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        self.conn.request(method, path, body=data, headers=h)
        resp = self.conn.getresponse()
        raw = resp.read()
        self.last_response = resp
        payload = json.loads(raw) if raw else None
        return resp.status, payload

    def close(self):
        self.conn.close()


class FakeTestCase(unittest.TestCase):
    fake = None  # None: the module's shared server

    def setUp(self):
        self.f = self.fake or FAKE
        self.c = Client(self.f)
        self.addCleanup(self.c.close)

    def assertError(self, status, payload, expected_status, message=None):
        self.assertEqual(status, expected_status, payload)
        self.assertIsInstance(payload, dict)
        self.assertEqual(set(payload), {"errors", "message"})
        self.assertEqual(len(payload["errors"]), 1)
        entry = payload["errors"][0]
        self.assertLessEqual(set(entry), {"message", "status", "error_code", "more_info"})
        self.assertEqual(entry["status"], expected_status)
        self.assertEqual(entry["message"], payload["message"])
        if message is not None:
            self.assertEqual(payload["message"], message)

    def user(self, **kwargs):
        email = new_email()
        self.f.add_user(email, kwargs.pop("password", PASSWORD), **kwargs)
        return email

    def login(self, email, password=PASSWORD, **extra):
        status, body = self.c.call("POST", "/v1/userauth", dict(email=email, password=password, **extra))
        self.assertEqual(status, 200, body)
        return body["token"]

    def create_token(self, token, **body):
        body.setdefault("description", "test token")
        body.setdefault("extend_when_used", False)
        body.setdefault("max_age_seconds", None)
        status, out = self.c.call("POST", "/v1/access_token", body, token=token)
        self.assertEqual(status, 200, out)
        return out

    def tokens(self, token):
        status, out = self.c.call("GET", "/v1/access_token", token=token)
        self.assertEqual(status, 200, out)
        return out["tokens"]


class LoginTests(FakeTestCase):
    def test_login_ok(self):
        email = self.user(projects=["proj-a", "proj-b"])
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD})
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {"token", "state", "user_email"})
        self.assertEqual(body["state"], "active")
        self.assertEqual(body["user_email"], email)
        token = body["token"]
        for ch in "+/=":
            self.assertIn(ch, token)
        self.assertTrue(any(ch in token[:10] for ch in "+/"))
        base64.b64decode(token, validate=True)
        self.assertEqual(self.c.last_response.getheader("Content-Type"), "application/json")
        # The login token: a session token, extended on use, 30 days.
        rows = self.tokens(token)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["token_prefix"], token[:10])
        self.assertFalse(row["created_manually"])
        self.assertTrue(row["extend_when_used"])
        self.assertEqual(row["max_age_seconds"], 30 * 86400)
        self.assertTrue(row["currently_active"])
        self.assertNotIn("full_token", row)

    def test_login_with_tenant(self):
        email = self.user()
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD, "tenant": "t1"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["tenant"], "t1")

    def test_wrong_password_403(self):
        email = self.user()
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": "wrong password"})
        self.assertError(status, body, 403, "Authentication failed")

    def test_unknown_user_403(self):
        status, body = self.c.call("POST", "/v1/userauth", {"email": new_email(), "password": PASSWORD})
        self.assertError(status, body, 403, "Authentication failed")

    def test_two_factor(self):
        email = self.user(otp="123456")
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD})
        self.assertError(status, body, 510, "Two-factor authentication OTP required")
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD, "otp": "654321"})
        self.assertError(status, body, 403, "Authentication failed")
        # A wrong password is refused before asking for the OTP.
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": "nope nope"})
        self.assertError(status, body, 403)
        token = self.login(email, otp="123456")
        status, body = self.c.call("GET", "/v1/me", token=token)
        self.assertEqual(status, 200, body)

    def test_two_factor_totp(self):
        secret = base64.b32encode(b"0123456789abcdefghij").decode()
        email = self.user(totp_secret=secret)
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD})
        self.assertEqual(status, 510)
        self.assertEqual(self.f.totp(email), fake_aiven.totp_code(secret, self.f.now()))
        self.login(email, otp=self.f.totp(email))

    def test_sso_only_403(self):
        email = self.user(auth=["saml"])
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD})
        self.assertError(status, body, 403, "Authentication failed")
        status, body = self.c.call("POST", "/v1/userauth/login_options", {"email": email})
        self.assertEqual((status, body), (200, {"action": "saml"}))
        # A token made for that user works.
        token = self.f.create_token(email)
        status, body = self.c.call("GET", "/v1/me", token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["user"]["auth"], ["saml"])


class UserTests(FakeTestCase):
    def test_me(self):
        email = self.user(real_name="Alice Example", projects={"proj-a": "admin", "proj-b": "developer"})
        token = self.login(email)
        status, body = self.c.call("GET", "/v1/me", token=token)
        self.assertEqual(status, 200, body)
        user = body["user"]
        for key in ("user", "user_id", "real_name", "state", "projects", "auth", "project_membership",
                    "invitations", "token_validity_begin", "create_time"):
            self.assertIn(key, user)
        self.assertEqual(user["user"], email)
        self.assertEqual(user["real_name"], "Alice Example")
        self.assertEqual(user["state"], "active")
        self.assertEqual(user["projects"], ["proj-a", "proj-b"])
        self.assertEqual(user["auth"], ["password"])
        self.assertEqual(user["project_membership"], {"proj-a": "admin", "proj-b": "developer"})
        self.assertEqual(user["invitations"], [])
        self.assertRegex(user["token_validity_begin"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

    def test_projects(self):
        email = self.user(projects=["p1", "p2"])
        status, body = self.c.call("GET", "/v1/project", token=self.login(email))
        self.assertEqual((status, body), (200, {"projects": [{"project_name": "p1"}, {"project_name": "p2"}]}))

    def test_create_user(self):
        email = new_email()
        status, body = self.c.call("POST", "/v1/user", {"email": email, "real_name": "New User",
                                                         "password": "a good password"})
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {"state", "token", "user", "user_email"})
        self.assertEqual(body["state"], "active")
        self.assertEqual(body["user_email"], email)
        self.assertEqual(body["user"]["user"], email)
        self.assertEqual(body["user"]["real_name"], "New User")
        status, me = self.c.call("GET", "/v1/me", token=body["token"])
        self.assertEqual(status, 200, me)
        self.login(email, "a good password")
        # Duplicate (case-insensitive).
        status, body = self.c.call("POST", "/v1/user", {"email": email.upper(), "real_name": "X",
                                                         "password": "a good password"})
        self.assertError(status, body, 409)
        self.assertIn("already exists", body["message"])
        status, body = self.c.call("POST", "/v1/user", {"email": "not-an-email", "real_name": "X",
                                                         "password": "a good password"})
        self.assertError(status, body, 400, "Invalid email address")
        status, body = self.c.call("POST", "/v1/user", {"email": new_email(), "real_name": "X", "password": "short"})
        self.assertError(status, body, 400)


class AuthenticationTests(FakeTestCase):
    def test_401_messages(self):
        status, body = self.c.call("GET", "/v1/me")
        self.assertError(status, body, 401, "Invalid token")
        status, body = self.c.call("GET", "/v1/me", token="bm90IGEgdG9rZW4=")
        self.assertError(status, body, 401, "Invalid token")
        status, body = self.c.call("GET", "/v1/me", headers={"Authorization": "Bearer x"})
        self.assertError(status, body, 401, "Invalid token")
        email = self.user()
        token = self.f.create_token(email, max_age_seconds=600)
        self.f.expire_token(token)
        status, body = self.c.call("GET", "/v1/me", token=token)
        self.assertError(status, body, 401, "Missing (expired) db token")
        token2 = self.f.create_token(email)
        self.f.revoke_token(token2)
        status, body = self.c.call("GET", "/v1/me", token=token2)
        self.assertError(status, body, 401, "Invalid token")

    def test_extend_when_used(self):
        email = self.user()
        session = self.login(email)
        tok = self.create_token(session, max_age_seconds=600, extend_when_used=True)
        full = tok["full_token"]
        self.assertEqual(tok["max_age_seconds"], 600)
        self.assertTrue(tok["extend_when_used"])
        self.assertTrue(tok["created_manually"])
        self.assertFalse(tok["currently_active"])
        for _ in range(3):  # 1500 s in total, alive because each use extends it
            self.f.advance(500)
            status, body = self.c.call("GET", "/v1/me", token=full)
            self.assertEqual(status, 200, body)
        row = self.f.token(full)
        expiry = fake_aiven.parse_time(row["expiry_time"])
        last_used = fake_aiven.parse_time(row["last_used_time"])
        self.assertAlmostEqual(expiry - last_used, 600, delta=0.001)
        self.f.advance(601)
        status, body = self.c.call("GET", "/v1/me", token=full)
        self.assertError(status, body, 401, "Missing (expired) db token")

    def test_non_extending_token_dies_at_creation_plus_max_age(self):
        email = self.user()
        session = self.login(email)
        tok = self.create_token(session, max_age_seconds=600, extend_when_used=False)
        created = fake_aiven.parse_time(tok["create_time"])
        self.assertAlmostEqual(fake_aiven.parse_time(tok["expiry_time"]) - created, 600, delta=0.001)
        self.f.advance(500)
        status, body = self.c.call("GET", "/v1/me", token=tok["full_token"])
        self.assertEqual(status, 200, body)
        self.assertEqual(self.f.token(tok["full_token"])["expiry_time"], tok["expiry_time"])
        self.f.advance(100)
        status, body = self.c.call("GET", "/v1/me", token=tok["full_token"])
        self.assertError(status, body, 401, "Missing (expired) db token")

    def test_no_max_age_never_expires(self):
        email = self.user()
        session = self.login(email)
        tok = self.create_token(session, max_age_seconds=None, extend_when_used=True)
        self.assertIsNone(tok["expiry_time"])
        self.assertIsNone(tok["max_age_seconds"])
        self.f.advance(400 * 86400)
        status, body = self.c.call("GET", "/v1/me", token=tok["full_token"])
        self.assertEqual(status, 200, body)
        self.assertIsNone(self.f.token(tok["full_token"])["expiry_time"])

    def test_session_max_age_per_user(self):
        email = self.user(session_max_age_seconds=1200)
        token = self.login(email)
        self.assertEqual(self.tokens(token)[0]["max_age_seconds"], 1200)
        self.f.advance(1201)
        status, body = self.c.call("GET", "/v1/me", token=token)
        self.assertError(status, body, 401, "Missing (expired) db token")

    def test_last_used_fields(self):
        email = self.user()
        session = self.login(email)
        other = self.create_token(session, description="other")
        row = [r for r in self.tokens(session) if r["token_prefix"] == other["token_prefix"]][0]
        for key in ("last_used_time", "last_ip", "last_user_agent", "last_user_agent_human_readable"):
            self.assertIsNone(row[key], key)
        status, _ = self.c.call("GET", "/v1/project", token=other["full_token"], user_agent="avn-agent/9.8.7 (test)")
        self.assertEqual(status, 200)
        row = [r for r in self.tokens(session) if r["token_prefix"] == other["token_prefix"]][0]
        self.assertRegex(row["last_used_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(row["last_ip"], "127.0.0.1")
        self.assertEqual(row["last_user_agent"], "avn-agent/9.8.7 (test)")
        self.assertEqual(row["last_user_agent_human_readable"], "avn-agent 9.8.7")

    def test_tokens_expire_invalidates_older_tokens(self):
        email = self.user()
        a = self.login(email)
        b = self.f.create_token(email, description="automation")
        status, body = self.c.call("POST", "/v1/me/expire_tokens", token=a)
        self.assertEqual((status, body), (200, {"message": "All tokens expired"}))
        for tok in (a, b):
            status, body = self.c.call("GET", "/v1/me", token=tok)
            self.assertError(status, body, 401, "Missing (expired) db token")
        fresh = self.login(email)
        status, body = self.c.call("GET", "/v1/me", token=fresh)
        self.assertEqual(status, 200, body)
        self.assertEqual([r["token_prefix"] for r in self.tokens(fresh)], [fresh[:10]])

    def test_password_change(self):
        email = self.user()
        a = self.login(email)
        b = self.f.create_token(email)
        status, body = self.c.call("PUT", "/v1/me/password", {"password": "wrong one!", "new_password": "abcdefghij"},
                                   token=a)
        self.assertError(status, body, 403)
        status, body = self.c.call("PUT", "/v1/me/password", {"password": PASSWORD, "new_password": "short"}, token=a)
        self.assertError(status, body, 400)
        self.assertIn("too short", body["message"])
        status, body = self.c.call("PUT", "/v1/me/password", {"password": PASSWORD, "new_password": "brand new pw"},
                                   token=a)
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {"token"})
        new = body["token"]
        for tok in (a, b):
            status, body = self.c.call("GET", "/v1/me", token=tok)
            self.assertError(status, body, 401, "Missing (expired) db token")
        status, body = self.c.call("GET", "/v1/me", token=new)
        self.assertEqual(status, 200, body)
        status, body = self.c.call("POST", "/v1/userauth", {"email": email, "password": PASSWORD})
        self.assertError(status, body, 403)
        self.login(email, "brand new pw")

    def test_logout(self):
        email = self.user()
        a = self.login(email)
        b = self.login(email)
        status, body = self.c.call("POST", "/v1/me/logout", token=a)
        self.assertEqual(status, 200, body)
        self.assertIn("message", body)
        status, body = self.c.call("GET", "/v1/me", token=a)
        self.assertError(status, body, 401, "Invalid token")
        status, body = self.c.call("GET", "/v1/me", token=b)
        self.assertEqual(status, 200, body)

    def test_login_token_cap(self):
        with FakeAiven(max_login_tokens=3, plain_http=True) as fake:
            fake.add_user("cap@example.com", PASSWORD)
            c = Client(fake)
            tokens = []
            for _ in range(4):
                status, body = c.call("POST", "/v1/userauth", {"email": "cap@example.com", "password": PASSWORD})
                tokens.append(body["token"])
            status, body = c.call("GET", "/v1/me", token=tokens[0])
            self.assertEqual((status, body["message"]), (401, "Invalid token"))
            for tok in tokens[1:]:
                self.assertEqual(c.call("GET", "/v1/me", token=tok)[0], 200)
            c.close()


class AccessTokenTests(FakeTestCase):
    def test_create_returns_full_token(self):
        email = self.user()
        session = self.login(email)
        tok = self.create_token(session, description="ci", max_age_seconds=3600, extend_when_used=True,
                                scopes=["user:read"])
        for key in ("token_prefix", "full_token", "description", "create_time", "expiry_time", "max_age_seconds",
                    "extend_when_used", "created_manually", "currently_active", "last_used_time", "last_ip",
                    "last_user_agent", "last_user_agent_human_readable", "scopes"):
            self.assertIn(key, tok)
        self.assertEqual(tok["token_prefix"], tok["full_token"][:10])
        self.assertEqual(tok["scopes"], ["user:read"])
        self.assertEqual(tok["description"], "ci")
        self.assertRegex(tok["create_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        rows = self.tokens(session)
        self.assertEqual(len(rows), 2)
        self.assertTrue(all("full_token" not in r for r in rows))

    def test_max_age_and_field_bounds(self):
        email = self.user()
        session = self.login(email)
        for bad in (599, 315360001, 0, -1, "3600", True):
            status, body = self.c.call("POST", "/v1/access_token", {"description": "x", "extend_when_used": False,
                                                                    "max_age_seconds": bad}, token=session)
            self.assertError(status, body, 400)
        for good in (600, 315360000, 3600.0):
            tok = self.create_token(session, max_age_seconds=good)
            self.assertEqual(tok["max_age_seconds"], good)
            self.assertEqual(type(tok["max_age_seconds"]), type(good))
        status, body = self.c.call("POST", "/v1/access_token", {"description": "d" * 1001}, token=session)
        self.assertError(status, body, 400)
        self.create_token(session, description="d" * 1000)
        status, body = self.c.call("POST", "/v1/access_token", {"description": "x", "scopes": ["s"] * 101},
                                   token=session)
        self.assertError(status, body, 400)
        self.create_token(session, scopes=["s%d" % i for i in range(100)])

    def test_ten_token_limit(self):
        email = self.user()
        session = self.login(email)
        made = [self.create_token(session, description="t%d" % i) for i in range(10)]
        status, body = self.c.call("POST", "/v1/access_token", {"description": "eleventh"}, token=session)
        self.assertError(status, body, 400)
        self.assertIn("at most 10", body["message"])
        # Login tokens do not count; revoking frees a slot.
        self.login(email)
        status, body = self.c.call("DELETE", "/v1/access_token/" + enc(made[0]["token_prefix"]), token=session)
        self.assertEqual(status, 200, body)
        self.create_token(session, description="eleventh")

    def test_update_and_revoke_by_prefix_and_full_token(self):
        email = self.user()
        session = self.login(email)
        a = self.create_token(session, description="a")
        b = self.create_token(session, description="b")
        for tok in (a, b):
            self.assertTrue(any(ch in tok["token_prefix"] for ch in "+/"), tok["token_prefix"])
            for ch in "+/=":
                self.assertIn(ch, tok["full_token"])
        self.f.clear_requests()
        # Update by prefix, then by full token.
        status, body = self.c.call("PUT", "/v1/access_token/" + enc(a["token_prefix"]), {"description": "a2"},
                                   token=session)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["description"], "a2")
        self.assertEqual(body["token_prefix"], a["token_prefix"])
        self.assertNotIn("full_token", body)
        status, body = self.c.call("PUT", "/v1/access_token/" + enc(b["full_token"]), {"description": "b2"},
                                   token=session)
        self.assertEqual((status, body["description"]), (200, "b2"))
        # The raw paths were logged still percent-encoded.
        paths = [r["path"] for r in self.f.requests()]
        self.assertEqual(paths[1], "/v1/access_token/" + enc(b["full_token"]))
        self.assertIn("%3D", paths[1])
        self.assertTrue("%2B" in paths[1] and "%2F" in paths[1])
        # Revoke by prefix and by full token.
        status, body = self.c.call("DELETE", "/v1/access_token/" + enc(a["token_prefix"]), token=session)
        self.assertEqual((status, body), (200, {"message": "Access token revoked"}))
        status, body = self.c.call("DELETE", "/v1/access_token/" + enc(b["full_token"]), token=session)
        self.assertEqual((status, body), (200, {"message": "Access token revoked"}))
        for tok in (a, b):
            status, body = self.c.call("GET", "/v1/me", token=tok["full_token"])
            self.assertError(status, body, 401, "Invalid token")
        self.assertEqual([r["token_prefix"] for r in self.tokens(session)], [session[:10]])

    def test_revoke_own_token_like_avn_logout(self):
        email = self.user()
        session = self.login(email)
        status, body = self.c.call("DELETE", "/v1/access_token/" + enc(session), token=session)
        self.assertEqual(status, 200, body)
        status, body = self.c.call("GET", "/v1/me", token=session)
        self.assertError(status, body, 401, "Invalid token")

    def test_revoke_and_update_unknown_404(self):
        email = self.user()
        session = self.login(email)
        status, body = self.c.call("DELETE", "/v1/access_token/" + enc("nope+/nope"), token=session)
        self.assertError(status, body, 404)
        status, body = self.c.call("PUT", "/v1/access_token/" + enc("nope+/nope"), {"description": "x"},
                                   token=session)
        self.assertError(status, body, 404)
        # Someone else's token is unknown too.
        other = self.f.create_token(self.user())
        status, body = self.c.call("DELETE", "/v1/access_token/" + enc(other), token=session)
        self.assertError(status, body, 404)
        status, body = self.c.call("GET", "/v1/me", token=other)
        self.assertEqual(status, 200, body)

    def test_currently_active(self):
        email = self.user()
        a = self.login(email)
        b = self.login(email)
        c = self.create_token(a)["full_token"]
        for current in (a, b, c):
            rows = self.tokens(current)
            self.assertEqual(len(rows), 3)
            active = [r["token_prefix"] for r in rows if r["currently_active"]]
            self.assertEqual(active, [current[:10]])


class HttpTests(FakeTestCase):
    def test_keep_alive(self):
        email = self.user()
        token = self.login(email)
        sock = self.c.conn.sock
        self.assertIsNotNone(sock)
        self.assertEqual(self.c.call("GET", "/v1/me", token=token)[0], 200)
        self.assertEqual(self.c.call("GET", "/v1/project", token=token)[0], 200)
        self.assertIs(self.c.conn.sock, sock)
        self.assertEqual(self.c.last_response.getheader("Content-Length"), str(len(json.dumps(
            {"projects": []}, separators=(",", ":")))))

    def test_not_found_and_wrong_method(self):
        status, body = self.c.call("GET", "/v1/nothing-here")
        self.assertError(status, body, 404)
        status, body = self.c.call("DELETE", "/v1/me")
        self.assertError(status, body, 405)
        status, body = self.c.call("GET", "/v1/access_token/a/b")  # an unencoded "/" in a token
        self.assertError(status, body, 404)

    def test_invalid_json(self):
        self.c.conn.request("POST", "/v1/userauth", body=b"{not json", headers={"Content-Type": "application/json"})
        resp = self.c.conn.getresponse()
        self.assertError(resp.status, json.loads(resp.read()), 400)

    def test_date_header_follows_fake_clock(self):
        with FakeAiven(plain_http=True) as fake:
            c = Client(fake)
            fake.set_time("2031-05-06T07:08:09Z")
            c.call("GET", "/v1/me")
            date = email.utils.parsedate_to_datetime(c.last_response.getheader("Date"))
            expected = fake_aiven.parse_time("2031-05-06T07:08:09Z")
            self.assertLess(abs(date.timestamp() - expected), 3)
            self.assertRegex(c.last_response.getheader("Date"), r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")
            fake.advance(86400)
            c.call("GET", "/v1/me")
            date2 = email.utils.parsedate_to_datetime(c.last_response.getheader("Date"))
            self.assertLess(abs(date2.timestamp() - expected - 86400), 3)
            c.close()

    def test_tls_trusts_only_the_test_ca(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.f.port, timeout=5,
                                           context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn.request("GET", "/v1/me")
        conn.close()
        # The certificate names localhost too.
        conn = http.client.HTTPSConnection("localhost", self.f.port, timeout=5,
                                           context=client_context(self.f.ca_file))
        try:
            conn.request("GET", "/v1/me")
        except (ConnectionRefusedError, socket.gaierror):
            # Only a name that does not reach the fake skips; a certificate refusal fails.
            self.skipTest("localhost does not reach 127.0.0.1 here")
        self.assertEqual(conn.getresponse().status, 401)
        conn.close()

    def test_tls_minimum_version(self):
        ctx = client_context(self.f.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        conn = http.client.HTTPSConnection("127.0.0.1", self.f.port, timeout=5, context=ctx)
        conn.request("GET", "/v1/me")
        self.assertEqual(conn.getresponse().status, 401)
        self.assertEqual(conn.sock.version(), "TLSv1.2")
        conn.close()

    def test_wrong_host_name_certificate(self):
        with FakeAiven(san=["wrong.example.com"]) as fake:
            conn = http.client.HTTPSConnection("127.0.0.1", fake.port, timeout=5,
                                               context=client_context(fake.ca_file))
            with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                conn.request("GET", "/v1/me")
            self.assertIn("mismatch", str(cm.exception).lower())
            conn.close()

    def test_plain_http_mode(self):
        with FakeAiven(plain_http=True) as fake:
            self.assertTrue(fake.url.startswith("http://127.0.0.1:"))
            self.assertIsNone(fake.ca_file)
            fake.add_user("plain@example.com", PASSWORD)
            c = Client(fake)
            status, body = c.call("POST", "/v1/userauth", {"email": "plain@example.com", "password": PASSWORD})
            self.assertEqual(status, 200, body)
            c.close()


class FaultTests(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.f.clear_faults()
        self.addCleanup(self.f.clear_faults)

    def test_status_for_next_two_requests(self):
        email = self.user()
        token = self.login(email)
        self.f.clear_requests()
        fid = self.f.add_fault("GET", r"^/v1/me$", status=503, headers={"Retry-After": "2"}, count=2)
        for _ in range(2):
            status, body = self.c.call("GET", "/v1/me", token=token)
            self.assertError(status, body, 503)
            self.assertEqual(self.c.last_response.getheader("Retry-After"), "2")
        status, body = self.c.call("GET", "/v1/me", token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.f.faults_list(), [])
        log = self.f.requests()
        self.assertEqual([e["status"] for e in log], [503, 503, 200])
        self.assertEqual([e["fault"] for e in log], [fid, fid, None])
        self.assertEqual(log[0]["token_prefix"], token[:10])
        self.assertEqual(log[0]["user_agent"], "avn-agent/0.0-test")

    def test_status_with_custom_body_and_method_filter(self):
        self.f.add_fault("POST", "userauth", status=429, body={"message": "slow down"})
        # Another method is not affected.
        self.assertEqual(self.c.call("GET", "/v1/userauth")[0], 405)
        status, body = self.c.call("POST", "/v1/userauth", {"email": "x@example.com", "password": "y"})
        self.assertEqual((status, body), (429, {"message": "slow down"}))

    def test_delay_does_not_block_other_requests(self):
        email = self.user()
        token = self.login(email)
        self.f.add_fault("GET", r"^/v1/me$", delay=1.0)
        result = {}

        def slow():
            c = Client(self.f)
            t0 = time.monotonic()
            result["status"] = c.call("GET", "/v1/me", token=token)[0]
            result["elapsed"] = time.monotonic() - t0
            c.close()

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        status, _ = self.c.call("GET", "/v1/project", token=token)
        fast = time.monotonic() - t0
        self.assertEqual(status, 200)
        self.assertLess(fast, 0.5)
        self.assertNotIn("status", result)  # the slow one is still waiting
        th.join(5)
        self.assertEqual(result["status"], 200)
        self.assertGreaterEqual(result["elapsed"], 0.95)

    def test_drop_closes_connection(self):
        email = self.user()
        token = self.login(email)
        self.f.clear_requests()
        self.f.add_fault(None, r"^/v1/project", drop=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            self.c.call("GET", "/v1/project", token=token)
        self.c.close()
        c2 = Client(self.f)
        self.assertEqual(c2.call("GET", "/v1/project", token=token)[0], 200)
        c2.close()
        self.assertEqual([e["status"] for e in self.f.requests()], ["dropped", 200])

    def test_drop_raw_socket_sees_eof_without_bytes(self):
        self.f.add_fault(None, "/v1/me", drop=True)
        raw = socket.create_connection(("127.0.0.1", self.f.port), timeout=5)
        tls = client_context(self.f.ca_file).wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = tls.recv(1024)
        except (ssl.SSLError, ConnectionError):
            data = b""
        self.assertEqual(data, b"")
        tls.close()


class ScriptModeTests(unittest.TestCase):
    def test_script_prints_json_line_and_serves_control_endpoints(self):
        script = os.path.join(HERE, "fake_aiven.py")
        proc = subprocess.Popen([sys.executable, script, "--user", "script@example.com:pass:word1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 15)
            self.assertTrue(ready, "no JSON line from the script")
            info = json.loads(proc.stdout.readline())
            self.assertEqual(set(info), {"url", "ca_file", "port"})
            self.assertEqual(info["url"], "https://127.0.0.1:%d" % info["port"])
            self.assertTrue(os.path.isfile(info["ca_file"]))
            c = Client(host="127.0.0.1", port=info["port"], ca_file=info["ca_file"])

            status, body = c.call("POST", "/v1/userauth", {"email": "script@example.com", "password": "pass:word1"})
            self.assertEqual(status, 200, body)
            session = body["token"]

            status, clock = c.call("GET", "/_fake/clock")
            self.assertEqual(status, 200, clock)
            status, after = c.call("POST", "/_fake/clock/advance", {"seconds": 3600})
            self.assertEqual(status, 200, after)
            self.assertGreaterEqual(after["time"] - clock["time"], 3600)
            status, body = c.call("POST", "/_fake/clock/set", {"time": "2030-01-01T00:00:00Z"})
            self.assertEqual(status, 200, body)
            self.assertTrue(body["iso"].startswith("2030-01-01T00:00:0"))

            status, user = c.call("POST", "/_fake/users", {"email": "second@example.com", "password": "pw123456",
                                                           "real_name": "Second", "projects": ["p"],
                                                           "otp": "111111"})
            self.assertEqual(status, 200, user)
            self.assertEqual(user["projects"], ["p"])
            status, body = c.call("POST", "/_fake/users", {"email": "second@example.com", "password": "x"})
            self.assertEqual(status, 409)
            status, body = c.call("POST", "/v1/userauth", {"email": "second@example.com", "password": "pw123456"})
            self.assertEqual(status, 510)

            status, tok = c.call("POST", "/_fake/tokens", {"email": "second@example.com", "max_age_seconds": 60,
                                                           "description": "direct"})
            self.assertEqual(status, 200, tok)
            self.assertIn("full_token", tok)
            status, body = c.call("GET", "/v1/me", token=tok["full_token"])
            self.assertEqual((status, body["user"]["user"]), (200, "second@example.com"))
            status, listing = c.call("GET", "/_fake/tokens?" + urllib.parse.urlencode({"email": "second@example.com"}))
            self.assertEqual(status, 200, listing)
            self.assertEqual([t["full_token"] for t in listing["tokens"]], [tok["full_token"]])
            self.assertEqual(listing["tokens"][0]["state"], "active")
            c.call("POST", "/_fake/clock/advance", {"seconds": 61})
            status, body = c.call("GET", "/v1/me", token=tok["full_token"])
            self.assertEqual((status, body["message"]), (401, "Missing (expired) db token"))
            status, body = c.call("POST", "/_fake/tokens/revoke", {"token": session[:10]})
            self.assertEqual(status, 200, body)
            status, body = c.call("GET", "/v1/me", token=session)
            self.assertEqual((status, body["message"]), (401, "Invalid token"))
            status, body = c.call("POST", "/_fake/tokens/revoke", {"token": "unknown"})
            self.assertEqual(status, 404, body)

            status, body = c.call("POST", "/_fake/faults", {"method": "GET", "path": "^/v1/project$", "status": 502,
                                                            "count": 1})
            self.assertEqual(status, 200, body)
            status, faults = c.call("GET", "/_fake/faults")
            self.assertEqual(len(faults["faults"]), 1)
            self.assertEqual(c.call("GET", "/v1/project")[0], 502)
            self.assertEqual(c.call("GET", "/v1/project")[0], 401)

            status, log = c.call("GET", "/_fake/requests")
            self.assertEqual(status, 200)
            paths = [e["path"] for e in log["requests"]]
            self.assertFalse([p for p in paths if p.startswith("/_fake")])
            self.assertEqual(paths[-2:], ["/v1/project", "/v1/project"])
            self.assertEqual([e["status"] for e in log["requests"]][-2:], [502, 401])
            self.assertEqual(c.call("DELETE", "/_fake/requests")[0], 200)
            self.assertEqual(c.call("GET", "/_fake/requests")[1], {"requests": []})
            self.assertEqual(c.call("GET", "/_fake/nothing")[0], 404)
            c.close()

            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
            self.assertFalse(os.path.exists(info["ca_file"]), "temporary certificates were not removed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_script_plain_http(self):
        script = os.path.join(HERE, "fake_aiven.py")
        proc = subprocess.Popen([sys.executable, script, "--plain-http"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 15)
            self.assertTrue(ready)
            info = json.loads(proc.stdout.readline())
            self.assertIsNone(info["ca_file"])
            self.assertTrue(info["url"].startswith("http://"))
            c = Client(host="127.0.0.1", port=info["port"], plain=True)
            self.assertEqual(c.call("GET", "/v1/me")[0], 401)
            c.close()
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
