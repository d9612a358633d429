#!/usr/bin/env bash
# Measures avn-agent against anchors measured in the same run and writes
# docs/BENCHMARKS.md. Needs a build in ./build (see README) plus hyperfine,
# openssh-client, git, gnome-keyring, dbus-daemon, libsecret-tools and
# Debian's /usr/bin/python3 (for the local fake of the Aiven API).
#
#   bench/run.sh            # measure and rewrite docs/BENCHMARKS.md
#   bench/run.sh --print    # measure and print only
#
# Everything it starts (a private D-Bus and gnome-keyring, the Aiven API fake,
# avn-agent, ssh-agent, git's credential-cache daemon) lives in a temporary
# HOME and is stopped on exit. Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/bin
out=docs/BENCHMARKS.md
[ "${1:-}" = "--print" ] && out=/dev/stdout

. bench/lib.sh
cleanup() {
  set +e
  [ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
  [ -n "${CACHE_SOCK:-}" ] && [ -S "$CACHE_SOCK" ] && git credential-cache --socket "$CACHE_SOCK" exit 2>/dev/null
  [ -n "${AVN_AGENT_PID:-}" ] && kill "$AVN_AGENT_PID" 2>/dev/null
  [ -n "${SSH_AGENT_PID:-}" ] && kill "$SSH_AGENT_PID" 2>/dev/null
  bench_stop_started
  [ -n "${work:-}" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_home
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
ulimit -n 4096 2>/dev/null || true
load_start=$(cut -d' ' -f1 /proc/loadavg)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' build/CMakeCache.txt 2>/dev/null)

bench_keyring
email=bench@example.com
password='bench password 7f3a'
bench_fake "$email" "$password"

# The agents. avn-agent keeps its session in the private keyring; its idle timeout is
# raised so that the 1000 silent connections of the memory test stay open.
eval "$("$bin/avn-agent" -s --idle-timeout 120 --keyring secret-service)" >/dev/null
eval "$(ssh-agent -s -a "$work/ssh.sock")" >/dev/null

# VmRSS, RssAnon, RssFile (status) and Pss (smaps_rollup) in KiB, as one JSON object.
rss_kib() {
  awk '/^(VmRSS|RssAnon|RssFile|Pss):/ {sub(":", "", $1); printf "%s\"%s\":%s", n++ ? "," : "{", $1, $2}
       END {print "}"}' "/proc/$1/status" "/proc/$1/smaps_rollup"
}
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

rss_start=$(rss_kib "$AVN_AGENT_PID")
printf %s "$password" | "$bin/avn-user" login "$email" --password-stdin >"$work/login.log" 2>&1 ||
  { cat "$work/login.log" >&2; exit 1; }
token=$("$bin/avn-user" token)
[ "${#token}" -gt 0 ] || { echo "bench: avn-user token printed nothing" >&2; exit 1; }
# Anchor secret: the same size as the token, in the same private keyring.
printf %s "$token" | secret-tool store --label=bench bench avn
[ "$(secret-tool lookup bench avn)" = "$token" ] || { echo "bench: secret-tool lookup failed" >&2; exit 1; }
sleep 1
rss_idle=$(rss_kib "$AVN_AGENT_PID")
ssh_rss=$(rss_kib "$SSH_AGENT_PID")

# 1. Round trips on an open connection. First with the client and both agents on CPU 0:
# each round trip is then two context switches on one CPU, which gives stable numbers. Then
# free to run anywhere, where on this VM waking a halted vCPU often dominates.
roundtrips() {
  local pin=("$@")
  printf '{"status":%s,"token":%s,"ssh":%s}' \
    "$("${pin[@]}" "$bin/avn_bench_roundtrip" avn "$AVN_AGENT_SOCK" 20000 status)" \
    "$("${pin[@]}" "$bin/avn_bench_roundtrip" avn "$AVN_AGENT_SOCK" 20000 token)" \
    "$("${pin[@]}" "$bin/avn_bench_roundtrip" ssh "$SSH_AUTH_SOCK" 20000)"
}
all_cpus="0-$(($(nproc) - 1))"
taskset -a -pc 0 "$AVN_AGENT_PID" >/dev/null
taskset -a -pc 0 "$SSH_AGENT_PID" >/dev/null
rt_pinned=$(roundtrips taskset -c 0)
taskset -a -pc "$all_cpus" "$AVN_AGENT_PID" >/dev/null
taskset -a -pc "$all_cpus" "$SSH_AGENT_PID" >/dev/null
rt_free=$(roundtrips)

# 2. Whole commands, process start to exit (ssh-add -l exits 1 with no keys).
hyperfine -N --warmup 20 --runs 300 -i --export-json "$work/cmd.json" \
  "$bin/avn-user status" "$bin/avn-user token" "ssh-add -l" "secret-tool lookup bench avn" \
  >/dev/null 2>&1

# 3. git credential fill: our helper against git's credential-cache (primed first).
printf 'protocol=https\nhost=git.example.com\n\n' > "$work/fill.in"
CACHE_SOCK="$work/cache.sock"
cache_helper="cache --timeout 600 --socket $CACHE_SOCK"
printf 'protocol=https\nhost=git.example.com\nusername=%s\npassword=%s\n\n' "$email" "$token" |
  git -c credential.helper="$cache_helper" credential approve
git_ok=0
if [ -x "$bin/git-credential-avn" ]; then
  ours=$(PATH="$bin:$PATH" git -c credential.helper=avn credential fill <"$work/fill.in" 2>&1) || true
  if grep -qx "password=$token" <<<"$ours" && grep -qx "username=$email" <<<"$ours"; then
    git_ok=1
  else
    echo "bench: git credential fill with git-credential-avn did not answer the token:" >&2
    sed 's/^password=.*/password=<hidden>/' <<<"$ours" >&2
  fi
fi
theirs=$(git -c credential.helper="$cache_helper" credential fill <"$work/fill.in")
grep -qx "password=$token" <<<"$theirs" || { echo "bench: credential-cache did not answer" >&2; exit 1; }
# With `!git-credential-avn` git starts the helper through sh alone, without first starting
# `git credential-avn` to look it up. `floor` is the least any external helper can do (read
# the request, answer fixed values): what `credential.helper=NAME` costs git itself. Last,
# each helper alone.
mkdir "$work/floor"
ln -s "$bin/avn_bench_git_helper_floor" "$work/floor/git-credential-floor"
git_cmds=("git -c 'credential.helper=$cache_helper' credential fill < $work/fill.in"
  "git credential-cache --socket $CACHE_SOCK get < $work/fill.in")
[ "$git_ok" = 1 ] && git_cmds=(
  "PATH=$bin:\$PATH git -c credential.helper=avn credential fill < $work/fill.in"
  "${git_cmds[0]}"
  "PATH=$bin:\$PATH git -c 'credential.helper=!git-credential-avn' credential fill < $work/fill.in"
  "PATH=$work/floor:\$PATH git -c credential.helper=floor credential fill < $work/fill.in"
  "$bin/git-credential-avn get < $work/fill.in"
  "${git_cmds[1]}")
# hyperfine 1.15 cannot feed stdin to a command without a shell: these run under
# sh -c, and hyperfine subtracts the shell's own start-up time it measured first.
hyperfine --warmup 20 --runs 300 --export-json "$work/git.json" "${git_cmds[@]}" >/dev/null 2>&1

# 4. Throughput: token requests per second over 1, 8 and 64 connections.
tp=()
for c in 1 8 64; do
  tp+=("$("$bin/avn_bench_throughput" load "$AVN_AGENT_SOCK" "$c" 3 0.5)")
done
rss_after_load=$(rss_kib "$AVN_AGENT_PID")

# 5. Memory with 1000 idle connections (the idle timeout is 120 s, see above).
coproc HOLD { "$bin/avn_bench_throughput" hold "$AVN_AGENT_SOCK" 1000; }
HOLD_PID_SAVED=$HOLD_PID
read -r held <&"${HOLD[0]}"
sleep 0.5
rss_1000=$(rss_kib "$AVN_AGENT_PID")
conns_active=$(python3 - "$AVN_AGENT_SOCK" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"v":1,"id":1,"op":"status"}\n')
print(json.loads(s.makefile().readline())["result"]["agent"]["connections_active"])
PY
)
exec {HOLD[1]}>&-
wait "$HOLD_PID_SAVED" || true
HOLD_PID=
hwm=$(hwm_kib "$AVN_AGENT_PID")

api_calls=$(/usr/bin/python3 - "$AIVEN_WEB_URL" "$AIVEN_CA_CERT" <<'PY'
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen(sys.argv[1] + "/_fake/requests", context=ctx) as r:
    print(len(json.load(r)["requests"]))
PY
)

python3 - "$work/cmd.json" "$work/git.json" "$git_ok" "$rt_pinned" "$rt_free" \
  "$rss_start" "$rss_idle" "$ssh_rss" "$rss_after_load" "$rss_1000" "$hwm" "$held" \
  "$api_calls" "$load_start" "$conns_active" "$build_type" "${tp[@]}" > "$work/report.md" <<'PY'
import json, sys, os
a = sys.argv[1:]
cmds = {r["command"]: r for r in json.load(open(a[0]))["results"]}
gits = json.load(open(a[1]))["results"]
git_ok = a[2] == "1"
rt_pinned, rt_free = json.loads(a[3]), json.loads(a[4])
m_start, m_idle, m_ssh, m_load, m_1000 = (json.loads(x) for x in a[5:10])
hwm = int(a[10])
rss_idle, rss_load, rss_1000 = m_idle["VmRSS"], m_load["VmRSS"], m_1000["VmRSS"]
held = json.loads(a[11])["held"]
api_calls = int(a[12])
load1 = float(a[13])
conns_active = int(a[14])
build_type = a[15] or "unknown"
tp = [json.loads(x) for x in a[16:]]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ncpu = os.cpu_count()
osname = next((l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release")
               if l.startswith("PRETTY_NAME=")), "Linux")

def cmd(suffix):
    return next(r for c, r in cmds.items() if c.endswith(suffix))
def ms(r, k): return r[k] * 1000
def met(ok): return "**met**" if ok else "**not met**"
def mib(kib): return kib / 1024

print("# Benchmarks\n")
print("Command: `bench/run.sh` (after `cmake --build build`); it measures everything below in "
      "one run and rewrites this file (`bench/run.sh --print` only prints).\n")
print(f"Machine: {ncpu} cores, {cpu}, {osname}; build type {build_type}. "
      "Anchors are measured in the same run, on the same machine. "
      "The script starts everything in a throwaway HOME: a private D-Bus with gnome-keyring, "
      "the local HTTPS fake of the Aiven API (`tests/fake_aiven`), avn-agent "
      "(`--idle-timeout 120 --keyring secret-service`, logged in to the fake), ssh-agent with no "
      "keys and git's credential-cache daemon; it stops them all at the end.\n")
if load1 > 1.0:
    print(f"Other work was running on the machine: the 1-minute load average was {load1:.2f} "
          "when the run started, so absolute times may be a little high.\n")

print("## Targets\n")
print("Command times are hyperfine means (the tables below also give medians).\n")
tok, ssh_add, st = cmd("avn-user token"), cmd("ssh-add -l"), cmd("secret-tool lookup bench avn")
rows = [
    ("`avn-user token` faster than `ssh-add -l`",
     f"{ms(tok,'mean'):.2f} ms vs {ms(ssh_add,'mean'):.2f} ms", tok["mean"] < ssh_add["mean"]),
    ("`avn-user token` at least 5x faster than `secret-tool lookup`",
     f"{st['mean']/tok['mean']:.1f}x", st["mean"] >= 5 * tok["mean"]),
]
if git_ok:
    g_avn, g_cache, g_bang, g_floor = gits[0], gits[1], gits[2], gits[3]
    rows.append(("`git credential fill` with `git-credential-avn` no slower than with "
                 "credential-cache: `credential.helper='!git-credential-avn'`",
                 f"{ms(g_bang,'mean'):.2f} ms vs {ms(g_cache,'mean'):.2f} ms",
                 g_bang["mean"] <= g_cache["mean"]))
    rows.append(("the same with `credential.helper=avn`",
                 f"{ms(g_avn,'mean'):.2f} ms vs {ms(g_cache,'mean'):.2f} ms; a helper that does "
                 f"nothing, `credential.helper=floor`: {ms(g_floor,'mean'):.2f} ms",
                 g_avn["mean"] <= g_cache["mean"]))
else:
    rows.append(("`git credential fill` with `git-credential-avn` no slower than with credential-cache",
                 "not measured: `build/bin/git-credential-avn` missing or not answering", None))
t64 = next(t for t in tp if t["conns"] == 64)
rows.append(("at least 50,000 `token` requests/s over 64 connections",
             f"{t64['rps']:,.0f}/s", t64["rps"] >= 50000))
rows.append(("idle RSS after login under 8 MiB", f"{mib(rss_idle):.1f} MiB", rss_idle < 8 * 1024))
rows.append(("request round trip no slower than ssh-agent (`token`, median, one CPU)",
             f"{rt_pinned['token']['p50_us']:.1f} µs vs {rt_pinned['ssh']['p50_us']:.1f} µs",
             rt_pinned["token"]["p50_us"] <= rt_pinned["ssh"]["p50_us"]))
print("| target | measured | result |\n|---|---|---|")
for name, val, ok in rows:
    print(f"| {name} | {val} | {'skipped' if ok is None else met(ok)} |")
print()

print("## Request round trip on an open connection\n")
print("`build/bin/avn_bench_roundtrip`: 20000 round trips after a warm-up, one connection; "
      "avn-agent answers `status` and `token` (the session's token), ssh-agent answers "
      "`REQUEST_IDENTITIES` (no keys). \"One CPU\": the client and both agents pinned to CPU 0 "
      "(`taskset`), so a round trip is the work plus two context switches on one CPU. "
      "\"Any CPU\": no pinning; the client and the agent then usually sit on different vCPUs, "
      "and on this VM waking an idle vCPU costs tens of µs, so those numbers swing with what "
      "else the machine is doing.\n")
print("| agent | one CPU p50 µs | p90 µs | p99 µs | any CPU p50 µs | p90 µs | p99 µs |\n"
      "|---|---|---|---|---|---|---|")
for name, k in (("avn-agent (`status`)", "status"), ("avn-agent (`token`)", "token"),
                ("ssh-agent (anchor)", "ssh")):
    p, f = rt_pinned[k], rt_free[k]
    print(f"| {name} | {p['p50_us']:.1f} | {p['p90_us']:.1f} | {p['p99_us']:.1f} "
          f"| {f['p50_us']:.1f} | {f['p90_us']:.1f} | {f['p99_us']:.1f} |")
ratio = rt_pinned["status"]["p50_us"] / rt_pinned["ssh"]["p50_us"]
ratio_t = rt_pinned["token"]["p50_us"] / rt_pinned["ssh"]["p50_us"]
print(f"\nTarget: no slower than ssh-agent, for the request tools make: `token` against "
      f"ssh-agent's identities request. Result on one CPU: avn-agent's median is {ratio_t:.2f}x "
      f"ssh-agent's ({met(ratio_t <= 1)}). `status`, a diagnostic dump of about 1 KiB built "
      f"fresh each time, is {ratio:.2f}x.\n")

print("## Whole command, start to exit\n")
print("`hyperfine -N --warmup 20 --runs 300 -i 'build/bin/avn-user status' "
      "'build/bin/avn-user token' 'ssh-add -l' 'secret-tool lookup bench avn'`. "
      "`secret-tool` looks up, in the private gnome-keyring, a secret stored with "
      "`printf %s \"$TOKEN\" | secret-tool store --label=bench bench avn`: the token itself, "
      "so the same size.\n")
print("| command | mean ms | median ms | σ ms | min ms | role |\n|---|---|---|---|---|---|")
for suffix, role in (("avn-user status", "ours"), ("avn-user token", "ours"),
                     ("ssh-add -l", "anchor"), ("secret-tool lookup bench avn", "anchor")):
    r = cmd(suffix)
    shown = r["command"].replace(os.getcwd() + "/", "")
    print(f"| `{shown}` | {ms(r,'mean'):.2f} | {ms(r,'median'):.2f} | {ms(r,'stddev'):.2f} | {ms(r,'min'):.2f} | {role} |")
print(f"\nTargets: `avn-user token` faster than `ssh-add -l` ({ms(tok,'mean'):.2f} vs "
      f"{ms(ssh_add,'mean'):.2f} ms: {met(tok['mean'] < ssh_add['mean'])}) and at least 5x "
      f"faster than `secret-tool lookup` ({st['mean']/tok['mean']:.1f}x: "
      f"{met(st['mean'] >= 5 * tok['mean'])}).\n")

print("## `git credential fill`\n")
print("Input `protocol=https`, `host=git.example.com`; `HOME` a temporary folder, "
      "`GIT_CONFIG_NOSYSTEM=1`. Ours: `git -c credential.helper=avn credential fill` with "
      "`build/bin` first on `PATH`. Anchor: `git -c credential.helper='cache --socket ...' "
      "credential fill`, primed with `git credential approve`. hyperfine 1.15 has no "
      "`--input`, so all run under `sh -c` with stdin from a file (`--warmup 20 --runs 300`); "
      "hyperfine subtracts the shell's start-up time.\n")
print("| command | mean ms | median ms | σ ms | min ms | role |\n|---|---|---|---|---|---|")
if git_ok:
    named = (("`git credential fill`, `credential.helper=avn`", gits[0], "ours"),
             ("`git credential fill`, `credential.helper='cache --socket ...'`", gits[1], "anchor"),
             ("`git credential fill`, `credential.helper='!git-credential-avn'`", gits[2], "ours"),
             ("`git credential fill`, `credential.helper=floor` (does nothing)", gits[3],
              "git's floor"),
             ("`git-credential-avn get` alone", gits[4], "for information"),
             ("`git credential-cache --socket ... get` alone", gits[5], "for information"))
else:
    named = (("`git credential fill`, `credential.helper='cache --socket ...'`", gits[0], "anchor"),
             ("`git credential-cache --socket ... get` alone", gits[1], "for information"))
for name, r, role in named:
    print(f"| {name} | {ms(r,'mean'):.2f} | {ms(r,'median'):.2f} | {ms(r,'stddev'):.2f} | {ms(r,'min'):.2f} | {role} |")
if git_ok:
    print(f"\nTarget: our helper no slower than credential-cache. With "
          f"`credential.helper='!git-credential-avn'`: {ms(gits[2],'mean'):.2f} vs "
          f"{ms(gits[1],'mean'):.2f} ms, {met(gits[2]['mean'] <= gits[1]['mean'])}. With "
          f"`credential.helper=avn`: {ms(gits[0],'mean'):.2f} ms, "
          f"{met(gits[0]['mean'] <= gits[1]['mean'])}.\n")
    print("With `credential.helper=NAME` git runs `sh -c 'git credential-NAME get'`, and that "
          "second git finds and starts `git-credential-NAME`: one process start more than for "
          "`cache`, which is built into git. The `floor` row is a helper that only reads the "
          f"request and prints fixed values: {ms(gits[3],'mean'):.2f} ms, so any external "
          "helper named this way costs at least that, whatever it does. "
          "`credential.helper='!git-credential-avn'` starts the helper from sh directly. The "
          "last two rows are the helpers alone, without the `git credential fill` around "
          "them.\n")
else:
    print("\nOurs was skipped: `build/bin/git-credential-avn` was missing, or did not answer "
          "the session's token, when the script ran.\n")

print("## Throughput\n")
print("`build/bin/avn_bench_throughput load SOCKET CONNS 3 0.5`: CONNS connections, each "
      "sending `{\"v\":1,\"id\":N,\"op\":\"token\",\"args\":{\"min_ttl\":60}}` and the next one as "
      "soon as the reply is in (one request in flight per connection), all from one epoll "
      "thread; replies counted for 3 s after a 0.5 s warm-up. Latency is request written "
      f"to reply read. The client and the agent share the machine's {ncpu} cores, and the "
      "agent serves all connections from one thread. With one connection each request waits "
      "for the previous reply, so the rate is bound by the wake-up of the other side "
      "(see \"any CPU\" round trips above), not by the agent's work.\n")
print("| connections | requests/s | p50 µs | p99 µs | errors |\n|---|---|---|---|---|")
for t in tp:
    print(f"| {t['conns']} | {t['rps']:,.0f} | {t['p50_us']:.1f} | {t['p99_us']:.1f} | {t['errors']} |")
served = sum(t["replies"] for t in tp)
print(f"\nTarget: at least 50,000 requests/s over 64 connections: {met(t64['rps'] >= 50000)}. "
      f"The Aiven API fake received {api_calls} requests in the whole run, against {served:,} "
      "`token` replies counted here: the agent answers `token` from memory.\n")

print("## Memory\n")
print("From `/proc/PID/status` of each agent. The 1000 connections are opened "
      "by `build/bin/avn_bench_throughput hold SOCKET 1000`, which makes one `hello` round "
      "trip on each and then keeps them open and silent.\n")
print("| state | VmRSS MiB | RssAnon MiB | RssFile MiB | Pss MiB |\n|---|---|---|---|---|")
def mrow(name, m):
    print(f"| {name} | {mib(m['VmRSS']):.1f} | {mib(m['RssAnon']):.1f} | {mib(m['RssFile']):.1f} "
          f"| {mib(m['Pss']):.1f} |")
mrow("avn-agent, started, logged out", m_start)
mrow("avn-agent, idle after login", m_idle)
mrow("avn-agent, after the throughput runs", m_load)
mrow(f"avn-agent, with {held} idle connections ({conns_active} open in `status`, counting the one asking)", m_1000)
print(f"| avn-agent, peak (VmHWM) over the run | {mib(hwm):.1f} | | | |")
mrow("ssh-agent, no keys (anchor)", m_ssh)
print("\nRssFile is pages of the program and its shared libraries (OpenSSL, GLib, libsecret, "
      "libc, ...) mapped from files; RssAnon is the agent's own heap and stacks; Pss "
      "charges each shared page to the process by its share (`/proc/PID/smaps_rollup`).")
per_conn = (rss_1000 - rss_load) / held
print(f"\nTarget: idle RSS under 8 MiB: {mib(rss_idle):.1f} MiB, {met(rss_idle < 8 * 1024)}. "
      f"Each idle connection adds about {per_conn:.1f} KiB.")
PY
cat "$work/report.md" > "$out"
