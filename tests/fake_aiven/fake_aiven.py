#!/usr/bin/python3
"""A local fake of the Aiven API, for tests.

Only the Python standard library and the ``openssl`` command-line tool are used.

The fake serves the endpoints behind ``avn user`` over HTTPS (or plain HTTP) on
127.0.0.1 with real semantics kept in memory: users, passwords, two-factor
logins, login and access tokens with their expiry rules, token invalidation by
``tokens-expire`` and password change.  Tests steer it through a fake clock,
fault injection rules and a request log, either in-process::

    with FakeAiven() as fake:
        fake.add_user("alice@example.com", "correct horse")
        ...  # talk to fake.url, trusting only fake.ca_file
        fake.advance(3600)

or as a separate process (see ``main``) whose control actions are HTTP
endpoints under ``/_fake/``.  See README.md next to this file for the rules.

Layout of this file:

* ``FakeClock``: the controllable clock every time-dependent rule uses.
* ``AivenModel``: users and tokens, and the API semantics (no HTTP here).
* ``FaultInjector`` and ``RequestLog``: test controls.
* ``make_test_certs``: a test CA and a server certificate made with ``openssl``.
* ``_Handler`` and ``_Server``: the HTTP layer.
* ``FakeAiven``: the public facade (start/stop, control methods).
* ``main``: the script mode.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import email.utils
import hmac
import ipaddress
import http
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Optional

__all__ = [
    "ApiError",
    "AivenModel",
    "FakeAiven",
    "FakeClock",
    "FaultInjector",
    "RequestLog",
    "make_test_certs",
    "totp_code",
]

# --------------------------------------------------------------------------
# Constants: the rules in numbers.
# --------------------------------------------------------------------------

DEFAULT_SESSION_MAX_AGE = 30 * 86400  # login tokens: 30 days, extended on use
MIN_MAX_AGE = 600  # access-token create: max_age_seconds lower bound
MAX_MAX_AGE = 315360000  # ... and upper bound (10 years)
MAX_DESCRIPTION = 1000  # characters in a token description
MAX_SCOPES = 100  # strings in a token's scopes
MAX_MANUAL_TOKENS = 10  # live manually created tokens per user
MAX_LOGIN_TOKENS = 1000  # live login tokens per user; least recently used go
MIN_PASSWORD = 8  # characters in a new password
MAX_OTP = 6  # characters in an OTP
TOKEN_PREFIX_LEN = 10  # token_prefix = the first 10 characters of the token
TOKEN_RANDOM_BYTES = 143  # base64: 192 characters, ending with one "="

MSG_AUTH_FAILED = "Authentication failed"
MSG_OTP_REQUIRED = "Two-factor authentication OTP required"
MSG_INVALID_TOKEN = "Invalid token"
MSG_EXPIRED_TOKEN = "Missing (expired) db token"
MSG_TOKENS_EXPIRED = "All tokens expired"
MSG_TOKEN_REVOKED = "Access token revoked"
MSG_LOGGED_OUT = "Logged out"
MSG_TOKEN_NOT_FOUND = "Access token not found"

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


# --------------------------------------------------------------------------
# Time.
# --------------------------------------------------------------------------


class FakeClock:
    """The fake's clock, in integer microseconds since the epoch.

    It starts at the real time and runs at real speed; ``advance`` moves it
    forward without sleeping and ``set_time`` puts it anywhere.  Every reading
    is strictly greater than the previous one (by at least 1 microsecond)
    until ``set_time`` is called, so "issued before" is never ambiguous.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_us = 0
        self._last_us = 0

    @staticmethod
    def _real_us() -> int:
        return time.time_ns() // 1000

    def now_us(self) -> int:
        """Current fake time in microseconds since the epoch."""
        with self._lock:
            t = self._real_us() + self._offset_us
            if t <= self._last_us:
                t = self._last_us + 1
            self._last_us = t
            return t

    def now(self) -> float:
        """Current fake time in seconds since the epoch."""
        return self.now_us() / 1e6

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0); returns the new time."""
        if seconds < 0:
            raise ValueError("advance() takes a non-negative number of seconds; use set_time() to go back")
        with self._lock:
            self._offset_us += int(round(seconds * 1e6))
        return self.now()

    def set_time(self, when: Any) -> float:
        """Set the clock to ``when`` (epoch seconds, datetime or ISO 8601 string)."""
        target_us = int(round(parse_time(when) * 1e6))
        with self._lock:
            self._offset_us = target_us - self._real_us()
            self._last_us = target_us - 1
        return self.now()


def parse_time(when: Any) -> float:
    """Epoch seconds from a number, an aware/naive-UTC datetime or an ISO 8601 string."""
    if isinstance(when, bool):
        raise ValueError("not a time: %r" % (when,))
    if isinstance(when, (int, float)):
        return float(when)
    if isinstance(when, str):
        s = when.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        when = _dt.datetime.fromisoformat(s)
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        return when.timestamp()
    raise ValueError("not a time: %r" % (when,))


def iso_z(us: Optional[int]) -> Optional[str]:
    """``2021-08-16T16:26:10.123456Z`` (token times), or None."""
    if us is None:
        return None
    d = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_offset(us: Optional[int]) -> Optional[str]:
    """``2021-08-18T09:24:10.298796+00:00`` (token_validity_begin), or None."""
    if us is None:
        return None
    d = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=us)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def totp_code(secret_b32: str, at: float, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1) for a base32 secret at epoch time ``at``."""
    secret = secret_b32.replace(" ", "").upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // step)), "sha1").digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return "%0*d" % (digits, value)


# --------------------------------------------------------------------------
# The model: users, tokens and the API semantics.
# --------------------------------------------------------------------------


