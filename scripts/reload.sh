#!/usr/bin/env bash
# reload.sh: what clients see during 50 live reloads in a row under load: l4lb (SIGHUP), then HAProxy
# reloaded with `-x SOCKET -sf OLD_PID`, then HAProxy master-worker (SIGUSR2), side by side.
# A benchmark, not a test: it reports, it does not judge.
# Backends: three nginx (127.0.0.1:19301-19303) and an echo server (`l4lb-testkit serve`, 19311).
# Each balancer has two frontends: HTTP over the three nginx (l4lb 18300, HAProxy -sf 18320, -W 18310)
# and one to the echo server for streams (l4lb 18301, HAProxy -sf 18321, -W 18311). For each, for DUR
# seconds:
#   - wrk -t1 -cC "Connection: close" on the HTTP frontend;
#   - 4 streams (`l4lb-testkit stream`) through the stream frontend, each sending RATE bytes/s of a
#     deterministic pattern, echoed back and checked byte by byte; a stream is broken if it is reset or
#     closed early, waits 2 s for its echo or for room to write, or a byte differs;
#   - RELOADS reloads, one every PERIOD s from 3 s in (or right after the previous one if it was
#     slower), each waited for: l4lb `kill -HUP` until its log says `reload: applied`; HAProxy -sf:
#     a new `haproxy -x SOCKET -sf OLD_PID` until it answers `show info` on the stats socket; HAProxy
#     `haproxy -W` with `stats socket ... expose-fd listeners`, `kill -USR2` to the master until it logs
#     `Loading success.`. A signal with no reaction in the log within 1 s (`reload: `, `Reloading
#     HAProxy`) is counted as ignored and sent again. Each reload changes the conf: odd ones set s2's
#     weight to 3 and add a 4th server line s4 (on s1's nginx), even ones undo both.
# Then: wrk requests, failed requests (socket errors + non-2xx), broken streams, reloads done, reload
# time and the balancer's processes after the last reload and at the end (streams closed): l4lb's and
# the master's process group (master + workers), the -sf processes still running.
# Usage: scripts/reload.sh   (as root: installs haproxy, nginx, wrk and socat with apt-get if missing)
# Env: DUR=seconds of load per balancer (40)  C=wrk connections (32)  RELOADS (50)  PERIOD=s (0.5)
#      RATE=bytes/s per stream (262144)
#      L4LB=dir holding l4lb and l4lb-testkit: use them instead of building target/release.
#      PORT_OFFSET=N: add N to every port above, to run beside something that holds them.
#      LOGS=dir: keep the logs (l4lb's and HAProxy's wall-clock stamped, and when each reload was sent),
#        wrk's and the streams' output.
# Exit 1 if something did not start or a number is missing; failures are reported, not an exit code.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.', awk with '.'
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

DUR=${DUR:-40}
C=${C:-32}
RELOADS=${RELOADS:-50}
PERIOD=${PERIOD:-0.5}
RATE=${RATE:-262144}
STREAMS=4
FIRST_AT=3     # seconds after the load starts: the first reload
LAST_BEFORE=3  # no reload starts later than this many seconds before the load ends
RELOAD_WAIT=5  # seconds a reload may take before it counts as not done
IGNORE_AFTER=1 # seconds without any reaction to the signal: ignored, sent again
SENDS=3        # signals per reload at most
OFF=${PORT_OFFSET:-0}
BP=($((19301 + OFF)) $((19302 + OFF)) $((19303 + OFF))) # nginx s1..s3
ECHO=$((19311 + OFF))
L4_HTTP=$((18300 + OFF)) L4_STREAM=$((18301 + OFF))
HA_HTTP=$((18310 + OFF)) HA_STREAM=$((18311 + OFF))
SF_HTTP=$((18320 + OFF)) SF_STREAM=$((18321 + OFF))
W=$(mktemp -d)
PIDS=()

die() { printf 'reload: %s\n' "$*" >&2; exit 1; }
PERIOD_US=$(awk -v p="$PERIOD" 'BEGIN { printf "%d", p * 1e6 }')
[ "$DUR" -ge $((FIRST_AT + LAST_BEFORE + 1)) ] || die "DUR must be at least $((FIRST_AT + LAST_BEFORE + 1))"
[ "$PERIOD_US" -gt 0 ] || die "PERIOD must be a positive number of seconds"

