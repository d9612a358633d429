"""The token keeper against the real agent and the fake API, with both
clocks moved forward in steps (the agent's through its test-only
`debug_advance_clock` op, which also runs whatever fell due)."""

import json
import threading

from harness import TestCase  # first: puts tests/fake_aiven on sys.path
from fake_aiven import FakeAiven

EMAIL = "keeper@example.com"
PASSWORD = "long enough password"
HOUR = 3600


class KeeperCase(TestCase):
    session_max_age = HOUR
    agent_args = ("--test-clock", "--keyring", "memory")

    def setUp(self):
        super().setUp()
        self.fake = FakeAiven(session_max_age_seconds=self.session_max_age).start()
        self.addCleanup(self.fake.stop)
        self.fake.add_user(EMAIL, PASSWORD)
        self.agent = self.start_agent(*self.agent_args,
                                      env={"AIVEN_WEB_URL": self.fake.url,
                                           "AIVEN_CA_CERT": self.fake.ca_file})
        r = self.agent.call("login", {"email": EMAIL, "password": PASSWORD})
        self.assertIn("result", r, r)
        self.session_prefix = self.status_tokens()[0]["token_prefix"]

    def advance(self, seconds):
        """Moves the fake's clock, then the agent's, which settles."""
        self.fake.advance(seconds)
        r = self.agent.call("debug_advance_clock", {"seconds": seconds})
        self.assertIn("result", r, r)

    def status_tokens(self):
        return self.agent.call("status")["result"]["tokens"]

    def token(self, **args):
        return self.agent.call("token", args)

    def extension_calls(self, prefix):
        return [r for r in self.fake.requests()
                if r["method"] == "GET" and r["path"] == "/v1/access_token"
                and r["token_prefix"] == prefix]


class Session(KeeperCase):
    def test_one_hour_session_stays_valid_for_two_months_with_few_extensions(self):
        step = 25 * 60
        steps = 60 * 24 * 3600 // step  # two months
        self.fake.clear_requests()
        for _ in range(steps):
            self.advance(step)
        # Still valid on the server, and the agent hands it out.
        t = self.token(min_ttl=60)["result"]
        self.assertGreater(t["expires_in"], 60)
        self.assertEqual(self.fake.token(t["token"])["state"], "active")
        calls = self.extension_calls(self.session_prefix)
        refused = [r for r in self.fake.requests() if r["status"] in (401, 403)]
        self.assertEqual(refused, [])
        hours = steps * step / HOUR
        # About one extension per 40 minutes; never more than 3 per max age.
        self.assertGreater(len(calls), hours / 3)
        self.assertLessEqual(len(calls), 3 * hours)
        per_window = {}
        for c in calls:
            per_window.setdefault(c["time"][:13], 0)  # by fake hour
            per_window[c["time"][:13]] += 1
        self.assertLessEqual(max(per_window.values()), 3)

    def test_an_expiry_the_api_did_not_give_at_login_is_asked_for_again(self):
        self.fake.add_fault("GET", "^/v1/access_token$", status=503, count=1)
        self.assertIn("result", self.agent.call("login", {"email": EMAIL, "password": PASSWORD}))
        session = self.status_tokens()[0]
        self.assertIsNone(session["expiry_time"], session)
        self.assertIsNotNone(session["next_extension"], "nothing planned to learn the expiry")
        self.advance(31)
        session = self.status_tokens()[0]
        self.assertIsNotNone(session["expiry_time"], session)
        self.assertEqual(session["failures"], 0)

    def test_min_ttl_asks_for_an_unknown_expiry_first(self):
        self.fake.add_fault("GET", "^/v1/access_token$", status=503, count=1)
        self.assertIn("result", self.agent.call("login", {"email": EMAIL, "password": PASSWORD}))
        t = self.token(min_ttl=60)["result"]
        self.assertIsNotNone(t["expires_in"], t)
        self.assertGreater(t["expires_in"], 60)

    def test_token_with_min_ttl_is_served_from_memory_when_enough_life_is_left(self):
        self.fake.clear_requests()
        for _ in range(5):
            t = self.token(min_ttl=600)["result"]
            self.assertIsNone(t["name"])
            self.assertEqual(t["user_email"], EMAIL)
        self.assertEqual(self.fake.requests(), [])

    def test_min_ttl_beyond_max_age_is_refused_clearly(self):
        err = self.token(min_ttl=2 * HOUR)["error"]
        self.assertEqual(err["code"], "insufficient_ttl")
        self.assertIn("max age is 3600 s", err["message"])

    def test_100_concurrent_requests_needing_an_extension_share_one_call(self):
        self.advance(15 * 60)  # 45 min left: nothing due yet
        self.fake.clear_requests()
        replies = []
        barrier = threading.Barrier(100)

        def ask():
            c = self.agent.client()
            barrier.wait(10)
            replies.append(c.call("token", {"min_ttl": 3000}))
            c.close()

        threads = [threading.Thread(target=ask) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(replies), 100)
        for r in replies:
            self.assertGreaterEqual(r["result"]["expires_in"], 3000, r)
        self.assertEqual(len(self.extension_calls(self.session_prefix)), 1)

    def test_401_during_extension_ends_the_session_and_says_so(self):
        self.fake.expire_user_tokens(EMAIL)
        self.advance(45 * 60)
        session = self.agent.call("status")["result"]["session"]
        self.assertFalse(session["logged_in"])
        self.assertIn("refused the session token while extending it", session["cleared"])
        err = self.token()["error"]
        self.assertEqual(err["code"], "not_logged_in")