class ApiError(Exception):
    """An API failure, answered as
    ``{"errors":[{"message":M,"status":N[,"error_code":C]}],"message":M}``."""

    def __init__(self, status: int, message: str, error_code: Optional[str] = None,
                 headers: Optional[dict] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return error_body(self.status, self.message, self.error_code)


def error_body(status: int, message: str, error_code: Optional[str] = None) -> dict:
    """The real error shape."""
    entry: dict = {"message": message, "status": status}
    if error_code:
        entry["error_code"] = error_code
    return {"errors": [entry], "message": message}


@dataclass
class User:
    email: str
    password: Optional[str]
    real_name: str
    user_id: str
    create_us: int
    auth: list
    projects: dict  # project name -> role
    otp: Optional[str] = None  # a fixed two-factor code
    totp_secret: Optional[str] = None  # or a base32 TOTP secret
    session_max_age: Optional[float] = None  # None: the fake's default
    tenant: Optional[str] = None
    state: str = "active"
    validity_us: int = 0  # token_validity_begin
    validity_seq: int = 0  # tokens issued with seq < this are dead

    @property
    def two_factor(self) -> bool:
        return bool(self.otp or self.totp_secret)


@dataclass
class Token:
    full: str
    prefix: str
    email_key: str
    seq: int
    create_us: int
    max_age: Optional[float]
    extend_when_used: bool
    created_manually: bool
    description: Optional[str] = None
    scopes: Optional[list] = None
    expiry_us: Optional[int] = None
    last_used_us: Optional[int] = None
    last_ip: Optional[str] = None
    last_user_agent: Optional[str] = None
    tenant: Optional[str] = None


@dataclass
class ApiRequest:
    """What the model needs from an HTTP request."""
    method: str
    path: str  # raw, still percent-encoded; may carry a query string
    body: bytes = b""
    authorization: Optional[str] = None
    user_agent: Optional[str] = None
    client_ip: Optional[str] = None


@dataclass
class ApiResponse:
    status: int
    payload: Any
    headers: dict = field(default_factory=dict)
    token_prefix: Optional[str] = None  # of the token presented, for the log


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def human_user_agent(ua: Optional[str]) -> Optional[str]:
    """A readable form of a User-Agent: ``avn-agent/1.2 (x)`` -> ``avn-agent 1.2``."""
    if not ua:
        return None
    m = re.match(r"\s*([^\s/]+)/([^\s]+)", ua)
    if m:
        return "%s %s" % (m.group(1), m.group(2))
    return ua.strip()


def presented_token(authorization: Optional[str]) -> Optional[str]:
    """The token in ``authorization: aivenv1 <token>``, else None."""
    if not authorization:
        return None
    parts = authorization.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "aivenv1":
        return None
    return parts[1].strip() or None


class AivenModel:
    """In-memory users and tokens with the Aiven API semantics.

    Rules (see README.md for the full list):

    * A token is *dead* when it is expired (``expiry_time <= now``) or was issued
      before its user's last tokens-expire / password change (tracked by issue
      order, so this stays exact when the fake clock is moved backwards).
      Dead tokens answer 401 ``Missing (expired) db token``; unknown or revoked
      ones 401 ``Invalid token``.  Dead tokens are not listed and cannot be
      updated or revoked (404).
    * Each successful authenticated use updates ``last_used_time``, ``last_ip``
      and ``last_user_agent``, and with ``extend_when_used`` and a max age moves
      ``expiry_time`` to now + ``max_age_seconds``.
    * Full tokens are base64 of random bytes, always containing ``+``, ``/``
      and ``=``; the prefix (first 10 characters) always contains ``+`` or ``/``.

    All public methods take ``self.lock`` (a re-entrant lock).
    """

    def __init__(self, clock: FakeClock, *, session_max_age_seconds: float = DEFAULT_SESSION_MAX_AGE,
                 max_manual_tokens: int = MAX_MANUAL_TOKENS, max_login_tokens: int = MAX_LOGIN_TOKENS,
                 token_limit_status: int = 400) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.session_max_age_seconds = session_max_age_seconds
        self.max_manual_tokens = max_manual_tokens
        self.max_login_tokens = max_login_tokens
        self.token_limit_status = token_limit_status
        self._users: dict = {}  # lower-cased email -> User
        self._tokens: dict = {}  # full token -> Token
        self._by_prefix: dict = {}  # prefix -> Token
        self._issued_prefixes: set = set()  # never reused, even after revoke
        self._seq = 1

    # ---- users -----------------------------------------------------------

    def reset(self) -> None:
        """Forget every user and token."""
        with self.lock:
            self._users.clear()
            self._tokens.clear()
            self._by_prefix.clear()

    def add_user(self, email: str, password: Optional[str] = None, *, real_name: Optional[str] = None,
                 otp: Optional[str] = None, totp_secret: Optional[str] = None,
                 auth: Optional[Iterable[str]] = None, projects: Any = None,
                 session_max_age_seconds: Optional[float] = None, tenant: Optional[str] = None,
                 state: str = "active") -> dict:
        """Create a user; returns its public user object.  ``auth`` defaults to
        ``["password"]`` when a password is given, else ``["saml"]`` (SSO-only).
        ``projects`` is a list of names (role ``admin``) or a ``{name: role}`` dict."""
        if not isinstance(email, str) or not email:
            raise ValueError("email is required")
        if auth is None:
            auth = ["password"] if password is not None else ["saml"]
        if projects is None:
            projects = {}
        elif not isinstance(projects, dict):
            projects = {p: "admin" for p in projects}
        with self.lock:
            key = email.lower()
            if key in self._users:
                raise ApiError(409, "User with email address %s already exists" % email, "user_exists")
            now = self.clock.now_us()
            user = User(email=email, password=password, real_name=real_name if real_name is not None else "",
                        user_id=secrets.token_hex(6), create_us=now, auth=list(auth), projects=dict(projects),
                        otp=otp, totp_secret=totp_secret, session_max_age=session_max_age_seconds,
                        tenant=tenant, state=state, validity_us=now, validity_seq=0)
            self._users[key] = user
            return self.user_view(user)

    def get_user(self, email: str) -> User:
        with self.lock:
            user = self._users.get(email.lower())
            if user is None:
                raise KeyError("no such user: %s" % email)
            return user

    def users(self) -> list:
        with self.lock:
            return [self.user_view(u) for u in self._users.values()]

    def user_view(self, user: User) -> dict:
        """The user object of ``GET /v1/me``."""
        return {
            "user": user.email,
            "user_id": user.user_id,
            "real_name": user.real_name,
            "state": user.state,
            "projects": list(user.projects),
            "auth": list(user.auth),
            "project_membership": dict(user.projects),
            "invitations": [],
            "token_validity_begin": iso_offset(user.validity_us),
            "create_time": iso_z(user.create_us),
            "city": "",
            "country": "",
            "department": "",
            "job_title": "",
            "features": {},
            "managed_by_scim": False,
            "tenant": user.tenant or "aiven",
        }

    def totp(self, email: str) -> str:
        """The user's current TOTP code (from the fake clock)."""
        user = self.get_user(email)
        if user.totp_secret:
            return totp_code(user.totp_secret, self.clock.now())
        if user.otp:
            return user.otp
        raise ValueError("user %s has no two-factor authentication" % email)

    def _check_otp(self, user: User, otp: str) -> bool:
        if user.otp is not None and hmac.compare_digest(otp, user.otp):
            return True
        if user.totp_secret:
            now = self.clock.now()
            return any(hmac.compare_digest(otp, totp_code(user.totp_secret, now + d * 30)) for d in (-1, 0, 1))
        return False

    def _check_password(self, user: User, password: Any) -> bool:
        return (isinstance(password, str) and user.password is not None
                and hmac.compare_digest(password.encode(), user.password.encode()))

    def _invalidate_tokens(self, user: User) -> None:
        """tokens-expire: every token issued before now is dead."""
        user.validity_us = self.clock.now_us()
        user.validity_seq = self._seq

    # ---- tokens ----------------------------------------------------------

    def _new_token_string(self) -> str:
        while True:
            s = base64.b64encode(secrets.token_bytes(TOKEN_RANDOM_BYTES)).decode("ascii")
            prefix = s[:TOKEN_PREFIX_LEN]
            if ("+" in s and "/" in s and s.endswith("=")
                    and ("+" in prefix or "/" in prefix)
                    and prefix not in self._issued_prefixes and s not in self._tokens):
                return s

    def issue_token(self, email: str, *, max_age_seconds: Optional[float] = None, extend_when_used: bool = False,
                    description: Optional[str] = None, created_manually: bool = True,
                    scopes: Optional[list] = None, tenant: Optional[str] = None) -> Token:
        """Create a token for a user with no validation and no limits."""
        with self.lock:
            user = self.get_user(email)
            full = self._new_token_string()
            now = self.clock.now_us()
            tok = Token(full=full, prefix=full[:TOKEN_PREFIX_LEN], email_key=user.email.lower(), seq=self._seq,
                        create_us=now, max_age=max_age_seconds, extend_when_used=bool(extend_when_used),
                        created_manually=bool(created_manually), description=description,
                        scopes=list(scopes) if scopes is not None else None,
                        expiry_us=None if max_age_seconds is None else now + int(round(max_age_seconds * 1e6)),
                        tenant=tenant)
            self._seq += 1
            self._tokens[full] = tok
            self._by_prefix[tok.prefix] = tok
            self._issued_prefixes.add(tok.prefix)
            if not tok.created_manually:
                self._enforce_login_cap(user)
            return tok

    def _login_token(self, user: User, tenant: Optional[str] = None) -> Token:
        max_age = user.session_max_age if user.session_max_age is not None else self.session_max_age_seconds
        return self.issue_token(user.email, max_age_seconds=max_age, extend_when_used=True,
                                created_manually=False, tenant=tenant)

    def _enforce_login_cap(self, user: User) -> None:
        live = [t for t in self._user_tokens(user) if not t.created_manually and self.token_state(t) == "active"]
        excess = len(live) - self.max_login_tokens
        if excess > 0:
            live.sort(key=lambda t: (t.last_used_us or t.create_us, t.seq))
            for t in live[:excess]:
                self._delete(t)

    def _user_tokens(self, user: User) -> list:
        key = user.email.lower()
        return sorted((t for t in self._tokens.values() if t.email_key == key), key=lambda t: t.seq)

    def _delete(self, tok: Token) -> None:
        self._tokens.pop(tok.full, None)
        self._by_prefix.pop(tok.prefix, None)

    def token_state(self, tok: Token, now_us: Optional[int] = None) -> str:
        """``active``, ``expired`` (expiry_time <= now) or ``invalidated``
        (issued before the user's token_validity_begin)."""
        user = self._users.get(tok.email_key)
        if user is None or tok.seq < user.validity_seq:
            return "invalidated"
        if tok.expiry_us is not None:
            if tok.expiry_us <= (now_us if now_us is not None else self.clock.now_us()):
                return "expired"
        return "active"

    def find_token(self, ident: str) -> Optional[Token]:
        """A stored token by full token or prefix (any user, dead or alive)."""
        with self.lock:
            return self._tokens.get(ident) or self._by_prefix.get(ident)

    def token_view(self, tok: Token, current: Optional[Token] = None, full: bool = False) -> dict:
        """The token object; ``full_token`` only when ``full``."""
        d = {
            "token_prefix": tok.prefix,
            "description": tok.description,
            "create_time": iso_z(tok.create_us),
            "expiry_time": iso_z(tok.expiry_us),
            "max_age_seconds": tok.max_age,  # int stays int, float stays float
            "extend_when_used": tok.extend_when_used,
            "created_manually": tok.created_manually,
            "currently_active": current is tok,
            "last_used_time": iso_z(tok.last_used_us),
            "last_ip": tok.last_ip,
            "last_user_agent": tok.last_user_agent,
            "last_user_agent_human_readable": human_user_agent(tok.last_user_agent),
            "scopes": list(tok.scopes) if tok.scopes is not None else None,
        }
        if full:
            d["full_token"] = tok.full
        return d

    def control_token_view(self, tok: Token) -> dict:
        """Token object plus ``full_token``, ``user_email`` and ``state``."""
        d = self.token_view(tok, full=True)
        user = self._users.get(tok.email_key)
        d["user_email"] = user.email if user else tok.email_key
        d["state"] = self.token_state(tok)
        return d

    def tokens_of(self, email: str, include_dead: bool = True) -> list:
        """A user's tokens for tests: control views, with full tokens."""
        with self.lock:
            user = self.get_user(email)
            out = [self.control_token_view(t) for t in self._user_tokens(user)]
            if not include_dead:
                out = [t for t in out if t["state"] == "active"]
            return out

    def revoke(self, ident: str) -> None:
        """Delete a token (full or prefix); KeyError when unknown."""
        with self.lock:
            tok = self.find_token(ident)
            if tok is None:
                raise KeyError("no such token")
            self._delete(tok)

    def expire(self, ident: str) -> None:
        """Make a token expired now (its expiry_time becomes now)."""
        with self.lock:
            tok = self.find_token(ident)
            if tok is None:
                raise KeyError("no such token")
            tok.expiry_us = self.clock.now_us()

    def expire_user_tokens(self, email: str) -> None:
        """Like tokens-expire for that user."""
        with self.lock:
            self._invalidate_tokens(self.get_user(email))

    # ---- authentication --------------------------------------------------

    def authenticate(self, req: ApiRequest) -> Token:
        """Check ``authorization: aivenv1 <token>`` and record the use."""
        value = presented_token(req.authorization)
        tok = self._tokens.get(value) if value else None
        if tok is None:
            raise ApiError(401, MSG_INVALID_TOKEN, "invalid_token")
        now = self.clock.now_us()
        if self.token_state(tok, now) != "active":
            raise ApiError(401, MSG_EXPIRED_TOKEN, "expired_token")
        tok.last_used_us = now
        tok.last_ip = req.client_ip
        tok.last_user_agent = req.user_agent
        if tok.extend_when_used and tok.max_age is not None:
            tok.expiry_us = now + int(round(tok.max_age * 1e6))
        return tok

    # ---- dispatch --------------------------------------------------------

    # path regex -> {method: (handler name, authenticated)}
    _ROUTES = (
        (re.compile(r"/v1/userauth"), {"POST": ("_api_userauth", False)}),
        (re.compile(r"/v1/userauth/login_options"), {"POST": ("_api_login_options", False)}),
        (re.compile(r"/v1/me"), {"GET": ("_api_me", True)}),
        (re.compile(r"/v1/project"), {"GET": ("_api_projects", True)}),
        (re.compile(r"/v1/me/expire_tokens"), {"POST": ("_api_expire_tokens", True)}),
        (re.compile(r"/v1/me/password"), {"PUT": ("_api_password", True)}),
        (re.compile(r"/v1/me/logout"), {"POST": ("_api_logout", True)}),
        (re.compile(r"/v1/user"), {"POST": ("_api_create_user", False)}),
        (re.compile(r"/v1/access_token"), {"GET": ("_api_list_tokens", True),
                                            "POST": ("_api_create_token", True)}),
        (re.compile(r"/v1/access_token/(?P<ident>[^/]+)"), {"PUT": ("_api_update_token", True),
                                                             "DELETE": ("_api_revoke_token", True)}),
    )

    def dispatch(self, req: ApiRequest) -> ApiResponse:
        """Answer one API request (never raises ApiError)."""
        presented = presented_token(req.authorization)
        prefix = presented[:TOKEN_PREFIX_LEN] if presented else None
        path = req.path.split("?", 1)[0]
        for rx, methods in self._ROUTES:
            m = rx.fullmatch(path)
            if m:
                break
        else:
            return ApiResponse(404, error_body(404, "Not Found"), token_prefix=prefix)
        if req.method not in methods:
            return ApiResponse(405, error_body(405, "Method Not Allowed"),
                               {"Allow": ", ".join(sorted(methods))}, prefix)
        name, needs_auth = methods[req.method]
        try:
            with self.lock:
                tok = self.authenticate(req) if needs_auth else None
                body = self._parse_body(req.body)
                payload = getattr(self, name)(req, tok, body, **m.groupdict())
            return ApiResponse(200, payload, token_prefix=prefix)
        except ApiError as e:
            return ApiResponse(e.status, e.body(), e.headers, prefix)

    @staticmethod
    def _parse_body(raw: bytes) -> dict:
        if not raw or not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "Invalid JSON in request body", "invalid_json")
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object", "invalid_json")
        return body

    @staticmethod
    def _str(body: dict, name: str, required: bool = True, max_len: Optional[int] = None) -> Optional[str]:
        v = body.get(name)
        if v is None:
            if required:
                raise ApiError(400, "Missing required field '%s'" % name, "missing_field")
            return None
        if not isinstance(v, str):
            raise ApiError(400, "Field '%s' must be a string" % name, "invalid_field")
        if max_len is not None and len(v) > max_len:
            raise ApiError(400, "Field '%s' is too long (at most %d characters)" % (name, max_len), "invalid_field")
        return v

    def _owned_token(self, caller: Token, ident: str) -> Token:
        """The caller's own live token named by a percent-encoded path segment."""
        value = urllib.parse.unquote(ident)
        tok = self._tokens.get(value) or self._by_prefix.get(value)
        if tok is None or tok.email_key != caller.email_key or self.token_state(tok) != "active":
            raise ApiError(404, MSG_TOKEN_NOT_FOUND, "not_found")
        return tok

    # ---- endpoints -------------------------------------------------------

    def _api_userauth(self, req, _tok, body):
        """POST /v1/userauth: password (+ OTP) login, creating a login token."""
        email = self._str(body, "email")
        password = self._str(body, "password")
        otp = self._str(body, "otp", required=False)
        tenant = self._str(body, "tenant", required=False)
        user = self._users.get(email.lower())
        if user is None or "password" not in user.auth or not self._check_password(user, password):
            raise ApiError(403, MSG_AUTH_FAILED, "authentication_failed")
        if user.two_factor:
            if not otp:
                raise ApiError(510, MSG_OTP_REQUIRED, "otp_required")
            if len(otp) > MAX_OTP or not self._check_otp(user, otp):
                raise ApiError(403, MSG_AUTH_FAILED, "authentication_failed")
        tok = self._login_token(user, tenant)
        out = {"token": tok.full, "state": user.state, "user_email": user.email}
        if tenant is not None:
            out["tenant"] = tenant
        return out

    def _api_login_options(self, req, _tok, body):
        """POST /v1/userauth/login_options: which login method to use."""
        email = self._str(body, "email")
        user = self._users.get(email.lower())
        if user is None or "password" in user.auth or not user.auth:
            return {"action": "password"}
        return {"action": user.auth[0]}

    def _api_me(self, req, tok, body):
        return {"user": self.user_view(self._users[tok.email_key])}

    def _api_projects(self, req, tok, body):
        user = self._users[tok.email_key]
        return {"projects": [{"project_name": p} for p in user.projects]}

    def _api_expire_tokens(self, req, tok, body):
        self._invalidate_tokens(self._users[tok.email_key])
        return {"message": MSG_TOKENS_EXPIRED}

    def _api_password(self, req, tok, body):
        """PUT /v1/me/password: check the current one, then cut off old tokens."""
        current = self._str(body, "password")
        new = self._str(body, "new_password")
        user = self._users[tok.email_key]
        if not self._check_password(user, current):
            raise ApiError(403, MSG_AUTH_FAILED, "authentication_failed")
        if len(new) < MIN_PASSWORD:
            raise ApiError(400, "New password is too short: it must be at least %d characters" % MIN_PASSWORD,
                           "password_too_short")
        user.password = new
        self._invalidate_tokens(user)
        fresh = self._login_token(user)
        return {"token": fresh.full}

    def _api_logout(self, req, tok, body):
        self._delete(tok)
        return {"message": MSG_LOGGED_OUT}

    def _api_create_user(self, req, _tok, body):
        """POST /v1/user: sign up, then log in."""
        email = self._str(body, "email")
        real_name = self._str(body, "real_name", required=False)
        password = self._str(body, "password")
        if not _EMAIL_RE.fullmatch(email):
            raise ApiError(400, "Invalid email address", "invalid_email")
        if email.lower() in self._users:
            raise ApiError(409, "User with email address %s already exists" % email, "user_exists")
        if len(password) < MIN_PASSWORD:
            raise ApiError(400, "Password is too short: it must be at least %d characters" % MIN_PASSWORD,
                           "password_too_short")
        self.add_user(email, password, real_name=real_name or "")
        user = self._users[email.lower()]
        tok = self._login_token(user)
        return {"state": user.state, "token": tok.full, "user": self.user_view(user), "user_email": user.email}

    def _api_create_token(self, req, tok, body):
        """POST /v1/access_token: validated, limited to 10 live manual tokens."""
        description = self._str(body, "description", required=False, max_len=MAX_DESCRIPTION)
        extend = body.get("extend_when_used", False)
        if extend is None:
            extend = False
        if not isinstance(extend, bool):
            raise ApiError(400, "Field 'extend_when_used' must be a boolean", "invalid_field")
        max_age = body.get("max_age_seconds")
        if max_age is not None:
            if not _is_number(max_age):
                raise ApiError(400, "Field 'max_age_seconds' must be a number", "invalid_field")
            if not MIN_MAX_AGE <= max_age <= MAX_MAX_AGE:
                raise ApiError(400, "Field 'max_age_seconds' must be between %d and %d"
                               % (MIN_MAX_AGE, MAX_MAX_AGE), "invalid_field")
        scopes = body.get("scopes")
        if scopes is not None:
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise ApiError(400, "Field 'scopes' must be a list of strings", "invalid_field")
            if len(scopes) > MAX_SCOPES:
                raise ApiError(400, "Field 'scopes' has too many entries (at most %d)" % MAX_SCOPES,
                               "invalid_field")
        user = self._users[tok.email_key]
        manual = [t for t in self._user_tokens(user) if t.created_manually and self.token_state(t) == "active"]
        if len(manual) >= self.max_manual_tokens:
            raise ApiError(self.token_limit_status,
                           "Maximum number of access tokens reached: at most %d access tokens are allowed per "
                           "user; revoke unused tokens first" % self.max_manual_tokens, "too_many_tokens")
        new = self.issue_token(user.email, max_age_seconds=max_age, extend_when_used=extend,
                               description=description, created_manually=True, scopes=scopes)
        return self.token_view(new, current=tok, full=True)

    def _api_list_tokens(self, req, tok, body):
        user = self._users[tok.email_key]
        return {"tokens": [self.token_view(t, current=tok) for t in self._user_tokens(user)
                           if self.token_state(t) == "active"]}

    def _api_update_token(self, req, tok, body, ident):
        target = self._owned_token(tok, ident)
        description = self._str(body, "description", max_len=MAX_DESCRIPTION)
        target.description = description
        return self.token_view(target, current=tok)

    def _api_revoke_token(self, req, tok, body, ident):
        target = self._owned_token(tok, ident)
        self._delete(target)
        return {"message": MSG_TOKEN_REVOKED}


