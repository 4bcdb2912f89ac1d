#!/usr/bin/env bash
# stats_page.sh: renders l4lb's HAProxy-style stats page to a PNG, to look at it.
#
# Installs Debian's chromium if it is missing (apt-get), builds l4lb, starts four loopback
# test servers and l4lb with a stats page (two backends: servers UP, DOWN, DRAIN, MAINT, a
# backup), sends some traffic, then renders http://127.0.0.1:PORT/stats headless.
#
#   scripts/stats_page.sh [OUT.png]     (default: docs/stats-page.png)
#
# Uses 127.0.0.1 ports 28080, 28081, 28404 and 29001-29004.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-docs/stats-page.png}
BIN=${CARGO_TARGET_DIR:-target}/debug
W=$(mktemp -d)
PIDS=()
SOCK=$W/api.sock

die() { printf 'stats_page: FAILED: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
cleanup() { stop_pids; rm -rf "$W"; }
trap cleanup EXIT

need chromium chromium
for port in 28080 28081 28404 29001 29002 29003 29004; do
  ! listening "$port" || die "port $port is in use"
done

echo "building l4lb and l4lb-testkit"
cargo build --quiet --bins

cat >"$W/l4lb.conf" <<EOF
global
    stats socket $SOCK level admin
defaults
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen web
    bind 127.0.0.1:28080
    balance roundrobin
    server web1 127.0.0.1:29001 check inter 300ms
    server web2 127.0.0.1:29002 check inter 300ms
    server web3 127.0.0.1:29003 check inter 300ms
    server web4 127.0.0.1:29009 check inter 300ms
    server spare 127.0.0.1:29004 check inter 300ms backup
frontend db
    bind 127.0.0.1:28081
    default_backend db_pool
backend db_pool
    balance leastconn
    server pg1 127.0.0.1:29003 maxconn 50
    server pg2 127.0.0.1:29004 maxconn 50
listen stats
    mode http
    bind 127.0.0.1:28404
    stats enable
    stats uri /stats
    stats refresh 10s
    stats show-legends
    stats show-node
    stats show-desc Staging edge balancer
    stats admin if LOCALHOST
    monitor-uri /healthz
    http-request use-service prometheus-exporter if { path /metrics }
EOF

"$BIN/l4lb-testkit" serve web1=127.0.0.1:29001 web2=127.0.0.1:29002 web3=127.0.0.1:29003 \
  spare=127.0.0.1:29004 >"$W/servers.log" 2>&1 &
PIDS+=($!)
"$BIN/l4lb" -f "$W/l4lb.conf" >"$W/l4lb.log" 2>&1 &
PIDS+=($!)
wait_listening 28404 "${PIDS[1]}" || { cat "$W/l4lb.log" >&2; die "l4lb did not start"; }
wait_listening 29004 "${PIDS[0]}" || die "test servers did not start"

api() { "$BIN/l4lb" ctl -s "$SOCK" "$@" >/dev/null; }
api set server web/web2 state drain
api set server db_pool/pg2 state maint
echo "sending traffic"
"$BIN/l4lb-testkit" clients 127.0.0.1:28080 300 8 >/dev/null 2>&1 || true
"$BIN/l4lb-testkit" clients 127.0.0.1:28081 120 4 >/dev/null 2>&1 || true
sleep 1.5 # one rate tick, and web4's checks to fail

mkdir -p "$(dirname "$OUT")"
echo "rendering http://127.0.0.1:28404/stats to $OUT"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot="$OUT" --window-size=1400,900 "http://127.0.0.1:28404/stats;norefresh" \
  >"$W/chromium.log" 2>&1 || { cat "$W/chromium.log" >&2; die "chromium failed"; }
[ -s "$OUT" ] || die "no PNG written"
ls -l "$OUT"