class Faults(KeeperCase):
    def status_session(self):
        return [t for t in self.status_tokens() if t["name"] is None][0]

    def check_backoff(self, **fault):
        self.fake.add_fault("GET", "^/v1/access_token$", count=1000, **fault)
        self.advance(42 * 60)  # the extension falls due and fails
        waits = []
        for expected_failures in (1, 2, 3, 4):
            s = self.status_session()
            self.assertEqual(s["failures"], expected_failures, s)
            self.assertTrue(s["last_error"])
            # The still-valid token keeps being served meanwhile.
            self.assertIn("result", self.token(min_ttl=60))
            waits.append(s["next_extension"])
            if expected_failures == 4:
                self.fake.clear_faults()  # the API recovers
            # Jump to just past the planned retry.
            self.advance(self.seconds_until(s["next_extension"]) + 1)
        s = self.status_session()
        self.assertEqual(s["failures"], 0, s)  # recovered: normal planning again
        self.assertIsNone(s["last_error"])
        self.assertGreater(self.token()["result"]["expires_in"], 50 * 60)
        return waits

    def seconds_until(self, iso):
        from datetime import datetime, timezone
        now = self.agent.call("debug_advance_clock", {"seconds": 0})["result"]["server_now"]
        parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return max(0, int((parse(iso) - parse(now)).total_seconds()))

    def test_5xx_backs_off_with_growing_capped_intervals_then_recovers(self):
        self.check_backoff(status=503)
        log = self.agent.log()
        self.assertIn("(1 in a row)", log)
        self.assertIn("(4 in a row)", log)
        # Intervals grow: about 1, 2, 4, 8 s (with jitter).
        retries = [l for l in log.splitlines() if "retrying in" in l]
        secs = [int(l.rsplit("retrying in ", 1)[1].split()[0]) for l in retries[-4:]]
        self.assertEqual(secs, sorted(secs))
        self.assertLess(secs[0], secs[-1])
        self.assertLessEqual(secs[-1], 300)

    def test_backoff_grows_to_about_five_minutes_and_stays_there(self):
        self.fake.add_fault("GET", "^/v1/access_token$", status=502, count=1000)
        self.advance(42 * 60)
        for _ in range(11):
            self.advance(self.seconds_until(self.status_session()["next_extension"]) + 1)
        waits = [int(l.rsplit("retrying in ", 1)[1].split()[0])
                 for l in self.agent.log().splitlines() if "retrying in" in l]
        self.assertEqual(len(waits), 12)
        self.assertLessEqual(waits[0], 2)         # about 1 s first
        self.assertLessEqual(max(waits), 360)     # capped at 5 min (+20 % jitter)
        self.assertGreaterEqual(min(waits[-3:]), 240)
        # The 18 minutes the session had left are spent by now: a token is
        # refused clearly, with the API's trouble named.
        err = self.token(min_ttl=60)["error"]
        self.assertEqual(err["code"], "insufficient_ttl")
        self.assertIn("502", err["message"])

    def test_429_is_retried_like_5xx(self):
        self.check_backoff(status=429, headers={"Retry-After": "1"})

    def test_dropped_connections_are_retried(self):
        self.check_backoff(drop=True)


class Timeouts(KeeperCase):
    agent_args = ("--test-clock", "--keyring", "memory", "--api-timeout", "1")

    def test_timeouts_are_retried_while_the_token_is_served(self):
        self.fake.add_fault("GET", "^/v1/access_token$", count=1, delay=3)
        self.advance(42 * 60)
        s = [t for t in self.status_tokens() if t["name"] is None][0]
        self.assertEqual(s["failures"], 1)
        self.assertIn("timed out", s["last_error"])
        self.assertIn("result", self.token(min_ttl=60))


