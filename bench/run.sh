#!/usr/bin/env bash
# Measures avn-agent against anchors measured in the same run and writes
# docs/BENCHMARKS.md. Needs a build in ./build (see README) plus hyperfine
# and openssh-client (.ci/deps installs them).
#
#   bench/run.sh            # measure and rewrite docs/BENCHMARKS.md
#   bench/run.sh --print    # measure and print only
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
out=docs/BENCHMARKS.md
[ "${1:-}" = "--print" ] && out=/dev/stdout

work=$(mktemp -d)
cleanup() {
  [ -n "${AVN_AGENT_PID:-}" ] && kill "$AVN_AGENT_PID" 2>/dev/null || true
  [ -n "${SSH_AGENT_PID:-}" ] && kill "$SSH_AGENT_PID" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 700 "$work/run"
export XDG_RUNTIME_DIR="$work/run" HOME="$work"
unset AVN_AGENT_SOCK SSH_AUTH_SOCK

eval "$($bin/avn-agent -s)" >/dev/null
eval "$(ssh-agent -s -a "$work/ssh.sock")" >/dev/null

# Round trips on an open connection.
avn_rt=$($bin/avn_bench_roundtrip avn "$AVN_AGENT_SOCK" 20000 status)
ssh_rt=$($bin/avn_bench_roundtrip ssh "$SSH_AUTH_SOCK" 20000)

# Whole commands, process start to exit (ssh-add -l exits 1 with no keys).
hyperfine -N --warmup 20 --runs 300 -i --export-json "$work/cmd.json" \
  "$bin/avn-user status" "ssh-add -l" >/dev/null 2>&1

python3 - "$work/cmd.json" "$avn_rt" "$ssh_rt" > "$work/report.md" <<'PY'
import json, sys, platform, os, subprocess
cmds = json.load(open(sys.argv[1]))["results"]
avn_rt, ssh_rt = json.loads(sys.argv[2]), json.loads(sys.argv[3])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
def ms(r, k): return r[k] * 1000
print("# Benchmarks\n")
print("Measured by `bench/run.sh` (which rewrites this file) on a "
      f"{os.cpu_count()}-core {cpu}, Debian 12, build type RelWithDebInfo. "
      "Anchors are measured in the same run, on the same machine.\n")
print("## Request round trip on an open connection\n")
print("`build/bin/avn_bench_roundtrip`: 20000 round trips after a warm-up, one connection; "
      "avn-agent answers `status`, ssh-agent answers `REQUEST_IDENTITIES` (no keys).\n")
print("| agent | p50 µs | p90 µs | p99 µs |\n|---|---|---|---|")
for name, r in (("avn-agent (`status`)", avn_rt), ("ssh-agent (anchor)", ssh_rt)):
    print(f"| {name} | {r['p50_us']:.1f} | {r['p90_us']:.1f} | {r['p99_us']:.1f} |")
ratio = avn_rt["p50_us"] / ssh_rt["p50_us"]
print(f"\nTarget: no slower than ssh-agent. Result: avn-agent's median is {ratio:.2f}x ssh-agent's.\n")
print("## Whole command, start to exit\n")
print("`hyperfine -N --warmup 20 --runs 300 -i 'build/bin/avn-user status' 'ssh-add -l'`\n")
print("| command | mean ms | σ ms | min ms |\n|---|---|---|---|")
for r in cmds:
    print(f"| `{r['command']}` | {ms(r,'mean'):.2f} | {ms(r,'stddev'):.2f} | {ms(r,'min'):.2f} |")
PY
cat "$work/report.md" > "$out"
