#!/usr/bin/env bash
# proxy_interop.sh: l4lb's PROXY protocol both ways against the real HAProxy and nginx.
# Starts (by hand, as children of this script, on 127.0.0.1 high ports, in a temp dir) Debian's
# HAProxy, nginx (its stream module loaded), l4lb, an echo server and a server that reads a PROXY
# header and logs the addresses in it (scripts/proxy_interop/helpers.py); every client binds
# 127.0.0.77 so its address is recognisable wherever it arrives:
#   1. client -> HAProxy send-proxy[-v2] -> l4lb accept-proxy -> l4lb send-proxy[-v2] -> the
#      PROXY-reading server: the header it gets carries 127.0.0.77:<client port> (and, as the
#      address reached, HAProxy's frontend); v2 with a CRC32C TLV that must check. l4lb's own
#      log-format line says the same (%ci:%cp the client, %fi:%fp HAProxy's frontend, as
#      HAProxy's %fi on an accept-proxy bind: the header's destination).
#   2. client -> l4lb send-proxy[-v2] -> HAProxy `bind ... accept-proxy` -> echo: HAProxy's log
#      line (%ci:%cp, on its stdout) shows 127.0.0.77:<client port>.
#   3. client -> l4lb send-proxy[-v2] -> nginx `listen ... proxy_protocol` -> echo: nginx's
#      access log ($proxy_protocol_addr:$proxy_protocol_port) shows 127.0.0.77:<client port>.
#   4. garbage (an HTTP request, a v2 version 3, a wrong CRC32C, TCP6 with IPv4 addresses) to l4lb's accept-proxy
#      bind is closed and logged "PROXY header refused", while a client holding a good header
#      on the same bind, sent before and finished after, is served; HAProxy's accept-proxy bind
#      must refuse the same bytes (else the script is wrong).
#   5. HAProxy's default TCP log ("Connect from SRC to DST") on an accept-proxy bind: a client's
#      own header to HAProxy's and to l4lb's; both lines must show its two addresses.
#   6. `tcp-request connection expect-proxy layer4 if { src 127.0.0.1 }` (no accept-proxy on the
#      bind): HAProxy's send-proxy-v2 from 127.0.0.1 is read, and the PROXY-reading server behind
#      l4lb's send-proxy-v2 sees the client and HAProxy's frontend; a client of its own from
#      127.0.0.77 (not trusted) sends no header and is passed on as itself.
# Then near-miss headers (out-of-range or zero-padded numbers, v2 UNSPEC/UNIX/UDP families,
# bad TLVs) go to both accept-proxy binds: accepted or closed, side by side, not judged.
# One PASS/FAIL line per case; exits 1 on any FAIL.
# Usage: scripts/proxy_interop.sh   (root, Debian: installs what it needs with apt-get)
# Not run by scripts/interop.sh (that one is the health checks): run it on its own.
# Env: PORT_BASE=N (19700): ports N+1..N+16. L4LB=path: that binary instead of building
#      target/release/l4lb (L4LB=/usr/sbin/haproxy checks the script itself: every case PASS
#      but case 4's, which wants l4lb's own "PROXY header refused" line).
#      KEEP=1: leave the temp dir (confs, logs) in place.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/scripts/proxy_interop
HELP=$DIR/helpers.py
W=$(mktemp -d /tmp/l4lb-proxy-interop.XXXXXX)
PIDS=()
declare -A PID=()
die() { printf 'proxy_interop: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  stop_pids
  if [ -n "${KEEP:-}" ]; then echo "proxy_interop: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through cleanup too

SRC=127.0.0.77 # every client's source address
B=${PORT_BASE:-19700}
ECHO=$((B + 1)) PPSERVER=$((B + 2))
HA_SEND_V1=$((B + 3)) HA_SEND_V2=$((B + 4)) HA_ACCEPT_V1=$((B + 5)) HA_ACCEPT_V2=$((B + 6))
LB_ACCEPT_V1=$((B + 7)) LB_ACCEPT_V2=$((B + 8)) LB_TO_HA_V1=$((B + 9)) LB_TO_HA_V2=$((B + 10))
LB_TO_NG_V1=$((B + 11)) LB_TO_NG_V2=$((B + 12)) NG_V1=$((B + 13)) NG_V2=$((B + 14))
HA_ACCEPT_DEF=$((B + 15)) LB_ACCEPT_DEF=$((B + 16)) HA_SEND_EXPECT=$((B + 17)) LB_EXPECT=$((B + 18))
NAMES=(ECHO PPSERVER HA_SEND_V1 HA_SEND_V2 HA_ACCEPT_V1 HA_ACCEPT_V2 LB_ACCEPT_V1 LB_ACCEPT_V2
  LB_TO_HA_V1 LB_TO_HA_V2 LB_TO_NG_V1 LB_TO_NG_V2 NG_V1 NG_V2 HA_ACCEPT_DEF LB_ACCEPT_DEF
  HA_SEND_EXPECT LB_EXPECT)

# ---- tools ----
need haproxy haproxy
need nginx nginx
NGX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$NGX_STREAM" ] || apt_install libnginx-mod-stream
[ -f "$NGX_STREAM" ] || die "no $NGX_STREAM after apt-get install libnginx-mod-stream"
need socat socat
need python3 python3
need ss iproute2
for n in "${NAMES[@]}"; do ! listening "${!n}" || die "127.0.0.1:${!n} ($n) is in use (another run? try PORT_BASE=19800)"; done
echo "haproxy: $(haproxy -v | head -1)"
echo "nginx: $(nginx -v 2>&1)"
build_l4lb
echo "l4lb: $L4LB"

# ---- daemons ----
render() { # TEMPLATE: @NAME@ -> its port, @DIR@ -> the temp dir
  local args=(-e "s|@DIR@|$W|g") n
  for n in "${NAMES[@]}"; do args+=(-e "s|@$n@|${!n}|g"); done
  sed "${args[@]}" "$DIR/$1"
}
render haproxy.cfg.in >"$W/haproxy.cfg"
render l4lb.cfg.in >"$W/l4lb.cfg"
render nginx.conf.in >"$W/nginx.conf"

spawn echo python3 "$HELP" echo "$ECHO"
spawn ppserver python3 "$HELP" ppserver "$PPSERVER" "$W/pp.log"
haproxy -c -q -f "$W/haproxy.cfg" >"$W/haproxy.check" 2>&1 || die "haproxy refuses its conf: $(cat "$W/haproxy.check")"
spawn haproxy haproxy -db -f "$W/haproxy.cfg"
nginx -t -q -c "$W/nginx.conf" >"$W/nginx.check" 2>&1 || die "nginx refuses its conf: $(cat "$W/nginx.check")"
spawn nginx nginx -c "$W/nginx.conf"
"$L4LB" -c -f "$W/l4lb.cfg" >"$W/l4lb.check" 2>&1 || die "l4lb refuses its conf: $(cat "$W/l4lb.check")"
spawn l4lb "$L4LB" -f "$W/l4lb.cfg"
ready echo "$ECHO"
ready ppserver "$PPSERVER"
ready haproxy "$HA_SEND_V1" "$HA_SEND_V2" "$HA_ACCEPT_V1" "$HA_ACCEPT_V2" "$HA_ACCEPT_DEF" "$HA_SEND_EXPECT"
ready nginx "$NG_V1" "$NG_V2"
ready l4lb "$LB_ACCEPT_V1" "$LB_ACCEPT_V2" "$LB_TO_HA_V1" "$LB_TO_HA_V2" "$LB_TO_NG_V1" "$LB_TO_NG_V2" "$LB_ACCEPT_DEF" "$LB_EXPECT"
touch "$W/pp.log" "$W/nginx.access.log"

# ---- the cases ----
RESULTS=() FAILS=0 LAST=""
result() { # PASS|FAIL CASE DETAIL
  RESULTS+=("$(printf '%-4s %-58s %s' "$1" "$2" "$3")")
  [ "$1" = PASS ] || FAILS=$((FAILS + 1))
}
# await FILE PATTERN: up to 10 s for a line of FILE to match the (grep -E) PATTERN; prints it.
await() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -m1 -E -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
client() { # PORT: one client from $SRC through PORT; prints the address it used, or nothing
  python3 "$HELP" client "$SRC" "$1" 2>>"$W/clients.log" || true
}
# via NAME PORT LOG PREFIX [SUFFIX]: a client through PORT; passes if LOG gets a line with
# the (grep -E) PREFIX, that client's address, then SUFFIX (default: a space or the end). The
# client's address is left in LAST.
via() {
  local name=$1 port=$2 log=$3 prefix=$4 suffix=${5:-( |$)} me line
  me=$(client "$port")
  LAST=$me
  if [ -z "$me" ]; then
    result FAIL "$name" "the client got no echo back: $(tail -1 "$W/clients.log")"
    return
  fi
  if line=$(await "$log" "$prefix${me//./\\.}$suffix"); then
    result PASS "$name" "client $me, logged: ${line%% raw=*}"
  else
    result FAIL "$name" "client $me not in $(basename "$log"): $(tail -3 "$log" | tr '\n' '|')"
  fi
}

# lb_logged NAME LISTEN FRONTEND_PORT: l4lb's own log line (log-format %ci:%cp %fi:%fp) for
# the client in LAST shows it, and HAProxy's frontend as the address it reached (as HAProxy's
# %ci/%fi on an accept-proxy bind).
lb_logged() {
  local line
  if [ -z "$LAST" ]; then
    result FAIL "$1" "no client got through"
    return
  fi
  if line=$(await "$W/l4lb.log" "^lb_accept $2 client=${LAST//./\\.} "); then
    result PASS "$1: %ci:%cp the client" "$line"
  else
    result FAIL "$1: %ci:%cp the client" "not in l4lb's log: $(grep "^lb_accept $2" "$W/l4lb.log" | tail -1)"
  fi
  if line=$(grep -m1 -E "^lb_accept $2 client=${LAST//./\\.} frontend=127\\.0\\.0\\.1:$3$" "$W/l4lb.log"); then
    result PASS "$1: %fi:%fp HAProxy's frontend" "$line"
  else
    result FAIL "$1: %fi:%fp HAProxy's frontend" "want frontend=127.0.0.1:$3 (the header's), l4lb: $(grep "^lb_accept $2 client=$LAST " "$W/l4lb.log" | tail -1)"
  fi
}

# 1. HAProxy -> l4lb -> the PROXY-reading server (it sees the client, and HAProxy's frontend as
# the address reached); l4lb's own log says the same.
via "1 haproxy send-proxy -> l4lb accept-proxy, send-proxy" "$HA_SEND_V1" "$W/pp.log" '^v1 '
grep -q -E "^v1 $SRC:[0-9]+ -> 127\.0\.0\.1:$HA_SEND_V1 " "$W/pp.log" ||
  result FAIL "1 v1: address reached is HAProxy's frontend" "$(grep '^v1' "$W/pp.log" | tail -1)"
lb_logged "1 v1: l4lb's log" lb_accept_v1 "$HA_SEND_V1"
via "1 haproxy send-proxy-v2 -> l4lb accept-proxy, send-proxy-v2" "$HA_SEND_V2" "$W/pp.log" '^v2 '
if line=$(grep -E "^v2 $SRC:[0-9]+ -> 127\.0\.0\.1:$HA_SEND_V2 crc32c=ok " "$W/pp.log"); then
  result PASS "1 v2: reached HAProxy's frontend, CRC32C TLV checks" "${line%% raw=*}"
else
  result FAIL "1 v2: reached HAProxy's frontend, CRC32C TLV checks" "$(grep '^v2' "$W/pp.log" | tail -1)"
fi
lb_logged "1 v2: l4lb's log" lb_accept_v2 "$HA_SEND_V2"

# 2. l4lb -> HAProxy accept-proxy (its log line on its stdout; %fi:%fp is the address the
# header says the client reached: l4lb's frontend).
via "2 l4lb send-proxy -> haproxy accept-proxy" "$LB_TO_HA_V1" "$W/haproxy.log" '^ha_accept ha_accept_v1 client=' \
  " frontend=127\\.0\\.0\\.1:$LB_TO_HA_V1$"
via "2 l4lb send-proxy-v2 -> haproxy accept-proxy" "$LB_TO_HA_V2" "$W/haproxy.log" '^ha_accept ha_accept_v2 client=' \
  " frontend=127\\.0\\.0\\.1:$LB_TO_HA_V2$"

# 3. l4lb -> nginx listen proxy_protocol (its access log; server= is the header's destination:
# l4lb's frontend).
via "3 l4lb send-proxy -> nginx listen proxy_protocol" "$LB_TO_NG_V1" "$W/nginx.access.log" "^nginx $NG_V1 client=" \
  " server=127\\.0\\.0\\.1:$LB_TO_NG_V1 "
via "3 l4lb send-proxy-v2 -> nginx listen proxy_protocol" "$LB_TO_NG_V2" "$W/nginx.access.log" "^nginx $NG_V2 client=" \
  " server=127\\.0\\.0\\.1:$LB_TO_NG_V2 "

# 4. garbage to l4lb's accept-proxy bind, a good client on the same bind in parallel: it sends
# its header first, the garbage goes in, then it sends its data and must get it back. The same
# garbage to HAProxy's accept-proxy bind must be closed too (else this script is wrong).
garbage() { # NAME HEX
  local name=$1 hex=$2 before good out ha me line refused="" i
  before=$(grep -c 'PROXY header refused' "$W/l4lb.log" || true)
  coproc GOOD { python3 "$HELP" chain "$SRC" "$LB_ACCEPT_V1" 2>>"$W/clients.log"; }
  good=$GOOD_PID
  read -r -t 10 line <&"${GOOD[0]}" || line=""
  out=$(python3 "$HELP" garbage "$LB_ACCEPT_V1" "$hex" 2>&1 || true)
  echo go >&"${GOOD[1]}"
  read -r -t 10 me <&"${GOOD[0]}" || me=""
  wait "$good" 2>/dev/null || true
  ha=$(python3 "$HELP" garbage "$HA_ACCEPT_V1" "$hex" 2>&1 || true)
  for ((i = 0; i < 100; i++)); do
    refused=$(grep "PROXY header refused" "$W/l4lb.log" | sed -n "$((before + 1))p" || true)
    [ -n "$refused" ] && break
    sleep 0.1
  done
  if [ "$ha" != closed ]; then
    result FAIL "4 $name: (script) haproxy does not refuse it" "haproxy: $ha"
  elif [ "$line" != "header sent" ] || [ -z "$me" ]; then
    result FAIL "4 $name: good client in parallel" "not served (garbage peer: $out)"
  elif ! await "$W/pp.log" "^v1 ${me//./\\.} " >/dev/null; then
    result FAIL "4 $name: good client in parallel" "served, but $me not in the server's header"
  elif [ "$out" != closed ]; then
    result FAIL "4 $name: refused" "garbage peer: $out"
  elif [ -z "$refused" ]; then
    result FAIL "4 $name: refused" "closed, but no 'PROXY header refused' in l4lb's log"
  else
    result PASS "4 $name: refused, good client $me served" "l4lb: ${refused#*] }"
  fi
}
hex() { printf '%b' "$1" | od -An -tx1 | tr -d ' \n'; }
SIG2=0d0a0d0a000d0a515549540a
garbage "HTTP request" "$(hex 'GET / HTTP/1.0\r\n\r\n')"
garbage "v2 signature, version 3" "${SIG2}31110000"
garbage "v2 TCP4, wrong CRC32C" "${SIG2}211100137f00004d7f0000013039005003000400000000"
garbage "v1 TCP6 with IPv4 addresses" "$(hex 'PROXY TCP6 127.0.0.77 127.0.0.1 1 2\r\n')"

# 5. HAProxy's default TCP log (no log-format: "Connect from SRC to DST (proxy/TCP)", sent at
# accept) on an accept-proxy bind, a client's header (127.0.0.77:port -> 127.0.0.1:4242) to
# HAProxy's and to l4lb's: both show the header's two addresses.
connect_line() { # PROXY_NAME PORT LOG
  local me
  me=$(echo go | python3 "$HELP" chain "$SRC" "$2" 2>>"$W/clients.log" | tail -1 || true)
  await "$3" "Connect from .* \\($1/TCP\\)" >/dev/null || { echo "(no line; client $me)"; return; }
  grep -m1 -o "Connect from .* ($1/TCP)" "$3" | sed "s|$1|PROXY|; s|${me//./\\.}|CLIENT|" || true
}
ha_line=$(connect_line ha_accept_default "$HA_ACCEPT_DEF" "$W/haproxy.log")
lb_line=$(connect_line lb_accept_default "$LB_ACCEPT_DEF" "$W/l4lb.log")
if [ "$ha_line" = "$lb_line" ] && [[ $ha_line == "Connect from CLIENT to 127.0.0.1:4242 (PROXY/TCP)" ]]; then
  result PASS "5 default log on accept-proxy: the header's addresses" "haproxy = l4lb: $ha_line"
else
  result FAIL "5 default log on accept-proxy: the header's addresses" "haproxy: $ha_line | l4lb: $lb_line"
fi

# 6. expect-proxy layer4 from a trusted source only.
via "6 haproxy send-proxy-v2 -> l4lb expect-proxy layer4 if src" "$HA_SEND_EXPECT" "$W/pp.log" '^v2 ' \
  " -> 127\\.0\\.0\\.1:$HA_SEND_EXPECT "
via "6 untrusted client -> l4lb (no header expected), send-proxy-v2" "$LB_EXPECT" "$W/pp.log" '^v2 ' \
  " -> 127\\.0\\.0\\.1:$LB_EXPECT "

# Near misses, not judged: each to both accept-proxy binds, side by side. "echoed": taken as a
# header (the probe after it came back through to the echo); "closed": refused.
printf '\n== near-miss headers, not judged: haproxy accept-proxy | l4lb accept-proxy\n'
near() { # NAME HEX
  local ha lb
  ha=$(python3 "$HELP" garbage "$HA_ACCEPT_V1" "$2" 2>&1 || true)
  lb=$(python3 "$HELP" garbage "$LB_ACCEPT_V1" "$2" 2>&1 || true)
  printf '%-44s haproxy: %-22s l4lb: %-22s %s\n' "$1" "$ha" "$lb" "$([ "$ha" = "$lb" ] && echo same || echo DIFFERENT)"
}
near "v1 UNKNOWN" "$(hex 'PROXY UNKNOWN\r\n')"
near "v1 source port 99999" "$(hex 'PROXY TCP4 127.0.0.77 127.0.0.1 99999 80\r\n')"
near "v1 TCP4, two spaces" "$(hex 'PROXY TCP4  127.0.0.77 127.0.0.1 1 2\r\n')"
near "v1 TCP4, address 127.0.0.077" "$(hex 'PROXY TCP4 127.0.0.077 127.0.0.1 1 2\r\n')"
near "v1 TCP4, port 01" "$(hex 'PROXY TCP4 127.0.0.77 127.0.0.1 01 2\r\n')"
near "v1 TCP4, LF without CR" "$(hex 'PROXY TCP4 127.0.0.77 127.0.0.1 1 2\n')"
near "v2 LOCAL, no addresses" "${SIG2}20000000"
near "v2 PROXY UNSPEC, no addresses" "${SIG2}21000000"
near "v2 PROXY UNIX stream (216 zero bytes)" "${SIG2}213100d8$(printf '0%.0s' {1..432})"
near "v2 TCP4 with a NOOP TLV" "${SIG2}2111000f7f00004d7f00000130390050040000"
near "v2 PROXY UDP4" "${SIG2}2112000c7f00004d7f00000130390050"
near "v2 TCP4, length 8 (short for TCP4)" "${SIG2}211100087f00004d7f000001"
near "v2 TCP4, CRC32C TLV of length 3" "${SIG2}211100127f00004d7f00000130390050030003000000"
near "v2 TCP4, trailing half TLV" "${SIG2}2111000e7f00004d7f000001303900500400"

printf '\n== logs\n'
printf -- '-- the PROXY-reading server (headers from l4lb; 127.0.0.1 ones: near misses l4lb took):\n'; cat "$W/pp.log"
printf -- '-- haproxy (after the two case-2 lines: the near misses it took):\n'; grep '^ha_accept' "$W/haproxy.log" || true
printf -- '-- nginx access log:\n'; cat "$W/nginx.access.log"
printf -- '-- l4lb (its log-format lines for case 1, its PROXY lines):\n'
grep -E '^lb_accept lb_accept_v[12] client=127\.0\.0\.77|PROXY' "$W/l4lb.log" || true
printf '\n== summary\n'
printf '%s\n' "${RESULTS[@]}"
if [ "$FAILS" -gt 0 ]; then
  echo "proxy_interop: $FAILS case(s) FAIL"
  exit 1
fi
echo "proxy_interop: every case PASS"