# --------------------------------------------------------------------------
# Test controls: faults and the request log.
# --------------------------------------------------------------------------


@dataclass
class FaultRule:
    id: int
    method: Optional[str]  # None: any method
    path: str  # regex, re.search on the raw path without query string
    count: int
    status: Optional[int] = None
    body: Any = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    def view(self) -> dict:
        return {"id": self.id, "method": self.method, "path": self.path, "count": self.count,
                "status": self.status, "body": self.body, "headers": dict(self.headers),
                "delay": self.delay, "drop": self.drop}


class FaultInjector:
    """Rules applied to API requests (not to ``/_fake/``).

    A rule matches a method (or any) and a regex searched in the raw path
    (percent-encoded, without the query string).  The first matching rule is
    used and its ``count`` goes down by one; at zero it is removed.  Its action:
    sleep ``delay`` seconds (without blocking other connections), then either
    drop the connection without any response, answer ``status`` (with ``body``,
    default the error shape, and extra ``headers``), or, with neither, handle
    the request normally.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list = []
        self._next_id = 1

    def add(self, method: Optional[str] = None, path: str = ".*", *, status: Optional[int] = None,
            body: Any = None, headers: Optional[dict] = None, delay: float = 0.0, drop: bool = False,
            count: int = 1) -> int:
        re.compile(path)
        if status is not None and not (100 <= int(status) <= 599):
            raise ValueError("status must be 100..599")
        if count < 1:
            raise ValueError("count must be >= 1")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        method = None if method in (None, "", "*") else method.upper()
        with self._lock:
            rule = FaultRule(self._next_id, method, path, int(count), None if status is None else int(status),
                             body, dict(headers or {}), float(delay), bool(drop))
            self._next_id += 1
            self._rules.append(rule)
            return rule.id

    def take(self, method: str, raw_path: str) -> Optional[FaultRule]:
        path = raw_path.split("?", 1)[0]
        with self._lock:
            for rule in self._rules:
                if (rule.method is None or rule.method == method) and re.search(rule.path, path):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def rules(self) -> list:
        with self._lock:
            return [r.view() for r in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


class RequestLog:
    """API requests answered (or dropped), oldest first.  Each entry:
    ``method``, ``path`` (raw), ``status`` (int or ``"dropped"``), ``time``
    (fake, ISO 8601), ``token_prefix`` (first 10 characters of the token
    presented, or None), ``user_agent``, ``body`` (parsed JSON, raw text, or
    None), ``content_type``, ``fault`` (id of the rule applied, or None)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list = []

    def add(self, entry: dict) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# --------------------------------------------------------------------------