# Stops every process we started: SIGTERM, up to 5 s for all to exit, then SIGKILL.
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
cleanup() {
  stop_pids
  if [ -n "${LOGS:-}" ] && mkdir -p "$LOGS"; then cp "$W"/*.log "$W"/*.out "$LOGS"/ 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

# ---- tools ----
need haproxy haproxy
need nginx nginx
need wrk wrk
need ss iproute2
need setsid util-linux
need socat socat
perl -MTime::HiRes -e 1 2>/dev/null || apt_install perl

if [ -z "${L4LB:-}" ]; then
  echo "building l4lb and l4lb-testkit (cargo build --release)"
  cargo build --release --quiet --bin l4lb --bin l4lb-testkit
  L4LB=${CARGO_TARGET_DIR:-target}/release
fi
TESTKIT=$L4LB/l4lb-testkit

# ---- helpers (more in lib.sh) ----
count() { # PATTERN FILE: lines holding PATTERN (0 if FILE does not exist yet)
  local n
  n=$(grep -scF -- "$1" "$2") || true
  echo "${n:-0}"
}
# Waits up to 10 s until FILE holds N lines with PATTERN, while PID lives.
wait_count() { # FILE PATTERN N PID
  local i
  for ((i = 0; i < 1000; i++)); do
    [ "$(count "$2" "$1")" -ge "$3" ] && return 0
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for port in "${BP[@]}" "$ECHO" "$L4_HTTP" "$L4_STREAM" "$HA_HTTP" "$HA_STREAM" "$SF_HTTP" "$SF_STREAM"; do
  ! listening "$port" || die "127.0.0.1:$port is already in use (another run? try PORT_OFFSET=500)"
done

# ---- backends ----
for i in 0 1 2; do
  n=$((i + 1))
  cat >"$W/be$n.conf" <<NG
worker_processes 1; daemon off; pid $W/be$n.pid; error_log $W/be$n.err;
events { worker_connections 4096; }
http { access_log off;
  server { listen 127.0.0.1:${BP[i]} backlog=4096; location / { return 200 "s$n\n"; } } }
NG
  nginx -c "$W/be$n.conf" -p "$W" >"$W/be$n.out" 2>&1 &
  PIDS+=($!)
  wait_listening "${BP[i]}" "$!" || { cat "$W/be$n.err" >&2; die "nginx s$n did not come up on ${BP[i]}"; }
done
"$TESTKIT" serve "echo=127.0.0.1:$ECHO" >"$W/echo.out" 2>&1 &
PIDS+=($!)
wait_listening "$ECHO" "$!" || { cat "$W/echo.out" >&2; die "the echo server did not come up on $ECHO"; }

# ---- confs ----
# Server lines of conf variant V (0: s1-s3 weight 1; 1: s2 weight 3 and s4), same syntax for both.
servers() {
  local w2=1
  [ "$1" = 1 ] && w2=3
  echo "  server s1 127.0.0.1:${BP[0]} weight 1"
  echo "  server s2 127.0.0.1:${BP[1]} weight $w2"
  echo "  server s3 127.0.0.1:${BP[2]} weight 1"
  [ "$1" = 1 ] && echo "  server s4 127.0.0.1:${BP[0]} weight 1"
  return 0
}
# A conf: GLOBAL_LINE HTTP_PORT STREAM_PORT VARIANT.
conf() {
  cat <<CF
global
  nbthread $(nproc)
  maxconn 9000
$1
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend f
  bind 127.0.0.1:$2
  default_backend b
backend b
  balance roundrobin
$(servers "$4")
frontend fs
  bind 127.0.0.1:$3
  default_backend e
backend e
  server e1 127.0.0.1:$ECHO
CF
}
# Writes conf variant V of balancer NAME to $W/NAME.conf, replacing it in one rename.
l4lb_conf() { conf "" "$L4_HTTP" "$L4_STREAM" "$1" >"$W/l4lb.tmp" && mv "$W/l4lb.tmp" "$W/l4lb.conf"; }
haproxy_conf() {
  conf "  stats socket $W/haproxy.sock mode 600 level admin expose-fd listeners" "$HA_HTTP" "$HA_STREAM" "$1" \
    >"$W/haproxy.tmp" && mv "$W/haproxy.tmp" "$W/haproxy.conf"
}
haproxy_sf_conf() {
  conf "  stats socket $W/haproxy_sf.sock mode 600 level admin expose-fd listeners" "$SF_HTTP" "$SF_STREAM" "$1" \
    >"$W/haproxy_sf.tmp" && mv "$W/haproxy_sf.tmp" "$W/haproxy_sf.conf"
}

# ---- balancers ----
# Each starts in its own process group (setsid: no fork, the pid stays ours), logging stamped lines to
# $W/NAME.log. Sets MAIN (the pid to signal).
start_stamped() { # NAME CMD...
  local name=$1
  shift
  mkfifo "$W/$name.fifo"
  stamp <"$W/$name.fifo" >"$W/$name.log" &
  PIDS+=($!)
  setsid "$@" 2>"$W/$name.fifo" >&2 &
  PIDS+=($!)
  MAIN=$!
}
start_l4lb() {
  l4lb_conf 0
  # The session module's debug lines say when and why a session was aborted; only abnormal ends log.
  RUST_LOG=l4lb::session=debug start_stamped l4lb "$L4LB/l4lb" -f "$W/l4lb.conf" --log-level info
  wait_count "$W/l4lb.log" "l4lb ready" 1 "$MAIN" || { cat "$W/l4lb.log" >&2; die "l4lb did not get ready"; }
}
start_haproxy() {
  haproxy_conf 0
  start_stamped haproxy haproxy -W -db -f "$W/haproxy.conf"
  if ! wait_count "$W/haproxy.log" "Loading success." 1 "$MAIN" ||
    ! wait_listening "$HA_HTTP" "$MAIN" || ! wait_listening "$HA_STREAM" "$MAIN"; then
    cat "$W/haproxy.log" >&2
    die "haproxy did not get ready"
  fi
}
group_size() { ps -o pid= -g "$1" | wc -l; } # processes in process group PGID
group_of_main() { group_size "$MAIN"; }

# HAProxy without a master, reloaded the classic way: each reload starts a new process with
# `-x SOCKET -sf OLD_PID`. It takes the listening sockets over the old one's stats socket (so the
# listen queue is kept), then tells the old one to finish its connections and exit. Every process
# started is in SF_PIDS; the one serving is MAIN.
SF_PIDS=()
sf_start() { # ARGS...: one more haproxy process, its stderr appended to haproxy_sf.log; sets MAIN
  haproxy -db -f "$W/haproxy_sf.conf" "$@" 2>>"$W/haproxy_sf.log" >&2 &
  MAIN=$!
  PIDS+=("$MAIN")
  SF_PIDS+=("$MAIN")
}
# The pid that answers on the stats socket (empty while none does).
sf_serving() { socat -t 1 - "UNIX-CONNECT:$W/haproxy_sf.sock" <<<"show info" 2>/dev/null | awk '/^Pid:/ { print $2 }'; }
# Waits up to RELOAD_WAIT s for process PID to answer on the stats socket; fails if it exits first.
sf_wait_serving() { # PID
  local t=$(($(now_us) + RELOAD_WAIT * 1000000))
  while [ "$(now_us)" -lt "$t" ]; do
    [ "$(sf_serving)" = "$1" ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.005
  done
  return 1
}
sf_alive() { # the processes of SF_PIDS still running
  local p n=0
  for p in "${SF_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
  echo "$n"
}
start_haproxy_sf() {
  haproxy_sf_conf 0
  sf_start
  if ! sf_wait_serving "$MAIN" || ! wait_listening "$SF_HTTP" "$MAIN" || ! wait_listening "$SF_STREAM" "$MAIN"; then
    cat "$W/haproxy_sf.log" >&2
    die "haproxy (-sf) did not get ready"
  fi
}
# One -sf reload: the time is from the new process's start to its answer on the stats socket.
reload_sf() { # NAME _ _ _ _ I
  local old=$MAIN t0
  t0=$(now_us)
  sf_start -x "$W/haproxy_sf.sock" -sf "$old"
  echo "$t0 reload $6 started pid $MAIN" >>"$W/haproxy_sf.signals.log"
  if sf_wait_serving "$MAIN"; then
    R[$1.done]=$((R[$1.done] + 1))
    awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }' >>"$W/$1.reload-ms"
  else
    R[$1.failed]=$((R[$1.failed] + 1))
    echo "  reload $6: the new haproxy did not answer within ${RELOAD_WAIT}s: $(tail -n 1 "$W/haproxy_sf.log")"
    kill -0 "$old" 2>/dev/null && MAIN=$old
  fi
}

# ---- one run ----
# One reload of balancer NAME (pid MAIN): sends SIG and waits up to RELOAD_WAIT s for a new OK line
# in its log (or a BAD one). A signal that brings no REACT line within IGNORE_AFTER s was ignored:
# it is counted and sent again, up to SENDS times in all. Counts in R[NAME.*]; the reload time
# (the signal that worked -> OK) goes to $W/NAME.reload-ms, the signals to $W/NAME.signals.log.
reload_once() { # NAME SIG OK BAD REACT I
  local name=$1 sig=$2 ok=$3 bad=$4 react=$5 i=$6 log="$W/$1.log" before bad_before react_before t_sig k
  before=$(count "$ok" "$log")
  bad_before=$(count "$bad" "$log")
  for ((k = 1; k <= SENDS; k++)); do
    react_before=$(count "$react" "$log")
    t_sig=$(now_us)
    kill "-$sig" "$MAIN"
    echo "$t_sig reload $i sent" >>"$W/$name.signals.log"
    while [ "$(count "$react" "$log")" -le "$react_before" ]; do
      [ "$(now_us)" -lt $((t_sig + IGNORE_AFTER * 1000000)) ] || break
      sleep 0.005
    done
    [ "$(count "$react" "$log")" -gt "$react_before" ] && break
    R[$name.ignored]=$((R[$name.ignored] + 1))
    echo "  reload $i: $sig ignored (no '$react' within ${IGNORE_AFTER}s; $(sig_state "$MAIN"))"
  done
  while [ "$(now_us)" -lt $((t_sig + RELOAD_WAIT * 1000000)) ]; do
    [ "$(count "$ok" "$log")" -gt "$before" ] && break
    [ "$(count "$bad" "$log")" -gt "$bad_before" ] && break
    sleep 0.005
  done
  if [ "$(count "$ok" "$log")" -gt "$before" ]; then
    R[$name.done]=$((R[$name.done] + 1))
    awk -v p="$ok" -v n=$((before + 1)) -v t="$t_sig" \
      'index($0, p) && ++c == n { printf "%.1f\n", ($1 * 1e6 - t) / 1000; exit }' "$log" >>"$W/$name.reload-ms"
  elif [ "$(count "$bad" "$log")" -gt "$bad_before" ]; then
    R[$name.failed]=$((R[$name.failed] + 1))
    echo "  reload $i failed: $(grep -F -- "$bad" "$log" | tail -n 1 | cut -c 19-)"
  else
    R[$name.failed]=$((R[$name.failed] + 1))
    echo "  reload $i: no '$ok' within ${RELOAD_WAIT}s"
  fi
}
# The signal masks of process PID: pending, blocked, ignored, caught.
sig_state() { awk '/^(SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt)/ { printf "%s%s %s", n++ ? " " : "", $1, $2 }' "/proc/$1/status"; }

# run NAME HTTP_PORT STREAM_PORT SIGNAL OK_LINE FAIL_LINE REACT_LINE: the load and the reloads
# against the balancer started last (pid MAIN); results in R[NAME.*]. Each reload runs
# `$RELOAD NAME SIGNAL OK_LINE FAIL_LINE REACT_LINE I`; `$PROCS` counts the balancer's processes.
RELOAD=reload_once PROCS=group_of_main
declare -A R
run() {
  local name=$1 http=$2 sport=$3 sig=$4 ok=$5 bad=$6 react=$7 i t0 n at wpid spids=()
  : >"$W/$name.reload-ms"
  echo "$name: wrk -t1 -c$C -d${DUR}s 'Connection: close', $STREAMS streams of $RATE B/s, $RELOADS reloads"
  t0=$(now_us)
  for ((i = 1; i <= STREAMS; i++)); do
    timeout $((DUR + 30)) "$TESTKIT" stream "127.0.0.1:$sport" "$DUR" "$RATE" >"$W/$name.stream$i.out" 2>&1 &
    PIDS+=($!)
    spids+=($!)
  done
  timeout $((DUR + 30)) wrk -t1 -c"$C" -d"${DUR}s" -H 'Connection: close' "http://127.0.0.1:$http/" >"$W/$name.wrk.out" 2>&1 &
  PIDS+=($!)
  wpid=$!

  R[$name.t0]=$t0 R[$name.done]=0 R[$name.failed]=0 R[$name.late]=0 R[$name.ignored]=0 R[$name.maxprocs]=0
  for ((i = 1; i <= RELOADS; i++)); do
    at=$((t0 + FIRST_AT * 1000000 + (i - 1) * PERIOD_US))
    n=$(now_us)
    [ "$n" -le "$at" ] || at=$n
    if [ "$at" -gt $((t0 + (DUR - LAST_BEFORE) * 1000000)) ]; then
      R[$name.late]=$((RELOADS - i + 1))
      break
    fi
    sleep_until "$at"
    "${name}_conf" $((i % 2))
    "$RELOAD" "$name" "$sig" "$ok" "$bad" "$react" "$i"
    n=$("$PROCS")
    [ "$n" -le "${R[$name.maxprocs]}" ] || R[$name.maxprocs]=$n
  done
  R[$name.procs_after]=$("$PROCS")

  wait "$wpid" || true
  R[$name.broken]=0
  for ((i = 1; i <= STREAMS; i++)); do
    wait "${spids[i - 1]}" || true
    if ! grep -q '^ok ' "$W/$name.stream$i.out"; then
      R[$name.broken]=$((R[$name.broken] + 1))
      echo "  stream $i: $(tail -n 1 "$W/$name.stream$i.out")"
    fi
  done
  sleep 1 # old workers left with nothing to serve have time to exit
  R[$name.procs_end]=$("$PROCS")
  R[$name.median_ms]=$(median <"$W/$name.reload-ms")
  R[$name.max_ms]=$(sort -n "$W/$name.reload-ms" | tail -n 1)
  R[$name.max_ms]=${R[$name.max_ms]:--}

  local out
  out=$(cat "$W/$name.wrk.out")
  R[$name.reqs]=$(awk '/requests in/ { print $1 }' <<<"$out")
  [ -n "${R[$name.reqs]}" ] || { sed 's/^/  | /' "$W/$name.wrk.out" >&2; die "$name: wrk gave no result"; }
  R[$name.rps]=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")
  read -r R["$name.connect"] R["$name.read"] R["$name.write"] R["$name.timeout"] <<<"$(awk '
    /Socket errors:/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 } END { print c + 0, r + 0, w + 0, t + 0 }' <<<"$out")"
  R[$name.non2xx]=$(awk '/Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
  R[$name.fails]=$((R[$name.connect] + R[$name.read] + R[$name.write] + R[$name.timeout] + R[$name.non2xx]))
  R[$name.streams]=$(grep -h '^ok ' "$W/$name".stream*.out | awk '{ b += $2; if ($10 > g) g = $10 } END { printf "%.0f MB, longest echo wait %d ms", b / 1e6, g }')
}

# ---- l4lb ----
start_l4lb
L4PID=$MAIN
run l4lb "$L4_HTTP" "$L4_STREAM" HUP "reload: applied" "reload: failed" "reload: "
kill -0 "$L4PID" 2>/dev/null || die "l4lb exited during the run; its log: $W/l4lb.log"
# Aborted sessions (a reset on either side) while wrk ran, and after: wrk ends by resetting the
# connections it has open. Warnings and errors after start.
WRK_END=$((${R[l4lb.t0]} + DUR * 1000000))
read -r L4_ABORTS L4_ABORTS_END L4_WARN <<<"$(awk -v end="$WRK_END" '
  /l4lb ready/ { ready = 1 }
  /connection aborted/ { if ($1 * 1e6 < end) a++; else e++ }
  ready && / (WARN|ERROR) / { w++ }
  END { print a + 0, e + 0, w + 0 }' "$W/l4lb.log")"
L4_SUMMARY=$(grep -F "reload: applied" "$W/l4lb.log" | sed -n '1s/.*reload: applied: //p')
kill -TERM "$L4PID"
sleep 2 # its sockets close; TIME_WAIT stays on other ports

# ---- HAProxy, -sf ----
start_haproxy_sf
RELOAD=reload_sf PROCS=sf_alive run haproxy_sf "$SF_HTTP" "$SF_STREAM" - - - -
kill -TERM "$MAIN" 2>/dev/null || true
# How the former processes ended (by now all should have: their last connections closed).
declare -A SF_CODES
for p in "${SF_PIDS[@]}"; do
  [ "$p" = "$MAIN" ] && continue
  if kill -0 "$p" 2>/dev/null; then k="still running"; else
    c=0
    wait "$p" || c=$?
    k="code $c"
  fi
  SF_CODES[$k]=$((${SF_CODES[$k]:-0} + 1))
done
SF_EXITS="$((${#SF_PIDS[@]} - 1)) former process(es):"
for k in "${!SF_CODES[@]}"; do SF_EXITS+=" ${SF_CODES[$k]} x $k"; done
wait "$MAIN" 2>/dev/null || true
sleep 2

# ---- HAProxy, master-worker ----
start_haproxy
run haproxy "$HA_HTTP" "$HA_STREAM" USR2 "Loading success." "Loading failure" "Reloading HAProxy"
# How HAProxy's former workers ended (an exit code other than 0 is a crash or a kill).
HA_EXITS=$(awk '/Former worker .* exited with code/ { n++; c = $0; sub(/.*exited with code /, "", c); k[c]++ }
  END { printf "%d former worker(s) exited:", n; for (c in k) printf " %d x code %s", k[c], c; print "" }' "$W/haproxy.log")
HA_GROUP=$(ps -o pid= -g "$MAIN" | tr -d ' ' | tr '\n' ' ')
# Workers are the master's children; stop_pids stops the master, which stops them. Any that outlive
# it are ours too: add them by pid.
for p in $HA_GROUP; do [ "$p" = "$MAIN" ] || PIDS+=("$p"); done

# ---- table ----
COLS=(l4lb haproxy_sf haproxy)
row() { printf '%-34s %14s %14s %14s\n' "$@"; }
# kv LABEL KEY [SUFFIX]: one row, R[NAME.KEY]SUFFIX for each balancer.
kv() {
  local c vals=()
  for c in "${COLS[@]}"; do vals+=("${R[$c.$2]}${3:-}"); done
  row "$1" "${vals[@]}"
}
for c in "${COLS[@]}"; do R[$c.failed_late]="${R[$c.failed]} / ${R[$c.late]}"; done
echo
echo "machine: $(nproc) x $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(uname -sr)," \
  "$(haproxy -v | awk 'NR == 1 { print $1, $3 }'), l4lb $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "load: wrk -t1 -c$C -d${DUR}s 'Connection: close'; $STREAMS echo streams x $RATE B/s for ${DUR}s;" \
  "$RELOADS reloads, one every ${PERIOD}s from +${FIRST_AT}s"
row "" "l4lb SIGHUP" "haproxy -sf" "haproxy -W USR2"
kv "wrk requests" reqs
kv "  req/s" rps
kv "failed requests" fails
for k in connect read write timeout non2xx; do kv "  $k" "$k"; done
kv "broken streams" broken " of $STREAMS"
kv "reloads done" "done" " of $RELOADS"
kv "  failed / not started in time" failed_late
kv "signals ignored (sent again)" ignored
kv "reload time median ms" median_ms
kv "reload time max ms" max_ms
kv "processes, most after a reload" maxprocs
kv "processes after the last reload" procs_after
kv "processes at the end" procs_end
echo "(reload time: signal -> 'reload: applied' in l4lb's log; new process started -> it answers on the"
echo " stats socket (haproxy -sf); signal -> 'Loading success.' in the master's log (haproxy -W)."
echo " processes: l4lb's and the master's process group (master + workers); for -sf, the processes"
echo " started that still run; at the end = 1 s after the streams closed)"
echo "streams: l4lb ${R[l4lb.streams]}; haproxy -sf ${R[haproxy_sf.streams]}; haproxy -W ${R[haproxy.streams]}"
echo "haproxy -sf: $SF_EXITS"
echo "haproxy -W log: $HA_EXITS"
echo "l4lb log: $L4_ABORTS aborted session(s) during the load, $L4_ABORTS_END as wrk stopped;" \
  "$L4_WARN warning/error line(s) after start; first reload: $L4_SUMMARY"
[ "${R[l4lb.done]}" -gt 0 ] && [ "${R[haproxy.done]}" -gt 0 ] && [ "${R[haproxy_sf.done]}" -gt 0 ] || exit 1
