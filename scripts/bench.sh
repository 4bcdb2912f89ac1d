#!/usr/bin/env bash
# bench.sh: l4lb side by side with HAProxy (mode tcp) and nginx stream on loopback; one table out.
# Follows shared/bench/peers.sh. Backends: three nginx HTTP servers (127.0.0.1:19001-19003) and an
# iperf3 server (19101). Each balancer: leastconn over the three on 180xx, and to iperf3 on 181xx:
#   direct 19001/19101, haproxy 18001/18101, nginx 18002/18102, l4lb 18003/18103, variants 18004+/18104+.
# Tests, ROUNDS times: wrk keep-alive, wrk "Connection: close", iperf3 -P 2; the table shows medians.
# Usage: scripts/bench.sh    (as root: installs haproxy, nginx, wrk, iperf3 with apt-get if missing)
# Env: DUR=seconds per run (10)  C=wrk connections (64)  T=wrk threads (1)  ROUNDS (2)
#      VARIANTS="copy splice pin nopin": extra l4lb columns with, in order, `no option splice-auto`,
#        `option splice-auto`, `cpu-affinity on`, `cpu-affinity off`.
#      L4LB=path: benchmark that l4lb binary instead of building target/release/l4lb.
#      PORT_OFFSET=N: add N to every port above, to run beside something that holds them.
# Exit 1 if a balancer did not start or a run gave no number (the table is printed anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

DUR=${DUR:-10}
C=${C:-64}
T=${T:-1}
ROUNDS=${ROUNDS:-2}
VARIANTS=${VARIANTS:-}
NCPU=$(nproc)
OFF=${PORT_OFFSET:-0}
# Ports: backends B1-B3 (HTTP) and IP (iperf3); each balancer NAME for wrk, NAMEI for iperf3.
B1=$((19001 + OFF)) B2=$((19002 + OFF)) B3=$((19003 + OFF)) IP=$((19101 + OFF))
HAP=$((18001 + OFF)) HAPI=$((18101 + OFF)) NGX=$((18002 + OFF)) NGXI=$((18102 + OFF))
W=$(mktemp -d)
PIDS=()
FAILED=0

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Stops every process we started: SIGTERM, up to 5 s for all to exit, then SIGKILL.
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
cleanup() {
  stop_pids
  rm -rf "$W"
}
trap cleanup EXIT

for v in $VARIANTS; do
  case $v in copy | splice | pin | nopin) ;; *) die "unknown variant '$v' (known: copy splice pin nopin)" ;; esac
done

# ---- tools ----
need haproxy haproxy
need nginx nginx
need wrk wrk
need iperf3 iperf3
need ss iproute2
STREAM_SO=/usr/lib/nginx/modules/ngx_stream_module.so
[ -e "$STREAM_SO" ] || apt_install libnginx-mod-stream

if [ -z "${L4LB:-}" ]; then
  echo "building l4lb (cargo build --release)"
  cargo build --release --quiet --bin l4lb
  L4LB=${CARGO_TARGET_DIR:-target}/release/l4lb
fi

# ---- machine ----
echo "== machine"
echo "cpus:    $NCPU x $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
echo "kernel:  $(uname -sr)"
echo "haproxy: $(haproxy -v | head -n 1)"
echo "nginx:   $(nginx -v 2>&1)"
echo "iperf3:  $(iperf3 --version | head -n 1)"
echo "l4lb:    $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
echo "runs:    DUR=${DUR}s C=$C T=$T ROUNDS=$ROUNDS VARIANTS='$VARIANTS'; loopback only"

# ---- ports ----
# Names and ports of the columns, in order: NAME:WRKPORT:IPERFPORT.
COLS=("direct:$B1:$IP" "haproxy:$HAP:$HAPI" "nginx:$NGX:$NGXI" "l4lb:$((18003 + OFF)):$((18103 + OFF))")
k=0
for v in $VARIANTS; do k=$((k + 1)); COLS+=("l4lb-$v:$((18003 + k + OFF)):$((18103 + k + OFF))"); done
for port in $B2 $B3 $(for c in "${COLS[@]}"; do IFS=: read -r _ a b <<<"$c"; echo "$a $b"; done); do
  ! listening "$port" || die "127.0.0.1:$port is already in use (another bench running? try PORT_OFFSET=500)"
done

# Starts NAME (logging to $W/NAME.log) and waits up to 10 s for it to listen on PORTS.
start() {
  local name=$1 ports=$2 port
  shift 2
  "$@" >"$W/$name.log" 2>&1 &
  PIDS+=($!)
  for port in $ports; do
    wait_listening "$port" "${PIDS[-1]}" && continue
    echo "bench: $name did not come up on 127.0.0.1:$port; its log:" >&2
    sed 's/^/  | /' "$W/$name.log" | tail -n 20 >&2
    return 1
  done
}