class Derived(KeeperCase):
    def test_derived_token_is_created_once_and_reused(self):
        first = self.token(name="ci", max_age_seconds=HOUR)["result"]
        second = self.token(name="ci", max_age_seconds=HOUR)["result"]
        self.assertEqual(first["token"], second["token"])
        row = self.fake.token(first["token"])
        self.assertTrue(row["created_manually"])
        self.assertTrue(row["extend_when_used"])
        self.assertIn("avn-agent ci on ", row["description"])

    def test_absent_options_keep_the_token_and_changed_ones_replace_it(self):
        first = self.token(name="ci", max_age_seconds=2 * HOUR)["result"]["token"]
        self.assertEqual(self.token(name="ci")["result"]["token"], first)
        changed = self.token(name="ci", max_age_seconds=HOUR)["result"]["token"]
        self.assertNotEqual(changed, first)
        live = [t["full_token"] for t in self.fake.user_tokens(EMAIL, include_dead=False)]
        self.assertNotIn(first, live)  # the replaced one was revoked
        self.assertIn(changed, live)

    def test_bad_arguments_are_refused(self):
        self.assertEqual(self.token(min_ttl="60")["error"]["code"], "bad_request")
        self.assertEqual(self.token(name="no spaces")["error"]["code"], "bad_request")
        self.assertEqual(self.token(name="ci", max_age_seconds=10)["error"]["code"], "bad_request")

    def test_unused_derived_token_expires_and_is_recreated_on_the_next_request(self):
        first = self.token(name="ci", max_age_seconds=HOUR)["result"]
        # Asked for at t0: extended once while within its max age...
        self.advance(42 * 60)
        self.assertEqual(self.fake.token(first["token"])["state"], "active")
        # ...then nobody asks: it is let go and expires on the server.
        for _ in range(6):
            self.advance(25 * 60)
        self.assertNotEqual(self.fake.token(first["token"])["state"], "active")
        again = self.token(name="ci", max_age_seconds=HOUR)["result"]
        self.assertNotEqual(again["token"], first["token"])
        self.assertEqual(self.fake.token(again["token"])["state"], "active")

    def test_401_on_a_derived_token_recreates_it(self):
        first = self.token(name="ci", max_age_seconds=HOUR)["result"]
        self.fake.revoke_token(first["token"])
        self.advance(42 * 60)  # the extension meets the 401
        self.assertNotIn("ci", [t["name"] for t in self.status_tokens()])
        again = self.token(name="ci", max_age_seconds=HOUR)["result"]
        self.assertNotEqual(again["token"], first["token"])

    def test_token_check_drops_a_dead_derived_token_but_keeps_the_session(self):
        first = self.token(name="git")["result"]
        self.fake.revoke_token(first["token"])
        r = self.agent.call("token_check", {"token": first["token"]})["result"]
        self.assertEqual(r, {"known": True, "valid": False, "action": "dropped"})
        self.assertTrue(self.agent.call("status")["result"]["session"]["logged_in"])
        unknown = self.agent.call("token_check", {"token": "not-a-token"})["result"]
        self.assertFalse(unknown["known"])

    def test_logout_revokes_every_derived_token(self):
        a = self.token(name="a")["result"]["token"]
        b = self.token(name="b")["result"]["token"]
        self.assertIn("result", self.agent.call("logout"))
        live = [t["full_token"] for t in self.fake.user_tokens(EMAIL, include_dead=False)]
        self.assertNotIn(a, live)
        self.assertNotIn(b, live)
        self.assertEqual(self.status_tokens(), [])


class SkewedLocalClock(TestCase):
    """The agent's own clock runs 25 minutes fast (libfaketime): lifetimes
    are still judged on the server's clock."""

    LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

    def test_expiry_is_judged_on_the_servers_clock(self):
        import os
        from harness import SANITIZED
        if SANITIZED:
            self.skipTest("ASan must be the first preloaded library; libfaketime cannot be")
        self.assertTrue(os.path.exists(self.LIBFAKETIME), "install faketime (.ci/deps does)")
        fake = FakeAiven(session_max_age_seconds=HOUR).start()
        self.addCleanup(fake.stop)
        fake.add_user(EMAIL, PASSWORD)
        agent = self.start_agent("--keyring", "memory", "--test-clock",
                                 env={"AIVEN_WEB_URL": fake.url, "AIVEN_CA_CERT": fake.ca_file,
                                      "LD_PRELOAD": self.LIBFAKETIME, "FAKETIME": "+25m",
                                      "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        self.assertIn("result", agent.call("login", {"email": EMAIL, "password": PASSWORD}))
        t = agent.call("token", {"min_ttl": 3000})["result"]
        # On the local clock the token would have only 35 minutes left.
        self.assertGreater(t["expires_in"], 3500)
        self.assertEqual(agent.call("status")["result"]["tokens"][0]["failures"], 0)
        # The extension is planned on the server's time: after 42 server
        # minutes it happens, not 25 minutes early.
        fake.clear_requests()
        fake.advance(15 * 60)
        agent.call("debug_advance_clock", {"seconds": 15 * 60})
        self.assertEqual(fake.requests(), [])
        fake.advance(27 * 60)
        agent.call("debug_advance_clock", {"seconds": 27 * 60})
        self.assertEqual(len([r for r in fake.requests() if r["path"] == "/v1/access_token"]), 1)