# Certificates.
# --------------------------------------------------------------------------

DEFAULT_SAN = ("localhost", "127.0.0.1")


def _san_entry(name: str) -> str:
    if ":" in name and name.split(":", 1)[0] in ("DNS", "IP", "URI", "email"):
        return name
    try:
        ipaddress.ip_address(name)
        return "IP:" + name
    except ValueError:
        return "DNS:" + name


def make_test_certs(directory: str, san: Iterable[str] = DEFAULT_SAN) -> tuple:
    """Make ``ca.pem``/``ca.key`` (a test CA) and ``server.pem``/``server.key``
    (P-256, signed by the CA, ``subjectAltName`` from ``san``: bare names become
    ``DNS:``/``IP:`` entries; an empty list makes a certificate without SAN)
    in ``directory``.  Returns ``(ca_file, cert_file, key_file)``."""
    os.makedirs(directory, exist_ok=True)
    p = lambda name: os.path.join(directory, name)  # noqa: E731
    entries = [_san_entry(n) for n in san]
    with open(p("ca.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n"
                "[dn]\nCN = Fake Aiven Test CA\n"
                "[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
                "subjectKeyIdentifier = hash\n")
    with open(p("server.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = fake-aiven-server\n")
    with open(p("server_ext.cnf"), "w") as f:
        f.write("basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                "extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid,issuer\n")
        if entries:
            f.write("subjectAltName = %s\n" % ",".join(entries))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    env = dict(os.environ)
    env.pop("OPENSSL_CONF", None)
    cmds = [
        ["openssl", "req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "3650",
         "-sha256", "-config", p("ca.cnf")],
        ["openssl", "req", "-new", *ec, "-keyout", p("server.key"), "-out", p("server.csr"),
         "-config", p("server.cnf")],
        ["openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
         "-set_serial", str(secrets.randbits(63) | 1), "-days", "825", "-sha256",
         "-extfile", p("server_ext.cnf"), "-out", p("server.pem")],
    ]
    for cmd in cmds:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(cmd[:3]), r.stdout.decode(errors="replace")))
    return p("ca.pem"), p("server.pem"), p("server.key")


# --------------------------------------------------------------------------
# HTTP layer.
# --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP glue: body reading, faults, logging, JSON responses."""

    protocol_version = "HTTP/1.1"
    server_version = "fake-aiven/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this

    server: "_Server"

    # --- HTTP plumbing ---

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        """The Date header: RFC 7231 format, from the FAKE clock."""
        if timestamp is None:
            timestamp = self.server.fake.clock.now()
        return email.utils.formatdate(timestamp, usegmt=True)

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """Errors raised by the HTTP parser, in the JSON error shape."""
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.log_error("code %d, message %s", code, message or phrase)
        self.close_connection = True
        body = b""
        if code >= 200 and code not in (204, 304) and self.command != "HEAD":
            body = json.dumps(error_body(code, message or phrase)).encode()
        self.send_response(code)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def _send(self, status: int, payload: Any = None, headers: Optional[dict] = None,
              raw: Optional[bytes] = None) -> None:
        if raw is None:
            raw = b"" if status in (204, 304) or payload is None else json.dumps(
                payload, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        names = {k.lower() for k in (headers or {})}
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(raw)))
        # Headers and body in one write: two small writes meet Nagle and
        # delayed ACKs and cost ~40 ms per response.
        self._headers_buffer.append(b"\r\n" + raw)
        self.flush_headers()

    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(n)

    def _drop(self) -> None:
        """Close the connection without writing anything."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- dispatch ---

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        fake = self.server.fake
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.send_error(400, "Bad request body")
            return
        path_only = self.path.split("?", 1)[0]
        if fake.control_api and (path_only == "/_fake" or path_only.startswith("/_fake/")):
            self._control(raw)
            return
        ua = self.headers.get("User-Agent")
        presented = presented_token(self.headers.get("Authorization"))
        entry = {
            "method": self.command,
            "path": self.path,
            "status": None,
            "time": iso_z(fake.clock.now_us()),
            "token_prefix": presented[:TOKEN_PREFIX_LEN] if presented else None,
            "user_agent": ua,
            "content_type": self.headers.get("Content-Type"),
            "body": _loggable_body(raw),
            "fault": None,
        }
        # The log entry is written before answering, so a client that got its
        # answer always finds its request in the log.
        rule = fake.faults.take(self.command, self.path)
        if rule is not None:
            entry["fault"] = rule.id
            if rule.delay > 0:
                fake._stopping.wait(rule.delay)
            if rule.drop:
                entry["status"] = "dropped"
                fake.log.add(entry)
                self._drop()
                return
            if rule.status is not None:
                entry["status"] = rule.status
                fake.log.add(entry)
                self._send_fault(rule)
                return
        req = ApiRequest(self.command, self.path, raw, self.headers.get("Authorization"), ua,
                         self.client_address[0] if self.client_address else None)
        try:
            resp = fake.model.dispatch(req)
        except Exception as e:  # a bug in the fake: say so, loudly
            traceback.print_exc()
            resp = ApiResponse(500, error_body(500, "Internal error in fake_aiven: %r" % (e,)))
        entry["status"] = resp.status
        fake.log.add(entry)
        self._send(resp.status, resp.payload, resp.headers)

    def _send_fault(self, rule: FaultRule) -> None:
        try:
            phrase = http.HTTPStatus(rule.status).phrase
        except ValueError:
            phrase = "Injected fault"
        if rule.body is None:
            payload = error_body(rule.status, phrase) if rule.status >= 400 else {}
            self._send(rule.status, payload, rule.headers)
        elif isinstance(rule.body, (bytes, str)):
            raw = rule.body.encode("utf-8") if isinstance(rule.body, str) else rule.body
            self._send(rule.status, headers=rule.headers, raw=raw)
        else:
            self._send(rule.status, rule.body, rule.headers)

    # --- control API (/_fake/...) ---

    def _control(self, raw: bytes) -> None:
        try:
            body = AivenModel._parse_body(raw)
            status, payload = _control_api(self.server.fake, self.command, self.path, body)
        except ApiError as e:
            status, payload = e.status, e.body()
        except (KeyError, ValueError, TypeError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            status, payload = (404 if isinstance(e, KeyError) else 400), error_body(
                404 if isinstance(e, KeyError) else 400, str(msg))
        self._send(status, payload)


def _loggable_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", errors="replace")


def _control_api(fake: "FakeAiven", method: str, raw_path: str, body: dict) -> tuple:
    """The /_fake/ endpoints; returns (status, payload)."""
    parsed = urllib.parse.urlsplit(raw_path)
    path = parsed.path.rstrip("/")
    query = urllib.parse.parse_qs(parsed.query)

    def need(name: str) -> Any:
        if name not in body:
            raise ApiError(400, "Missing required field '%s'" % name)
        return body[name]

    def opts(*names: str) -> dict:
        return {n: body[n] for n in names if n in body}

    routes: dict = {
        ("GET", "/_fake/clock"): lambda: fake._clock_view(),
        ("POST", "/_fake/clock/advance"): lambda: (fake.advance(float(need("seconds"))), fake._clock_view())[1],
        ("POST", "/_fake/clock/set"): lambda: (fake.set_time(need("time")), fake._clock_view())[1],
        ("GET", "/_fake/users"): lambda: {"users": fake.users()},
        ("POST", "/_fake/users"): lambda: fake.add_user(need("email"), body.get("password"), **opts(
            "real_name", "otp", "totp_secret", "auth", "projects", "session_max_age_seconds", "tenant", "state")),
        ("POST", "/_fake/users/expire_tokens"): lambda: (fake.expire_user_tokens(need("email")),
                                                         {"message": MSG_TOKENS_EXPIRED})[1],
        ("GET", "/_fake/totp"): lambda: {"otp": fake.totp(_q1(query, "email"))},
        ("GET", "/_fake/tokens"): lambda: {"tokens": fake.user_tokens(_q1(query, "email"))},
        ("POST", "/_fake/tokens"): lambda: fake.model.control_token_view(fake.model.find_token(
            fake.create_token(need("email"), **opts("max_age_seconds", "extend_when_used", "description",
                                                     "created_manually", "scopes")))),
        ("POST", "/_fake/tokens/revoke"): lambda: (fake.revoke_token(need("token")),
                                                   {"message": MSG_TOKEN_REVOKED})[1],
        ("POST", "/_fake/tokens/expire"): lambda: (fake.expire_token(need("token")),
                                                   {"message": "Token expired"})[1],
        ("GET", "/_fake/faults"): lambda: {"faults": fake.faults_list()},
        ("POST", "/_fake/faults"): lambda: {"id": fake.add_fault(body.get("method"), body.get("path", ".*"), **opts(
            "status", "body", "headers", "delay", "drop", "count"))},
        ("DELETE", "/_fake/faults"): lambda: (fake.clear_faults(), {"message": "Faults cleared"})[1],
        ("GET", "/_fake/requests"): lambda: {"requests": fake.requests()},
        ("DELETE", "/_fake/requests"): lambda: (fake.clear_requests(), {"message": "Request log cleared"})[1],
        ("POST", "/_fake/reset"): lambda: (fake.reset(), {"message": "Reset"})[1],
    }
    fn = routes.get((method, path))
    if fn is None:
        if any(p == path for (_m, p) in routes):
            return 405, error_body(405, "Method Not Allowed")
        return 404, error_body(404, "Not Found")
    return 200, fn()


def _q1(query: dict, name: str) -> str:
    values = query.get(name)
    if not values:
        raise ApiError(400, "Missing query parameter '%s'" % name)
    return values[0]


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with daemon threads, optional TLS (handshake in the
    connection's own thread), and tracking of open connections for stop()."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple, fake: "FakeAiven", ssl_context: Optional[ssl.SSLContext]) -> None:
        self.fake = fake
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn(): it can wait on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, OSError)) and not self.fake.verbose:
            return  # clients hanging up, failed handshakes: normal in tests
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------
# The facade.
# --------------------------------------------------------------------------


class FakeAiven:
    """The fake Aiven API server, with its controls.

    ``with FakeAiven() as fake:`` starts it in a background thread; ``fake.url``,
    ``fake.port`` and ``fake.ca_file`` (None in plain-HTTP mode) tell clients
    where it is.  Every control action is a method here and, when
    ``control_api`` is true, also an HTTP endpoint under ``/_fake/``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, plain_http: bool = False,
                 san: Optional[Iterable[str]] = None, cert_dir: Optional[str] = None,
                 cert_file: Optional[str] = None, key_file: Optional[str] = None, ca_file: Optional[str] = None,
                 session_max_age_seconds: float = DEFAULT_SESSION_MAX_AGE,
                 max_manual_tokens: int = MAX_MANUAL_TOKENS, max_login_tokens: int = MAX_LOGIN_TOKENS,
                 token_limit_status: int = 400, control_api: bool = True, verbose: bool = False) -> None:
        self.host = host
        self._requested_port = port
        self.plain_http = plain_http
        self.san = list(san) if san is not None else list(DEFAULT_SAN)
        self.cert_dir = cert_dir
        self.cert_file = cert_file
        self.key_file = key_file
        self.ca_file = ca_file
        self.control_api = control_api
        self.verbose = verbose
        self.clock = FakeClock()
        self.model = AivenModel(self.clock, session_max_age_seconds=session_max_age_seconds,
                                max_manual_tokens=max_manual_tokens, max_login_tokens=max_login_tokens,
                                token_limit_status=token_limit_status)
        self.faults = FaultInjector()
        self.log = RequestLog()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._tmpdir: Optional[str] = None
        self._stopping = threading.Event()
        self.port: Optional[int] = None
        self.url: Optional[str] = None

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> "FakeAiven":
        """Make certificates if needed, bind, and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("already started")
        ctx = None
        if not self.plain_http:
            if not (self.cert_file and self.key_file):
                directory = self.cert_dir
                if directory is None:
                    self._tmpdir = directory = tempfile.mkdtemp(prefix="fake_aiven_")
                self.ca_file, self.cert_file, self.key_file = make_test_certs(directory, self.san)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.cert_file, self.key_file)
        else:
            self.ca_file = None
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self, ctx)
        self.port = self._server.server_address[1]
        self.url = "%s://%s:%d" % ("http" if self.plain_http else "https", self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-aiven", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and remove generated files."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "FakeAiven":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- client conveniences ---------------------------------------------

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        """A client context trusting only the fake's CA (None in plain HTTP)."""
        if self.plain_http:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.ca_file)
        return ctx

    def connection(self, timeout: float = 10) -> http.client.HTTPConnection:
        """A new http.client connection to the fake."""
        if self.plain_http:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl_context())

    # ---- clock -----------------------------------------------------------

    def now(self) -> float:
        """Fake time, epoch seconds."""
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward; returns the new time."""
        return self.clock.advance(seconds)

    def set_time(self, when: Any) -> float:
        """Set the fake clock (epoch seconds, datetime or ISO string)."""
        return self.clock.set_time(when)

    def _clock_view(self) -> dict:
        us = self.clock.now_us()
        return {"time": us / 1e6, "iso": iso_z(us)}

    # ---- users and tokens ------------------------------------------------

    def add_user(self, email: str, password: Optional[str] = None, **kwargs: Any) -> dict:
        """Add a user; kwargs: real_name, otp, totp_secret, auth, projects,
        session_max_age_seconds, tenant, state.  Returns the user object."""
        return self.model.add_user(email, password, **kwargs)

    def users(self) -> list:
        """Every user object."""
        return self.model.users()

    def user(self, email: str) -> dict:
        """The user object of ``GET /v1/me`` for that user."""
        with self.model.lock:
            return self.model.user_view(self.model.get_user(email))

    def totp(self, email: str) -> str:
        """The OTP the user must send now."""
        return self.model.totp(email)

    def create_token(self, email: str, *, max_age_seconds: Optional[float] = None, extend_when_used: bool = False,
                     description: Optional[str] = None, created_manually: bool = True,
                     scopes: Optional[list] = None) -> str:
        """Create a token directly (no validation, no limits); returns the full token."""
        return self.model.issue_token(email, max_age_seconds=max_age_seconds, extend_when_used=extend_when_used,
                                      description=description, created_manually=created_manually,
                                      scopes=scopes).full

    def login_token(self, email: str) -> str:
        """Create a login (session) token exactly as a password login would."""
        with self.model.lock:
            return self.model._login_token(self.model.get_user(email)).full

    def user_tokens(self, email: str, include_dead: bool = True) -> list:
        """A user's tokens (token objects plus full_token, user_email and state:
        active, expired or invalidated), oldest first."""
        return self.model.tokens_of(email, include_dead)

    def token(self, token: str) -> dict:
        """One token's control view, by full token or prefix (KeyError if unknown)."""
        with self.model.lock:
            tok = self.model.find_token(token)
            if tok is None:
                raise KeyError("no such token")
            return self.model.control_token_view(tok)

    def revoke_token(self, token: str) -> None:
        """Delete a token (full or prefix); afterwards it is 401 Invalid token."""
        self.model.revoke(token)

    def expire_token(self, token: str) -> None:
        """Set a token's expiry_time to now; afterwards it is 401 expired."""
        self.model.expire(token)

    def expire_user_tokens(self, email: str) -> None:
        """Invalidate every token of the user issued so far (like tokens-expire)."""
        self.model.expire_user_tokens(email)

    # ---- faults and log --------------------------------------------------

    def add_fault(self, method: Optional[str] = None, path: str = ".*", *, status: Optional[int] = None,
                  body: Any = None, headers: Optional[dict] = None, delay: float = 0.0, drop: bool = False,
                  count: int = 1) -> int:
        """Add a fault rule (see FaultInjector); returns its id."""
        return self.faults.add(method, path, status=status, body=body, headers=headers, delay=delay, drop=drop,
                               count=count)

    def faults_list(self) -> list:
        """Pending fault rules."""
        return self.faults.rules()

    def clear_faults(self) -> None:
        self.faults.clear()

    def requests(self) -> list:
        """The request log (see RequestLog)."""
        return self.log.entries()

    def clear_requests(self) -> None:
        self.log.clear()

    def reset(self) -> None:
        """Forget users, tokens, faults and the log; the clock goes back to real time."""
        self.model.reset()
        self.faults.clear()
        self.log.clear()
        self.clock.set_time(time.time())


