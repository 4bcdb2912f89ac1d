#!/usr/bin/env bash
# demo.sh: build l4lb, put it in front of three tiny servers, show how it spreads connections.
# Usage: scripts/demo.sh     (needs only cargo; uses 127.0.0.1 ports 8080, 8081 and 9001-9003
#                             and the runtime API socket /tmp/l4lb-demo.sock)
# Env: CONNS=connections per run (default 3000).
# Exit 0 only if every connection of every run went through.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-3000}
BIN=${CARGO_TARGET_DIR:-target}/release
SERVERS=(s1=127.0.0.1:9001 s2=127.0.0.1:9002 s3=127.0.0.1:9003)
W=$(mktemp -d)
SOCK=/tmp/l4lb-demo.sock # the runtime API socket of conf/demo.conf
SERVERS_PID=""
LB_PID=""

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

# Stops one process we started: SIGTERM, up to 5 s to exit, then SIGKILL.
stop() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() { stop "$LB_PID"; stop "$SERVERS_PID"; rm -rf "$W"; }
trap cleanup EXIT

# Waits up to 10 s for PATTERN to appear COUNT times in FILE, while process PID lives.
wait_for_line() {
  local pid=$1 file=$2 pattern=$3 count=$4 i n
  for ((i = 0; i < 100; i++)); do
    # The file may not exist yet: the background process creates it.
    n=$(grep -c -- "$pattern" "$file" 2>/dev/null) || true
    [ "${n:-0}" -ge "$count" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts l4lb with the given arguments and waits for its "l4lb ready" line.
start_l4lb() {
  "$BIN/l4lb" "$@" >"$W/l4lb.log" 2>&1 &
  LB_PID=$!
  wait_for_line "$LB_PID" "$W/l4lb.log" 'l4lb ready' 1 && return 0
  sed 's/^/  | /' "$W/l4lb.log" >&2
  kill -0 "$LB_PID" 2>/dev/null || die "l4lb $* exited (its log is above)"
  die "l4lb $* did not log 'l4lb ready' within 10 s (its log is above)"
}

# Runs the client through ADDR and prints the table; sets ROWS to the number of servers seen.
run_clients() {
  local out status=0
  out=$("$BIN/l4lb-testkit" clients "$1" "$CONNS") || status=$?
  printf '%s\n' "$out"
  ROWS=$(grep -c '%$' <<<"$out" || true)
  [ "$status" -eq 0 ] || die "some connections through $1 failed (see 'failed' above)"
}

say "Building l4lb and l4lb-testkit (cargo build --release)"
cargo build --release --quiet

for port in 8080 8081 9001 9002 9003; do
  ! port_in_use "$port" || die "127.0.0.1:$port is already in use; stop whatever listens there"
done

say "Starting three test servers; each greets a connection with its name, then echoes"
"$BIN/l4lb-testkit" serve "${SERVERS[@]}" >"$W/servers.log" 2>&1 &
SERVERS_PID=$!
wait_for_line "$SERVERS_PID" "$W/servers.log" '^listening' 3 || { cat "$W/servers.log" >&2; die "test servers did not start"; }
sed 's/^/  /' "$W/servers.log"

say "l4lb -f conf/demo.conf: roundrobin on 127.0.0.1:8080, weights s1=1 s2=1 s3=2"
start_l4lb -f conf/demo.conf
echo "  $CONNS connections, 8 at a time; expect about 25% / 25% / 50%:"
run_clients 127.0.0.1:8080

say "Runtime API: drain s3 (no new connections; its open ones would finish)"
echo "  \$ l4lb ctl -s $SOCK set server demo/s3 state drain"
"$BIN/l4lb" ctl -s "$SOCK" set server demo/s3 state drain || die "l4lb ctl failed"
echo "  $CONNS connections; expect about 50% / 50%, none to s3:"
run_clients 127.0.0.1:8080
[ "$ROWS" -eq 2 ] || die "a drained server still got connections ($ROWS servers seen)"
echo "  \$ l4lb ctl -s $SOCK show stat"
"$BIN/l4lb" ctl -s "$SOCK" show stat | sed 's/^/  /' || die "l4lb ctl show stat failed"
stop "$LB_PID"
LB_PID=""

say "l4lb --balance source on 127.0.0.1:8081: the client address picks the server"
start_l4lb --bind 127.0.0.1:8081 --balance source \
  --server 127.0.0.1:9001 --server 127.0.0.1:9002 --server 127.0.0.1:9003
echo "  $CONNS connections, all from 127.0.0.1, so all should reach one server:"
run_clients 127.0.0.1:8081
[ "$ROWS" -eq 1 ] || die "balance source spread one client over $ROWS servers"
stop "$LB_PID"
LB_PID=""

say "Demo OK. Next: read conf/demo.conf, then try target/release/l4lb --help"
