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

work=$(mktemp -d)
pids=()
cleanup() {
  set +e
  [ -n "${AVN_AGENT_PID:-}" ] && kill "$AVN_AGENT_PID" 2>/dev/null
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -m 700 "$work/run" "$work/data" "$work/config" "$work/cache"
export HOME="$work" XDG_RUNTIME_DIR="$work/run" XDG_DATA_HOME="$work/data" \
  XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
unset AVN_AGENT_SOCK AVN_AGENT_PID SSH_AUTH_SOCK SSH_AGENT_PID DISPLAY WAYLAND_DISPLAY \
  DBUS_SESSION_BUS_ADDRESS AIVEN_AUTH_TOKEN AIVEN_WEB_URL AIVEN_CA_CERT AVN_AGENT_KEYRING \
  SSL_CERT_FILE SSL_CERT_DIR

wait_for_line() {  # FILE PID
  local i
  for ((i = 0; i < 400; i++)); do
    [ -s "$1" ] && grep -q . "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "rss: process $2 exited early" >&2; return 1; }
    sleep 0.05
  done
  echo "rss: timed out waiting for $1" >&2
  return 1
}

# The private bus and keyring of bench/run.sh.
cat > "$work/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir=$work</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile --print-address \
  </dev/null >"$work/bus.addr" 2>"$work/bus.log" &
pids+=($!)
wait_for_line "$work/bus.addr" "${pids[-1]}"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$work/bus.addr")
export DBUS_SESSION_BUS_ADDRESS
printf %s "bench keyring password" > "$work/keyring.pw"
gnome-keyring-daemon --foreground --unlock --components=secrets \
  <"$work/keyring.pw" >"$work/keyring.log" 2>&1 &
pids+=($!)
gdbus wait --session --timeout 10 org.freedesktop.secrets

email=bench@example.com
password='bench password 7f3a'
/usr/bin/python3 tests/fake_aiven/fake_aiven.py --user "$email:$password" \
  </dev/null >"$work/fake.json" 2>"$work/fake.log" &
pids+=($!)
wait_for_line "$work/fake.json" "${pids[-1]}"
AIVEN_WEB_URL=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/fake.json")
AIVEN_CA_CERT=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_file"])' "$work/fake.json")
export AIVEN_WEB_URL AIVEN_CA_CERT

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