# ---- backends ----
cat >"$W/be.conf" <<NG
worker_processes 1; daemon off; pid $W/be.pid; error_log $W/be.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$B1 reuseport backlog=4096; location / { return 200 "hello-0123456789\n"; } }
  server { listen 127.0.0.1:$B2 reuseport backlog=4096; location / { return 200 "hello-0123456789\n"; } }
  server { listen 127.0.0.1:$B3 reuseport backlog=4096; location / { return 200 "hello-0123456789\n"; } } }
NG
start backends "$B1 $B2 $B3" nginx -c "$W/be.conf" -p "$W" || die "backends failed"
start iperf3-server "$IP" iperf3 -s -B 127.0.0.1 -p "$IP" || die "iperf3 server failed"

# ---- balancers ----
cat >"$W/haproxy.cfg" <<HA
global
  nbthread $NCPU
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 50s
  timeout server 50s
frontend f
  bind 127.0.0.1:$HAP
  default_backend b
backend b
  balance leastconn
  server s1 127.0.0.1:$B1 check inter 2s
  server s2 127.0.0.1:$B2 check inter 2s
  server s3 127.0.0.1:$B3 check inter 2s
frontend fi
  bind 127.0.0.1:$HAPI
  default_backend bi
backend bi
  server i1 127.0.0.1:$IP
HA
start haproxy "$HAP $HAPI" haproxy -f "$W/haproxy.cfg" -db -q || die "haproxy failed"

cat >"$W/nginx-stream.conf" <<NG
worker_processes $NCPU; daemon off; pid $W/ngs.pid; error_log $W/ngs.err;
load_module $STREAM_SO;
events { worker_connections 20000; }
stream {
  upstream b { least_conn; server 127.0.0.1:$B1; server 127.0.0.1:$B2; server 127.0.0.1:$B3; }
  upstream bi { server 127.0.0.1:$IP; }
  server { listen 127.0.0.1:$NGX reuseport; proxy_pass b; }
  server { listen 127.0.0.1:$NGXI reuseport; proxy_pass bi; }
}
NG
start nginx "$NGX $NGXI" nginx -c "$W/nginx-stream.conf" -p "$W" || die "nginx stream failed"

MAXCONN=9000
echo "l4lb conf: nbthread $NCPU, maxconn $MAXCONN (fd hard limit $(ulimit -Hn))"

# l4lb conf: the HAProxy settings above; $3 and $4 are extra global and defaults lines.
l4lb_conf() {
  cat <<L4
global
  nbthread $NCPU
  maxconn $MAXCONN
$3
defaults
  mode tcp
  timeout connect 5s
  timeout client 50s
  timeout server 50s
$4
frontend f
  bind 127.0.0.1:$1
  default_backend b
backend b
  balance leastconn
  server s1 127.0.0.1:$B1
  server s2 127.0.0.1:$B2
  server s3 127.0.0.1:$B3
frontend fi
  bind 127.0.0.1:$2
  default_backend bi
backend bi
  server i1 127.0.0.1:$IP
L4
}

UP=()
for c in "${COLS[@]}"; do
  IFS=: read -r name port iport <<<"$c"
  case $name in
    direct | haproxy | nginx) UP+=("$c"); continue ;;
    l4lb) g="" d="" ;;
    l4lb-copy) g="" d="  no option splice-auto" ;;
    l4lb-splice) g="" d="  option splice-auto" ;;
    l4lb-pin) g="  cpu-affinity on" d="" ;;
    l4lb-nopin) g="  cpu-affinity off" d="" ;;
  esac
  l4lb_conf "$port" "$iport" "$g" "$d" >"$W/$name.conf"
  if start "$name" "$port $iport" "$L4LB" -f "$W/$name.conf" --log-level warn; then
    UP+=("$c")
  else
    echo "bench: $name left out: its column will show '-'" >&2
    FAILED=1
  fi
done

# ---- runs ----
# Each run appends "TEST COLUMN ROUND VALUE P99MS ERRORS" to $W/results ("-" for no number).
# wrk prints latencies as 850.00us, 1.25ms, 1.02s or 2.00m.
to_ms() {
  awk '{ v = $1 + 0; u = $1; sub(/^[0-9.]+/, "", u)
    printf "%.2f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v }' <<<"$1"
}