# --------------------------------------------------------------------------
# Script mode.
# --------------------------------------------------------------------------


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fake Aiven API for tests. Prints one JSON line {url, ca_file, port} once listening, "
                    "then serves until SIGTERM/SIGINT. Control endpoints live under /_fake/.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a random one)")
    parser.add_argument("--plain-http", action="store_true", help="serve plain HTTP, no TLS")
    parser.add_argument("--san", action="append", metavar="NAME",
                        help="a subjectAltName for the server certificate (repeatable; "
                             "default: localhost and 127.0.0.1)")
    parser.add_argument("--cert-dir", help="write the generated CA and certificate here (default: a temp dir)")
    parser.add_argument("--cert", help="use this server certificate (with --key) instead of generating one")
    parser.add_argument("--key", help="the server key for --cert")
    parser.add_argument("--ca", help="the CA file to report for --cert")
    parser.add_argument("--user", action="append", default=[], metavar="EMAIL:PASSWORD",
                        help="add a password user (repeatable)")
    parser.add_argument("--session-max-age", type=float, default=DEFAULT_SESSION_MAX_AGE,
                        help="login token max age in seconds (default: 30 days)")
    parser.add_argument("--verbose", action="store_true", help="log requests on stderr")
    args = parser.parse_args(argv)

    fake = FakeAiven(host=args.host, port=args.port, plain_http=args.plain_http, san=args.san,
                     cert_dir=args.cert_dir, cert_file=args.cert, key_file=args.key, ca_file=args.ca,
                     session_max_age_seconds=args.session_max_age, control_api=True, verbose=args.verbose)
    for spec in args.user:
        email_, sep, password = spec.partition(":")
        if not sep:
            parser.error("--user takes EMAIL:PASSWORD")
        fake.add_user(email_, password)

    done = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    try:
        sys.stdout.write(json.dumps({"url": fake.url, "ca_file": fake.ca_file, "port": fake.port}) + "\n")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
