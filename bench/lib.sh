# Shared by bench/run.sh and bench/rss.sh (sourced, from the repository root):
# a private, throwaway environment in which nothing of the caller's session is
# used, with a private D-Bus and gnome-keyring and the local Aiven API fake.
#
#   bench_home                  # $work, a temporary HOME and XDG folders
#   bench_keyring               # private bus + unlocked gnome-keyring
#   bench_fake EMAIL PASSWORD   # the fake API; exports AIVEN_WEB_URL, AIVEN_CA_CERT
#   bench_stop_started          # stops them, in the reverse order of their start
#
# Processes started here are in the array `pids`.

pids=()

bench_home() {
  work=$(mktemp -d)
  mkdir -m 700 "$work/run" "$work/data" "$work/config" "$work/cache"
  export HOME="$work" XDG_RUNTIME_DIR="$work/run" XDG_DATA_HOME="$work/data" \
    XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
  unset AVN_AGENT_SOCK AVN_AGENT_PID SSH_AUTH_SOCK SSH_AGENT_PID DISPLAY WAYLAND_DISPLAY \
    DBUS_SESSION_BUS_ADDRESS AIVEN_AUTH_TOKEN AIVEN_WEB_URL AIVEN_CA_CERT AVN_AGENT_KEYRING \
    GIT_ASKPASS SSH_ASKPASS SSL_CERT_FILE SSL_CERT_DIR
}

wait_for_line() {  # FILE PID: waits (at most 20 s) for a first line in FILE written by PID
  local i
  for ((i = 0; i < 400; i++)); do
    [ -s "$1" ] && grep -q . "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "bench: process $2 exited early" >&2; return 1; }
    sleep 0.05
  done
  echo "bench: timed out waiting for $1" >&2
  return 1
}

# A private session bus on which nothing is auto-started, and a gnome-keyring on it
# with an unlocked `login` collection (the recipe of tests/integration/keyring_session.py).
bench_keyring() {
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
}

# The local HTTPS fake of the Aiven API, with one password user.
bench_fake() {  # EMAIL PASSWORD
  /usr/bin/python3 tests/fake_aiven/fake_aiven.py --user "$1:$2" \
    </dev/null >"$work/fake.json" 2>"$work/fake.log" &
  pids+=($!)
  wait_for_line "$work/fake.json" "${pids[-1]}"
  AIVEN_WEB_URL=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/fake.json")
  AIVEN_CA_CERT=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_file"])' "$work/fake.json")
  export AIVEN_WEB_URL AIVEN_CA_CERT
}

bench_stop_started() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null
  done
}
