#!/usr/bin/env bash
# Measures avn-agent's resident memory the way bench/run.sh does, quickly, and
# shows where it goes: VmRSS, RssAnon, RssFile (/proc/PID/status) and Pss
# (smaps_rollup) in KiB, then the largest mappings (Rss per file, summed over
# its mappings, from /proc/PID/smaps), for two states:
#   start: the agent started, logged out;
#   idle:  after `avn-user login` to the local Aiven fake, `avn-user token`, 1 s.
#
#   bench/rss.sh                     # --keyring secret-service, top 20 mappings
#   bench/rss.sh --keyring memory    # any backend the agent accepts
#   bench/rss.sh --top 40
#   AVN_BIN=/path/to/bin bench/rss.sh
#
# Needs what bench/run.sh needs for its environment: dbus-daemon,
# gnome-keyring, gdbus and Debian's /usr/bin/python3. Everything runs in a
# throwaway HOME and is stopped on exit. Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${AVN_BIN:-$PWD/build/bin}
keyring=secret-service
top=20
while [ $# -gt 0 ]; do
  case $1 in
    --keyring) keyring=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    *) echo "usage: $0 [--keyring BACKEND] [--top N]" >&2; exit 2 ;;
  esac
done

. bench/lib.sh
cleanup() {
  set +e
  [ -n "${AVN_AGENT_PID:-}" ] && kill "$AVN_AGENT_PID" 2>/dev/null
  bench_stop_started
  [ -n "${work:-}" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_home
bench_keyring
email=bench@example.com
password='bench password 7f3a'
bench_fake "$email" "$password"

eval "$("$bin/avn-agent" -s --keyring "$keyring")" >/dev/null

report() {  # STATE
  local pid=$AVN_AGENT_PID
  awk -v state="$1" '/^(VmRSS|RssAnon|RssFile|Pss):/ {v[$1] = $2}
    END {printf "%-6s VmRSS %6d  RssAnon %6d  RssFile %6d  Pss %6d  (KiB)\n", state,
         v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["Pss:"]}' \
    "/proc/$pid/status" "/proc/$pid/smaps_rollup"
  awk '/^[0-9a-f]+-[0-9a-f]+ / {name = NF >= 6 ? $6 : "[anon]"; next}
       /^Rss:/ {rss[name] += $2}
       END {for (n in rss) if (rss[n] > 0) printf "%8d  %s\n", rss[n], n}' "/proc/$pid/smaps" |
    sort -rn | awk -v n="$top" 'NR <= n'
  printf '         threads %s, mappings of shared libraries %s\n\n' \
    "$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")" \
    "$(awk '$6 ~ /\.so/ {print $6}' "/proc/$pid/maps" | sort -u | wc -l)"
}

sleep 0.2
report start
printf %s "$password" | "$bin/avn-user" login "$email" --password-stdin >"$work/login.log" 2>&1 ||
  { cat "$work/login.log" >&2; exit 1; }
token=$("$bin/avn-user" token)
[ "${#token}" -gt 0 ] || { echo "rss: avn-user token printed nothing" >&2; exit 1; }
sleep 1
report idle
