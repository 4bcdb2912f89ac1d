#!/usr/bin/env bash
# bench.sh: l4lb side by side with HAProxy (mode tcp) and nginx stream on loopback; one table out.
# Follows shared/bench/peers.sh. Backends: three nginx HTTP servers (127.0.0.1:19001-19003) and an
# iperf3 server (19101). Each balancer: leastconn over the three on 180xx, and to iperf3 on 181xx:
#   direct 19001/19101, haproxy 18001/18101, nginx 18002/18102, l4lb 18003/18103, variants 18004+/18104+.
# Tests, ROUNDS times: wrk keep-alive, wrk "Connection: close", iperf3 -P 2 and -P 1; the table shows medians
# of throughput, wrk's p99 and each balancer's CPU cost (user+sys per request, per GB moved).
# Test "rules": the cost of routing rules per connection (wrk "Connection: close"), plain against rules
# for each proxy, the two back to back in every round: haproxy-rules 18201, nginx-allow 18202 and
# l4lb-rules 18203 run `acl allowed src -f LIST` (NETS networks, 127.0.0.1 in the one before last),
# `tcp-request connection reject unless allowed` and RULES `use_backend beN if { dst_port X }` (only
# the last matches; every beN is leastconn over the three); nginx-allow has NETS `allow` lines and
# `deny all` (nginx stream has no use_backend). Confs: scripts/bench_rules/rules.sh. Its own table
# shows medians and the ratio rules/plain of CPU time per connection.
# Usage: scripts/bench.sh    (as root: installs haproxy, nginx, wrk, iperf3 with apt-get if missing)
# Env: DUR=seconds per run (10)  C=wrk connections (64)  T=wrk threads (1)  ROUNDS (2)
#      TESTS="keepalive close iperf3 iperf1 rules" (all by default): the tests to run, e.g. TESTS=rules.
#      NETS=allowlist size (10000)  RULES=use_backend rules (20): for the rules test.
#      VARIANTS="copy splice pin nopin": extra l4lb columns with, in order, `no option splice-auto`,
#        `option splice-auto`, `cpu-affinity on`, `cpu-affinity off`.
#      L4LB=path: benchmark that l4lb binary instead of building target/release/l4lb.
#      BASELINE=<git rev>: also benchmark l4lb built at that rev (cached in target/bench-rev/<sha>/),
#        as column l4lb@<rev>, run next to l4lb in every test of every round.
#      PORT_OFFSET=N: add N to every port above, to run beside something that holds them.
# Exit 1 if a balancer did not start, a rules column failed its check (200 from 127.0.0.1, nothing
# from 127.0.0.9) or a run gave no number (the tables are printed anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck source=scripts/bench_rules/rules.sh
. scripts/bench_rules/rules.sh

DUR=${DUR:-10}
C=${C:-64}
T=${T:-1}
ROUNDS=${ROUNDS:-2}
VARIANTS=${VARIANTS:-}
TESTS=${TESTS:-keepalive close iperf3 iperf1 rules}
NETS=${NETS:-10000}
RULES=${RULES:-20}
MAXCONN=9000
NCPU=$(nproc)
HZ=$(getconf CLK_TCK)
OFF=${PORT_OFFSET:-0}
# Ports: backends B1-B3 (HTTP) and IP (iperf3); each balancer NAME for wrk, NAMEI for iperf3.
B1=$((19001 + OFF)) B2=$((19002 + OFF)) B3=$((19003 + OFF)) IP=$((19101 + OFF))
HAP=$((18001 + OFF)) HAPI=$((18101 + OFF)) NGX=$((18002 + OFF)) NGXI=$((18102 + OFF))
# The rules test's columns (wrk only) and the plain column each is compared with.
RCOLS=("haproxy-rules:$((18201 + OFF)):haproxy" "nginx-allow:$((18202 + OFF)):nginx" "l4lb-rules:$((18203 + OFF)):l4lb")
W=$(mktemp -d)
PIDS=()
declare -A ROOT # column name -> the pid we started for it (nginx: its master)
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
for t in $TESTS; do
  case $t in keepalive | close | iperf3 | iperf1 | rules) ;; *) die "unknown test '$t' (known: keepalive close iperf3 iperf1 rules)" ;; esac
