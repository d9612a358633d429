"""The socket protocol against the real agent: documented outcomes for bad
input, concurrency, deadlines and caps."""

import json
import select
import socket
import threading
import time

from harness import Client, TestCase, wait_for


class Outcomes(TestCase):
    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()

    def test_hello_lists_ops_versions_and_limits(self):
        r = self.agent.call("hello")["result"]
        self.assertEqual(r["agent"], "avn-agent")
        self.assertEqual(r["protocol"], {"min": 1, "max": 1})
        self.assertTrue({"hello", "status", "shutdown"} <= set(r["ops"]))
        self.assertEqual(r["limits"]["max_line_bytes"], 65536)

    def test_status_counts_connections(self):
        first = self.agent.call("status")["result"]["agent"]
        second = self.agent.call("status")["result"]["agent"]
        self.assertEqual(first["pid"], self.agent.pid)
        self.assertEqual(first["socket"], self.agent.sock)
        self.assertEqual(second["connections_served"], first["connections_served"] + 1)
        self.assertGreaterEqual(second["uptime_seconds"], 0)

    def test_unknown_op_and_newer_version_keep_the_connection(self):
        c = self.agent.client()
        bad = c.call("frobnicate")
        self.assertEqual(bad["error"]["code"], "unknown_op")
        self.assertIn("frobnicate", bad["error"]["message"])
        newer = c.call("status", v=2)
        self.assertEqual(newer["error"]["code"], "unsupported_version")
        self.assertIn("result", c.call("status"))

    def test_bad_request_shape_keeps_the_connection(self):
        c = self.agent.client()
        c.send_raw(b'{"v":1,"id":5}\n')
        r = c.read_line()
        self.assertEqual((r["id"], r["error"]["code"]), (5, "bad_request"))
        self.assertIn("result", c.call("hello"))

    def assert_fatal(self, payload, code, shutdown_write=False):
        c = self.agent.client()
        c.send_raw(payload)
        if shutdown_write:
            c.sock.shutdown(socket.SHUT_WR)
        r = c.read_line()
        self.assertIsNotNone(r, "no error reply before the close")
        self.assertEqual(r["error"]["code"], code, r)
        self.assertIsNone(r["id"])
        self.assertTrue(c.at_eof(), "the connection stayed open after a fatal error")
        # The agent itself is unharmed.
        self.assertIn("result", self.agent.call("hello"))
        return r

    def test_not_json_closes_with_bad_json(self):
        self.assert_fatal(b"hello agent\n", "bad_json")

    def test_line_over_64k_closes_with_line_too_long(self):
        r = self.assert_fatal(b"{" + b" " * 70000, "line_too_long")
        self.assertIn("65536", r["error"]["message"])

    def test_deep_nesting_closes_with_too_deep(self):
        self.assert_fatal(b'{"v":1,"id":1,"op":"x","args":{"a":' + b"[" * 50 + b"]" * 50 + b"}}\n",
                          "too_deep")

    def test_truncated_request_is_reported_then_closed(self):
        r = self.assert_fatal(b'{"v":1,"id":1,"op":"sta', "bad_json", shutdown_write=True)
        self.assertIn("truncated", r["error"]["message"])

    def test_pipelined_requests_are_all_answered(self):
        c = self.agent.client()
        c.send_raw(b"".join(json.dumps({"v": 1, "id": i, "op": "hello"}).encode() + b"\n"
                            for i in range(100)))
        ids = sorted(c.read_line()["id"] for _ in range(100))
        self.assertEqual(ids, list(range(100)))

    def test_many_requests_then_half_close_are_all_answered(self):
        # More replies than the agent keeps unread (1 MiB): it must wait for
        # the client to read, not take the rest for a truncated line.
        c = self.agent.client(timeout=30)
        c.send_raw(b"".join(json.dumps({"v": 1, "id": i, "op": "hello"}).encode() + b"\n"
                            for i in range(4000)))
        c.sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := c.sock.recv(1 << 20):
            data += chunk
        replies = [json.loads(line) for line in data.splitlines()]
        self.assertEqual([r.get("id") for r in replies], list(range(4000)))
        self.assertTrue(all("result" in r for r in replies))

    def test_client_that_sends_a_request_and_half_closes_gets_its_reply(self):
        c = self.agent.client()
        c.send_raw(b'{"v":1,"id":"x","op":"hello"}\n')
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.read_line()["id"], "x")
        self.assertTrue(c.at_eof())


