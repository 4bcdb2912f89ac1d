#!/usr/bin/env bash
# haproxy_tools.sh: HAProxy's own tools against l4lb's stats socket. Installs hatop,
# prometheus-haproxy-exporter and tmux (Debian packages), builds l4lb, puts it in front of two
# tiny HTTP servers, scrapes it with the exporter and drives hatop in a detached tmux session:
# its screen (tmux capture-pane), its admin keys (F10/F9 disable/enable a server, F8/F6/F4
# weight +10/-1/reset) and the change each makes, read back with `show stat`.
# Usage: scripts/haproxy_tools.sh   (root for apt-get; loopback ports from 127.0.0.1:18400 up)
# Exit 0 only if every step saw what it expected. Everything it starts it stops (trap).
set -euo pipefail
# shellcheck disable=SC2016 # wait_for eval's its single-quoted condition on purpose
cd "$(dirname "$0")/.."

BIN=${CARGO_TARGET_DIR:-target}/release/l4lb
W=$(mktemp -d)
SOCK=$W/l4lb.sock
FRONT=18400 S1=18401 S2=18402 EXPORTER=18409
TMUX_SOCK=l4lb-tools-$$ # a tmux server of our own: nothing else's sessions are touched
PIDS=()

say() { printf '\n== %s\n' "$*"; }
die() { printf 'haproxy_tools: FAILED: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

cleanup() {
  tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
  stop_pids
  rm -rf "$W"
}
trap cleanup EXIT

# Waits up to 10 s for COMMAND (a string, eval'd) to succeed.
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do
    eval "$1" && return 0
    sleep 0.1
  done
  return 1
}
ctl() { "$BIN" ctl -s "$SOCK" "$@"; }
# The show stat field COLUMN of row PX/SV, read from the CSV (no socat needed).
stat_of() {
  python3 - "$SOCK" "$@" <<'PY'
import socket, sys
sock, px, sv, col = sys.argv[1:]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
lines = data.decode().splitlines()
cols = lines[0][2:].split(",")
for line in lines[1:]:
    f = line.split(",")
    if len(f) > 1 and f[0] == px and f[1] == sv:
        print(f[cols.index(col)])
PY
}
screen() { tmux -L "$TMUX_SOCK" capture-pane -p -t hatop; }
keys() { tmux -L "$TMUX_SOCK" send-keys -t hatop "$@"; }
show_servers() { ctl show stat | awk 'NR == 1 || $1 == "app"'; }

say "installing hatop, prometheus-haproxy-exporter, tmux, curl"
for p in hatop:hatop prometheus-haproxy-exporter:prometheus-haproxy-exporter tmux:tmux curl:curl; do
  need "${p%%:*}" "${p#*:}"
done
dpkg-query -W hatop prometheus-haproxy-exporter tmux

say "building l4lb (cargo build --release)"
cargo build --release -q

say "two backends (python3 -m http.server) and l4lb in front of them"
for port in $S1 $S2; do
  mkdir -p "$W/www$port" && echo "served by $port" >"$W/www$port/index.html"
  python3 -m http.server -b 127.0.0.1 -d "$W/www$port" "$port" >/dev/null 2>&1 &
  PIDS+=($!)
done
cat >"$W/l4lb.conf" <<EOF
global
    nbthread 2
    maxconn 200
    stats socket $SOCK mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend web
    bind 127.0.0.1:$FRONT
    default_backend app

backend app
    balance roundrobin
    server a 127.0.0.1:$S1 check inter 500ms
    server b 127.0.0.1:$S2 check inter 500ms
EOF
cat "$W/l4lb.conf"
"$BIN" -f "$W/l4lb.conf" 2>"$W/l4lb.log" &
PIDS+=($!)
wait_for '[ "$(stat_of app b status 2>/dev/null)" = UP ] && [ "$(stat_of app a status)" = UP ]' ||
  die "l4lb did not come up with both servers UP: $(cat "$W/l4lb.log")"
for _ in 1 2 3 4 5 6; do curl -s "http://127.0.0.1:$FRONT/" >/dev/null; done

say "prometheus-haproxy-exporter --haproxy.scrape-uri=unix:$SOCK"
prometheus-haproxy-exporter --haproxy.scrape-uri="unix:$SOCK" \
  --web.listen-address="127.0.0.1:$EXPORTER" >"$W/exporter.log" 2>&1 &
PIDS+=($!)
wait_for 'curl -sf "http://127.0.0.1:$EXPORTER/metrics" -o "$W/metrics"' || die "no /metrics"
grep -E '^haproxy_(up|version_info|exporter_csv_parse_failures_total|backend_up|frontend_sessions_total|server_(up|weight|sessions_total))' "$W/metrics"
grep -qx 'haproxy_up 1' "$W/metrics" || die "haproxy_up is not 1"
grep -qx 'haproxy_exporter_csv_parse_failures_total 0' "$W/metrics" || die "CSV parse failures"
grep -q '^haproxy_server_up{backend="app",server="a"} 1' "$W/metrics" || die "no per-server line"

say "hatop -s $SOCK in a detached tmux session (120x40)"
tmux -L "$TMUX_SOCK" new-session -d -s hatop -x 120 -y 40 \
  "hatop -s $SOCK -i 1 2>$W/hatop.err; echo hatop exited \$? >>$W/hatop.err"
PIDS+=("$(tmux -L "$TMUX_SOCK" display-message -p -t hatop '#{pane_pid}')")
wait_for 'screen | grep -q "^b  "' || die "hatop shows no server: $(screen) $(cat "$W/hatop.err")"
screen | sed -e '/^ *$/d'

# The cursor starts on the first line (>>> web); server a is four lines down.
keys Down Down Down Down
say "F10 on server a: 'disable server app/a'"
keys F10
wait_for '[ "$(stat_of app a status)" = MAINT ]' || die "a is not in maintenance"
wait_for 'screen | grep -q "^a .*MAINT"' || die "hatop does not show a MAINT"
screen | sed -n '/^NAME/,/^BACKEND/p'
show_servers

say "F9 on server a: 'enable server app/a'"
keys F9
wait_for '[ "$(stat_of app a status)" = UP ]' || die "a is not back"
show_servers

say "F8 on server a (weight +10), then F6 (-1): 'set weight app/a 11', 'set weight app/a 10'"
keys F8
wait_for '[ "$(stat_of app a weight)" = 11 ]' || die "weight is not 11"
wait_for 'screen | grep -q "^a  *11 "' || die "hatop does not show weight 11"
keys F6
wait_for '[ "$(stat_of app a weight)" = 10 ]' || die "weight is not 10"
show_servers
ctl get weight app/a

say "F4 on server a: 'set weight app/a 100%' (its configured weight)"
keys F4
wait_for '[ "$(stat_of app a weight)" = 1 ]' || die "weight is not back to 1"
show_servers

say "hatop's CLI view (key 5): the commands its keys sent"
keys 5
wait_for 'screen | grep -q "set weight app/a 100%"' || die "no CLI log"
screen | sed -e '/^ *$/d'

say "the exporter sees the same (back to the STATUS view: ESC 1; F10 on a)"
keys Escape 1
keys F10
wait_for '[ "$(stat_of app a status)" = MAINT ]' || die "a is not in maintenance"
curl -sf "http://127.0.0.1:$EXPORTER/metrics" | grep -E '^haproxy_(up|server_up|server_weight)'

keys q
wait_for 'grep -q "hatop exited 0" "$W/hatop.err"' || die "hatop did not quit cleanly: $(cat "$W/hatop.err")"
say "OK: hatop and prometheus-haproxy-exporter work against l4lb's stats socket"