done
# has TEST: is TEST in $TESTS?
has() { [[ " $TESTS " = *" $1 "* ]]; }
if ! [[ $NETS =~ ^[0-9]+$ ]] || [ "$NETS" -lt 2 ]; then die "NETS=$NETS: want a number of networks, 2 or more"; fi
if ! [[ $RULES =~ ^[0-9]+$ ]] || [ "$RULES" -lt 1 ]; then die "RULES=$RULES: want a number of rules, 1 or more"; fi

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

# Builds l4lb at commit $1 once, into target/bench-rev/$1/ (its source from git archive, its own
# CARGO_TARGET_DIR), and sets BASE_L4LB; a rerun with the same rev finds the binary and skips this.
build_rev() {
  local dir=${CARGO_TARGET_DIR:-target}/bench-rev/$1
  [[ $dir = /* ]] || dir=$PWD/$dir
  BASE_L4LB=$dir/target/release/l4lb
  [ -x "$BASE_L4LB" ] && return 0
  echo "building l4lb at ${1:0:7} in $dir (cargo build --release)"
  rm -rf "$dir/src"
  mkdir -p "$dir/src"
  git archive "$1" | tar -x -C "$dir/src"
  CARGO_TARGET_DIR=$dir/target cargo build --release --quiet --bin l4lb --manifest-path "$dir/src/Cargo.toml"
}

BASE_NAME=""
if [ -n "${BASELINE:-}" ]; then
  BASE_SHA=$(git rev-parse --verify --quiet "$BASELINE^{commit}") || die "BASELINE=$BASELINE is not a commit"
  BASE_NAME=l4lb@$(git rev-parse --short=7 "$BASE_SHA")
  build_rev "$BASE_SHA"
fi

# ---- machine ----
echo "== machine"
echo "cpus:    $NCPU x $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
echo "kernel:  $(uname -sr)"
echo "haproxy: $(haproxy -v | head -n 1)"
echo "nginx:   $(nginx -v 2>&1)"
echo "iperf3:  $(iperf3 --version | head -n 1)"
echo "l4lb:    $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
[ -z "$BASE_NAME" ] || echo "$BASE_NAME: $(git log -1 --format='%h %s' "$BASE_SHA" | cut -c 1-80)"
echo "runs:    DUR=${DUR}s C=$C T=$T ROUNDS=$ROUNDS VARIANTS='$VARIANTS' BASELINE='${BASELINE:-}'; loopback only"
echo "tests:   $TESTS$(has rules && echo " (rules: NETS=$NETS RULES=$RULES)")"
echo "load:    $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min, before the runs)"
echo "cpu:     balancer user+sys from /proc/PID/stat, CLK_TCK=$HZ"

# ---- ports ----
# Names and ports of the columns, in order: NAME:WRKPORT:IPERFPORT.
COLS=("direct:$B1:$IP" "haproxy:$HAP:$HAPI" "nginx:$NGX:$NGXI" "l4lb:$((18003 + OFF)):$((18103 + OFF))")
k=0
for v in $VARIANTS; do k=$((k + 1)); COLS+=("l4lb-$v:$((18003 + k + OFF)):$((18103 + k + OFF))"); done
# The baseline's column sits next to l4lb's (so their runs are neighbours); its ports follow the variants'.
if [ -n "$BASE_NAME" ]; then
  k=$((k + 1))
  COLS=("${COLS[@]:0:4}" "$BASE_NAME:$((18003 + k + OFF)):$((18103 + k + OFF))" "${COLS[@]:4}")
fi
for port in $B2 $B3 $(for c in "${COLS[@]}"; do IFS=: read -r _ a b <<<"$c"; echo "$a $b"; done) \
  $(has rules && for c in "${RCOLS[@]}"; do IFS=: read -r _ a _ <<<"$c"; echo "$a"; done); do
  ! listening "$port" || die "127.0.0.1:$port is already in use (another bench running? try PORT_OFFSET=500)"
done

# Starts NAME (logging to $W/NAME.log) and waits up to 10 s for it to listen on PORTS.
start() {
  local name=$1 ports=$2 port
  shift 2
  "$@" >"$W/$name.log" 2>&1 &
  PIDS+=($!)
  ROOT[$name]=$!
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
  bin=$L4LB
  case $name in
    direct | haproxy | nginx) UP+=("$c"); continue ;;
    l4lb) g="" d="" ;;
    l4lb@*) g="" d="" bin=$BASE_L4LB ;;
    l4lb-copy) g="" d="  no option splice-auto" ;;
    l4lb-splice) g="" d="  option splice-auto" ;;
    l4lb-pin) g="  cpu-affinity on" d="" ;;
    l4lb-nopin) g="  cpu-affinity off" d="" ;;
  esac
  l4lb_conf "$port" "$iport" "$g" "$d" >"$W/$name.conf"
  if start "$name" "$port $iport" "$bin" -f "$W/$name.conf" --log-level warn; then
    UP+=("$c")
  else
    echo "bench: $name left out: its column will show '-'" >&2
    FAILED=1
  fi
done

# rules_conf PORT CHECK: the rules test's HAProxy and l4lb conf: the plain one's global and
# defaults, backend b as there (CHECK after each server: HAProxy's health checks), then
# rules_sections' frontend and RULES backends, which have no checks, as l4lb's have none.
rules_conf() {
  cat <<RC
global
  nbthread $NCPU
  maxconn $MAXCONN
defaults
  mode tcp
  timeout connect 5s
  timeout client 50s
  timeout server 50s
backend b
  balance leastconn
  server s1 127.0.0.1:$B1$2
  server s2 127.0.0.1:$B2$2
  server s3 127.0.0.1:$B3$2
RC
  rules_sections "$1" "$W/allow.lst" "$RULES" "127.0.0.1:$B1" "127.0.0.1:$B2" "127.0.0.1:$B3"
}

# The rules test's columns; RUP[NAME] is the port of each that came up and passed rules_check.
declare -A RUP
start_rules() {
  local c name port plain
  rules_allowlist "$NETS" >"$W/allow.lst"
  rules_nginx_allow "$W/allow.lst" >"$W/allow.nginx"
  for c in "${RCOLS[@]}"; do
    IFS=: read -r name port plain <<<"$c"
    case $name in
      haproxy-rules)
        rules_conf "$port" " check inter 2s" >"$W/$name.cfg"
        set -- haproxy -f "$W/$name.cfg" -db -q
        ;;
      nginx-allow)
        nginx_allow_conf "$port" >"$W/$name.conf"
        set -- nginx -c "$W/$name.conf" -p "$W"
        ;;
      l4lb-rules)
        rules_conf "$port" "" >"$W/$name.conf"
        set -- "$L4LB" -f "$W/$name.conf" --log-level warn
        ;;
    esac
    if start "$name" "$port" "$@" && rules_check "$port"; then
      RUP[$name]=$port
    else
      echo "bench: $name left out: the rules table shows '-' for it" >&2
      FAILED=1
    fi
  done
}

# nginx_allow_conf PORT: nginx stream as the plain one (one server, on PORT), with the allowlist
# as `allow` lines and `deny all`.
nginx_allow_conf() {
  cat <<NG
worker_processes $NCPU; daemon off; pid $W/nga.pid; error_log $W/nga.err;
load_module $STREAM_SO;
events { worker_connections 20000; }
stream {
  upstream b { least_conn; server 127.0.0.1:$B1; server 127.0.0.1:$B2; server 127.0.0.1:$B3; }
  server { listen 127.0.0.1:$1 reuseport; include $W/allow.nginx; deny all; proxy_pass b; }
}
NG
}

if has rules; then
  start_rules
  echo "rules:   $(wc -l <"$W/allow.lst") networks, $RULES use_backend rules; up and refusing 127.0.0.9:" \
    "$(for c in "${RCOLS[@]}"; do [ -z "${RUP[${c%%:*}]:-}" ] || printf '%s ' "${c%%:*}"; done)"
fi

# ---- runs ----
# Each run appends "TEST COLUMN ROUND VALUE P99MS ERRORS CPU" to $W/results ("-" for no number);
# CPU is the balancer's user+sys time per request (µs) for wrk, per GB moved (ms) for iperf3.
# wrk prints latencies as 850.00us, 1.25ms, 1.02s or 2.00m.
to_ms() {
  awk '{ v = $1 + 0; u = $1; sub(/^[0-9.]+/, "", u)
    printf "%.2f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v }' <<<"$1"
}

# cpu_mark NAME: the clock ticks column NAME's balancer has used so far, or "-" (direct has none).
cpu_mark() {
  local t=""
  [ -n "${ROOT[$1]:-}" ] && t=$(cpu_ticks "${ROOT[$1]}")
  echo "${t:--}"
}
# cpu_after NAME: cpu_mark once the balancer has closed what the run left (wrk and iperf3 exit
# without waiting for it); an idle balancer uses no CPU, so the pause adds nothing else.
cpu_after() {
  [ -n "${ROOT[$1]:-}" ] && sleep 0.2
  cpu_mark "$1"
}
# cost BEFORE AFTER SCALE N: the ticks from BEFORE to AFTER, in seconds times SCALE, over N.
cost() {
  awk -v b="$1" -v a="$2" -v s="$3" -v n="$4" -v hz="$HZ" 'BEGIN {
    if (b == "-" || a == "-" || n + 0 <= 0) print "-"; else printf "%.3f\n", (a - b) / hz * s / n }'
}

run_wrk() { # TEST NAME PORT ROUND
  local extra=() out rps p99 errs reqs c0 c1 cpu
  [ "$1" = close ] || [ "$1" = rules ] && extra=(-H "Connection: close")
  c0=$(cpu_mark "$2")
  out=$(timeout $((DUR + 30)) wrk -t"$T" -c"$C" -d"${DUR}s" --latency "${extra[@]}" "http://127.0.0.1:$3/" 2>&1) || true
  c1=$(cpu_after "$2")
  rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  errs=$(awk '/Socket errors:/ { gsub(",", ""); s += $4 + $6 + $8 + $10 } /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
  reqs=$(awk '$2 == "requests" && $3 == "in" { print $1 }' <<<"$out")
  if [ -z "$rps" ] || [ -z "$p99" ]; then
    printf 'round %s  %-9s %-13s no result: %s\n' "$4" "$1" "$2" "$(tail -n 1 <<<"$out")"
    echo "$1 $2 $4 - - - -" >>"$W/results"
    FAILED=1
    return
  fi
  p99=$(to_ms "$p99")
  cpu=$(cost "$c0" "$c1" 1e6 "${reqs:-0}")
  printf 'round %s  %-9s %-13s rps=%-8s p99=%sms errors=%s%s\n' "$4" "$1" "$2" "$rps" "$p99" "$errs" \
    "$([ "$cpu" = - ] || echo " cpu=${cpu}us/req")"
  echo "$1 $2 $4 $rps $p99 $errs $cpu" >>"$W/results"
}

# iperf3 -J: "bytes" and "bits_per_second" of the end's "sum_received" (what the server got).
# Test "iperf3" is -P 2, "iperf1" -P 1: two streams land on one worker or on both (SO_REUSEPORT's
# hash); one stream on one worker. On a 2-core box both still vary run by run with where the
# worker sits next to iperf3's client and server: compare builds round by round (raw runs).
run_iperf() { # NAME PORT ROUND [STREAMS]
  local out gbps bytes c0 c1 cpu streams=${4:-2} test=iperf3
  [ "$streams" = 1 ] && test=iperf1
  c0=$(cpu_mark "$1")
  out=$(timeout $((DUR + 30)) iperf3 -c 127.0.0.1 -p "$2" -t "$DUR" -P "$streams" -J 2>&1) || true
  c1=$(cpu_after "$1")
  read -r bytes gbps < <(awk '/"sum_received"/ { s = 1 }
    s && /"bytes"/ { b = $2 + 0 } s && /"bits_per_second"/ { g = $2 / 1e9; s = 0 }
    END { if (b > 0) printf "%.0f %.2f\n", b, g; else print "- -" }' <<<"$out")
  if [ "$bytes" = - ]; then
    printf 'round %s  %-9s %-13s no result: %s\n' "$3" "$test" "$1" \
      "$(awk -F'"' '/"error"/ { print $4 }' <<<"$out" | head -n 1)$(tail -n 1 <<<"$out" | grep -v '^}' || true)"
    echo "$test $1 $3 - - - -" >>"$W/results"
    FAILED=1
    return
  fi
  cpu=$(cost "$c0" "$c1" 1e12 "$bytes") # ms per 1e9 bytes: seconds * 1e3 / (bytes / 1e9)
  printf 'round %s  %-9s %-13s gbps=%s%s\n' "$3" "$test" "$1" "$gbps" "$([ "$cpu" = - ] || echo " cpu=${cpu}ms/GB")"
  echo "$test $1 $3 $gbps - - $cpu" >>"$W/results"
}

# The columns in run order for round $1: UP's, except that in even rounds the baseline runs before
# l4lb (they are neighbours in UP), so that neither is always second, after the other's TIME_WAITs.
ORDER=()
round_order() {
  local i t
  ORDER=("${UP[@]}")
  [ $(($1 % 2)) = 0 ] && [ -n "$BASE_NAME" ] || return 0
  for ((i = 0; i + 1 < ${#ORDER[@]}; i++)); do
    if [ "${ORDER[i]%%:*}" = l4lb ] && [ "${ORDER[i + 1]%%:*}" = "$BASE_NAME" ]; then
      t=${ORDER[i]}
      ORDER[i]=${ORDER[i + 1]}
      ORDER[i + 1]=$t
    fi
  done
}

# rules_round ROUND: the rules test, each rules column right after its plain one (before it in
# even rounds, so that neither always runs after the other's TIME_WAITs); a column that is not
# up is left out (its cells show "-").
rules_round() {
  local c u col name port plain pport first second
  for c in "${RCOLS[@]}"; do
    IFS=: read -r name port plain <<<"$c"
    pport=""
    for u in "${UP[@]}"; do if [ "${u%%:*}" = "$plain" ]; then IFS=: read -r _ pport _ <<<"$u"; fi; done
    first="$plain:$pport" second="$name:${RUP[$name]:-}"
    [ $(($1 % 2)) = 1 ] || { first=$second second="$plain:$pport"; }
    for col in "$first" "$second"; do
      [ -z "${col#*:}" ] || run_wrk rules "${col%%:*}" "${col#*:}" "$1"
    done
  done
}

echo
echo "== raw runs (${DUR}s each)"
: >"$W/results"
for ((round = 1; round <= ROUNDS; round++)); do
  round_order "$round"
  if has keepalive; then for c in "${ORDER[@]}"; do IFS=: read -r name port _ <<<"$c"; run_wrk keepalive "$name" "$port" "$round"; done; fi
  if has close; then for c in "${ORDER[@]}"; do IFS=: read -r name port _ <<<"$c"; run_wrk close "$name" "$port" "$round"; done; fi
  if has iperf3; then for c in "${ORDER[@]}"; do IFS=: read -r name _ iport <<<"$c"; run_iperf "$name" "$iport" "$round"; done; fi
  if has iperf1; then for c in "${ORDER[@]}"; do IFS=: read -r name _ iport <<<"$c"; run_iperf "$name" "$iport" "$round" 1; done; fi
  if has rules; then rules_round "$round"; fi
done
echo "load:    $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min, after the runs)"

# ---- tables ----
if has keepalive || has close || has iperf3 || has iperf1; then
echo
echo "== median of $ROUNDS round(s); wrk -t$T -c$C keep-alive and Connection: close; iperf3 -P 2 and -P 1; ${DUR}s each"
names=$(for c in "${COLS[@]}"; do echo "${c%%:*}"; done | tr '\n' ' ')
awk -v cols="$names" -v tests=" $TESTS " '
function median(key,   n, i, j, t, v) {
  n = split(vals[key], v, " ")
  if (n == 0) return "-"
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function ratio(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
function fmt(x, kind) { return x == "-" ? "-" : kind == "rps" ? sprintf("%d", x) : sprintf("%.2f", x) }
function width(s, least) { return length(s) + 2 > least ? length(s) + 2 : least }
# A ratio column: its header, and the columns over which it divides.
function addratio(head, top, bottom) { nr++; rhead[nr] = head; rtop[nr] = top; rbot[nr] = bottom }
{
  if ($4 != "-") { vals[$1 " " $2 " v"] = vals[$1 " " $2 " v"] " " $4 }
  if ($5 != "-") { vals[$1 " " $2 " p"] = vals[$1 " " $2 " p"] " " $5 }
  if ($6 != "-") { errs[$1 " " $2] += $6; seen[$1 " " $2] = 1 }
  if ($7 != "-") { vals[$1 " " $2 " c"] = vals[$1 " " $2 " c"] " " $7 }
}
END {
  nc = split(cols, c, " ")
  for (i = 1; i <= nc; i++) { at[c[i]] = i; w[i] = width(c[i], 12) }
  addratio("l4lb/haproxy", at["l4lb"], at["haproxy"])
  addratio("l4lb/nginx", at["l4lb"], at["nginx"])
  addratio("l4lb/direct", at["l4lb"], at["direct"])
  for (i = 1; i <= nc; i++) if (c[i] ~ /^l4lb@/) addratio("l4lb/" substr(c[i], 6), at["l4lb"], i)
  for (i = 1; i <= nc; i++) if (c[i] ~ /^l4lb-/) addratio(substr(c[i], 6) "/l4lb", i, at["l4lb"])
  printf "%-16s", "test"
  for (i = 1; i <= nc; i++) printf "%" w[i] "s", c[i]
  for (r = 1; r <= nr; r++) printf "%" width(rhead[r], 13) "s", rhead[r]
  print ""
  nrow = split("keepalive v rps|keepalive p p99|keepalive c cpu|close v rps|close p p99|close c cpu|iperf3 v gbps|iperf3 c cpu|iperf1 v gbps|iperf1 c cpu", rows, "|")
  split("keepalive rps|  p99 ms|  cpu us/req|close rps|  p99 ms|  cpu us/req|iperf3 -P2 Gbps|  cpu ms/GB|iperf3 -P1 Gbps|  cpu ms/GB", label, "|")
  for (k = 1; k <= nrow; k++) {
    split(rows[k], f, " ")
    if (index(tests, " " f[1] " ") == 0) continue
    printf "%-16s", label[k]
    for (i = 1; i <= nc; i++) { m[i] = median(f[1] " " c[i] " " f[2]); printf "%" w[i] "s", fmt(m[i], f[3]) }
    for (r = 1; r <= nr; r++) printf "%" width(rhead[r], 13) "s", ratio(m[rtop[r]], m[rbot[r]])
    print ""
  }
  for (t = 1; t <= 2; t++) {
    test = t == 1 ? "keepalive" : "close"
    if (index(tests, " " test " ") == 0) continue
    printf "%-16s", test " errors"
    for (i = 1; i <= nc; i++) printf "%" w[i] "s", (test " " c[i]) in seen ? errs[test " " c[i]] : "-"
    print ""
  }
  print "(rps and Gbps: higher is better; p99 in ms: lower is better; errors: wrk socket errors + non-2xx, all rounds)"
  print "(cpu: the balancer'"'"'s user+sys time, all its processes and threads, per request or per 1e9 bytes moved;"
  print " lower is better; direct has no balancer; l4lb/REV: this build over l4lb built at REV)"
}' "$W/results"
fi

if has rules; then
echo
echo "== rules: median of $ROUNDS round(s); wrk -t$T -c$C Connection: close (one connection a request); ${DUR}s each"
echo "rules:   acl allowed src -f LIST ($NETS networks, 127.0.0.1 in the one before last, checked to refuse 127.0.0.9);"
echo "         tcp-request connection reject unless allowed; $RULES use_backend beN if { dst_port X }, the last matches"
echo "         (nginx-allow: $NETS allow lines + deny all, no routing rules)"
pairs=$(for c in "${RCOLS[@]}"; do IFS=: read -r name _ plain <<<"$c"; echo "$name:$plain"; done | tr '\n' ' ')
awk -v pairs="$pairs" -v rounds="$ROUNDS" '
function median(key,   n, i, j, t, v) {
  n = split(vals[key], v, " ")
  if (n == 0) return "-"
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function num(x, f) { return x == "-" ? "-" : sprintf(f, x) }
$1 == "rules" {
  if ($4 != "-") vals[$2 " v"] = vals[$2 " v"] " " $4
  if ($7 != "-") { vals[$2 " c"] = vals[$2 " c"] " " $7; cpu[$2 " " $3] = $7 }
  if ($6 != "-") { errs[$2] += $6; seen[$2] = 1 }
}
END {
  pw = rounds * 5 + 1 > 11 ? rounds * 5 + 1 : 11 # the per-round ratios, 5 characters each
  fmt = "%-24s%11s%11s%15s%15s%13s%10s  %-" pw "s%s\n"
  printf fmt, "rules / plain", "plain rps", "rules rps", "plain us/conn", "rules us/conn", "rules/plain", "+us/conn", \
    "per round", "errors"
  np = split(pairs, p, " ")
  for (i = 1; i <= np; i++) {
    split(p[i], rp, ":"); r = rp[1]; b = rp[2]
    # The two of a round ran back to back: their ratio and difference, round by round, and the
    # medians of those (steadier than a ratio of medians when one round is slow for both).
    per = ""; vals[r " q"] = ""; vals[r " d"] = ""
    for (k = 1; k <= rounds; k++) {
      if ((b " " k) in cpu && (r " " k) in cpu && cpu[b " " k] > 0) {
        q = cpu[r " " k] / cpu[b " " k]; per = per sprintf("%.2f ", q)
        vals[r " q"] = vals[r " q"] " " q; vals[r " d"] = vals[r " d"] " " (cpu[r " " k] - cpu[b " " k])
      } else per = per "- "
    }
    printf fmt, r " / " b, num(median(b " v"), "%d"), num(median(r " v"), "%d"), num(median(b " c"), "%.2f"), \
      num(median(r " c"), "%.2f"), num(median(r " q"), "%.2f"), num(median(r " d"), "%+.2f"), per, \
      (seen[b] ? errs[b] : "-") " " (seen[r] ? errs[r] : "-")
  }
  print "(us/conn: the proxy'"'"'s user+sys time per connection: accept, rules, connect, one request, teardown;"
  print " per round: rules/plain in each round, the two run back to back; rules/plain and +us/conn: the"
  print " medians of the rounds'"'"' ratios and differences; errors: wrk socket errors + non-2xx, plain then rules)"
}' "$W/results"
fi

exit "$FAILED"