run_wrk() { # TEST NAME PORT ROUND
  local extra=() out rps p99 errs
  [ "$1" = close ] && extra=(-H "Connection: close")
  out=$(timeout $((DUR + 30)) wrk -t"$T" -c"$C" -d"${DUR}s" --latency "${extra[@]}" "http://127.0.0.1:$3/" 2>&1) || true
  rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  errs=$(awk '/Socket errors:/ { gsub(",", ""); s += $4 + $6 + $8 + $10 } /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
  if [ -z "$rps" ] || [ -z "$p99" ]; then
    printf 'round %s  %-9s %-12s no result: %s\n' "$4" "$1" "$2" "$(tail -n 1 <<<"$out")"
    echo "$1 $2 $4 - - -" >>"$W/results"
    FAILED=1
    return
  fi
  p99=$(to_ms "$p99")
  printf 'round %s  %-9s %-12s rps=%-8s p99=%sms errors=%s\n' "$4" "$1" "$2" "$rps" "$p99" "$errs"
  echo "$1 $2 $4 $rps $p99 $errs" >>"$W/results"
}

run_iperf() { # NAME PORT ROUND
  local out gbps
  out=$(timeout $((DUR + 30)) iperf3 -c 127.0.0.1 -p "$2" -t "$DUR" -P 2 -f g 2>&1) || true
  gbps=$(awk '/SUM/ && /receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Gbits/sec") print $i }' <<<"$out")
  if [ -z "$gbps" ]; then
    printf 'round %s  %-9s %-12s no result: %s\n' "$3" iperf3 "$1" "$(tail -n 1 <<<"$out")"
    echo "iperf3 $1 $3 - - -" >>"$W/results"
    FAILED=1
    return
  fi
  printf 'round %s  %-9s %-12s gbps=%s\n' "$3" iperf3 "$1" "$gbps"
  echo "iperf3 $1 $3 $gbps - -" >>"$W/results"
}

echo
echo "== raw runs (${DUR}s each)"
: >"$W/results"
for ((round = 1; round <= ROUNDS; round++)); do
  for c in "${UP[@]}"; do IFS=: read -r name port _ <<<"$c"; run_wrk keepalive "$name" "$port" "$round"; done
  for c in "${UP[@]}"; do IFS=: read -r name port _ <<<"$c"; run_wrk close "$name" "$port" "$round"; done
  for c in "${UP[@]}"; do IFS=: read -r name _ iport <<<"$c"; run_iperf "$name" "$iport" "$round"; done
done

# ---- table ----
echo
echo "== median of $ROUNDS round(s); wrk -t$T -c$C keep-alive and Connection: close; iperf3 -P 2; ${DUR}s each"
names=$(for c in "${COLS[@]}"; do echo "${c%%:*}"; done | tr '\n' ' ')
awk -v cols="$names" '
function median(key,   n, i, j, t, v) {
  n = split(vals[key], v, " ")
  if (n == 0) return "-"
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function ratio(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
function fmt(x, kind) { return x == "-" ? "-" : kind == "rps" ? sprintf("%d", x) : sprintf("%.2f", x) }
{
  if ($4 != "-") { vals[$1 " " $2 " v"] = vals[$1 " " $2 " v"] " " $4 }
  if ($5 != "-") { vals[$1 " " $2 " p"] = vals[$1 " " $2 " p"] " " $5 }
  if ($6 != "-") { errs[$1 " " $2] += $6; seen[$1 " " $2] = 1 }
}
END {
  nc = split(cols, c, " ")
  printf "%-16s", "test"
  for (i = 1; i <= nc; i++) printf "%12s", c[i]
  printf "%13s%13s%13s", "l4lb/haproxy", "l4lb/nginx", "l4lb/direct"
  for (i = 5; i <= nc; i++) printf "%13s", substr(c[i], 6) "/l4lb"
  print ""
  nr = split("keepalive v rps|keepalive p p99|close v rps|close p p99|iperf3 v gbps", rows, "|")
  split("keepalive rps|  p99 ms|close rps|  p99 ms|iperf3 Gbps", label, "|")
  for (r = 1; r <= nr; r++) {
    split(rows[r], f, " ")
    printf "%-16s", label[r]
    for (i = 1; i <= nc; i++) { m[i] = median(f[1] " " c[i] " " f[2]); printf "%12s", fmt(m[i], f[3]) }
    printf "%13s%13s%13s", ratio(m[4], m[2]), ratio(m[4], m[3]), ratio(m[4], m[1])
    for (i = 5; i <= nc; i++) printf "%13s", ratio(m[i], m[4])
    print ""
  }
  for (t = 1; t <= 2; t++) {
    test = t == 1 ? "keepalive" : "close"
    printf "%-16s", test " errors"
    for (i = 1; i <= nc; i++) printf "%12s", (test " " c[i]) in seen ? errs[test " " c[i]] : "-"
    print ""
  }
  print "(rps and Gbps: higher is better; p99 in ms: lower is better; errors: wrk socket errors + non-2xx, all rounds)"
}' "$W/results"

exit "$FAILED"