class Concurrency(TestCase):
    def test_200_concurrent_clients_do_not_disturb_each_other(self):
        agent = self.start_agent()
        errors = []
        barrier = threading.Barrier(200)

        def worker(n):
            try:
                c = agent.client(timeout=30)
                barrier.wait(30)
                for i in range(20):
                    rid = f"{n}-{i}"
                    c.send_raw(json.dumps({"v": 1, "id": rid, "op": "status"}).encode() + b"\n")
                    r = c.read_line()
                    if r is None or r.get("id") != rid or "result" not in r:
                        errors.append((rid, r))
                c.close()
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append((n, repr(e)))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        st = agent.call("status")["result"]["agent"]
        self.assertGreaterEqual(st["connections_served"], 200)
        self.assertGreaterEqual(st["requests"], 4000)

    def test_silent_and_half_line_clients_time_out_without_blocking_others(self):
        agent = self.start_agent("--idle-timeout", "0.5")
        silent = [agent.client() for _ in range(20)]
        halves = [agent.client() for _ in range(20)]
        for c in halves:
            c.send_raw(b'{"v":1,"id":1,"op":"st')
        # While they hang, others are served.
        for _ in range(10):
            self.assertIn("result", agent.call("hello"))
        for c in silent + halves:
            self.assertTrue(c.at_eof(timeout=10), "an idle client was never timed out")
        self.assertIn("deadline passed (idle)", agent.log())

    def test_a_busy_client_is_not_timed_out_between_requests_it_keeps_sending(self):
        # Gaps well under the idle deadline, adding up to more than it.
        agent = self.start_agent("--idle-timeout", "1.5")
        c = agent.client()
        for _ in range(8):
            self.assertIn("result", c.call("hello"))
            time.sleep(0.25)

    def test_a_client_that_never_reads_its_replies_stops_being_read(self):
        # Each `hello` reply is ~15 times its request: without a cap on unread
        # replies the agent would go on reading, and its memory would grow
        # until the write deadline (long here) closed the connection.
        agent = self.start_agent("--write-timeout", "120")
        c = agent.client()
        c.sock.setblocking(False)
        chunk = (json.dumps({"v": 1, "id": 1, "op": "hello"}).encode() + b"\n") * 2000
        sent = 0
        while sent < 8 << 20:
            try:
                sent += c.sock.send(chunk)
            except BlockingIOError:
                if not select.select([], [c.sock], [], 1.0)[1]:
                    break  # the agent stopped reading
        self.assertLess(sent, 8 << 20, "the agent kept reading a client that reads nothing")
        self.assertIn("result", agent.call("hello"))  # others are served meanwhile
        # Once the client reads, the agent reads again: every whole request
        # sent is answered.
        line_len = len(chunk) // 2000
        c.sock.setblocking(True)
        c.sock.settimeout(20)
        replies = 0
        while replies < sent // line_len:
            data = c.sock.recv(1 << 20)
            self.assertTrue(data, "the agent closed the connection")
            replies += data.count(b"\n")
        self.assertEqual(replies, sent // line_len)

    def test_a_reply_not_read_within_the_write_deadline_closes_the_connection(self):
        agent = self.start_agent("--write-timeout", "0.5")
        c = agent.client()
        # More replies than the socket buffers hold, and never read.
        c.send_raw((json.dumps({"v": 1, "id": 1, "op": "status"}).encode() + b"\n") * 2000)
        wait_for(lambda: "deadline passed (reply not read)" in agent.log(),
                 what="the write deadline to close the stuck connection")
        self.assertEqual(agent.call("status")["result"]["agent"]["connections_active"], 1)

    def test_connections_over_the_cap_are_refused_with_an_error(self):
        agent = self.start_agent("--max-connections", "3")
        held = [agent.client() for _ in range(3)]
        for c in held:
            self.assertIn("result", c.call("hello"))
        extra = Client(agent.sock)
        r = extra.read_line()
        self.assertEqual(r["error"]["code"], "too_many_connections")
        self.assertTrue(extra.at_eof())
        held[0].close()

        def served():
            c = Client(agent.sock)
            try:
                c.send_raw(b'{"v":1,"id":1,"op":"hello"}\n')
                r = c.read_line()
            except OSError:  # refused and closed before the request went out
                return False
            finally:
                c.close()
            return r is not None and "result" in r  # until then: too_many_connections

        wait_for(served, what="the freed slot to be used")
