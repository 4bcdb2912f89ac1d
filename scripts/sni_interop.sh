#!/usr/bin/env bash
# sni_interop.sh: SNI routing (TLS passthrough) in l4lb and in the real HAProxy, side by side,
# with one conf (scripts/sni_interop/sni.cfg.in: the OpenShift router's passthrough frontend,
# maps in scripts/sni_interop/, plus an "SSH and HTTPS on one port" rule) and real TLS servers.
# Starts (by hand, as children of this script, on 127.0.0.1 high ports, in a temp dir) three
# `openssl s_server` with self-signed certificates of their own (CN a.example, b.example and
# the router's default, default.example), an SSH-like server that speaks first
# (scripts/sni_interop/helpers.py sshd), Debian's HAProxy and l4lb, each on its own port in
# front of the same servers. Each case runs against both; PASS when both give the wanted answer:
#   - `openssl s_client -servername a.example` sees CN a.example, b.example likewise, A.Example
#     too (the SNI is lowered before the maps), another name and no SNI (-noservername) see the
#     default certificate;
#   - an SSH client (it speaks first, "SSH-2.0-...") reaches the SSH server, which gets its
#     line intact;
#   - helpers.py hello (a ClientHello from Python's ssl, TLS 1.2 so the certificate comes in
#     clear): written 7 bytes at a time 10 ms apart; padded to 20 KiB (two records; the conf's
#     tune.bufsize 32768 holds it); padded to 40 KiB, more than tune.bufsize holds: the default
#     certificate, as soon as the buffer is full rather than after the 5 s inspect delay.
# Then, not judged (side by side): a hello cut into records of 50, 100 and 512 bytes (HAProxy
# finds the server name only if it lies in the first record; l4lb reads the whole hello).
# Prints a table (case, haproxy, l4lb, PASS/FAIL) and the two proxies' log lines; exits 1 on any
# FAIL.
# Usage: scripts/sni_interop.sh   (root, Debian: installs what it needs with apt-get)
# Env: PORT_BASE=N (19900): ports N+1..N+7. L4LB=path: that binary instead of building
#      target/release/l4lb (L4LB=/usr/sbin/haproxy checks the script itself: every case PASS).
#      KEEP=1: leave the temp dir (certificates, confs, logs) in place.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/scripts/sni_interop
HELP=$DIR/helpers.py
W=$(mktemp -d /tmp/l4lb-sni-interop.XXXXXX)
PIDS=()
declare -A PID=()
die() { printf 'sni_interop: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  stop_pids
  if [ -n "${KEEP:-}" ]; then echo "sni_interop: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through cleanup too

B=${PORT_BASE:-19900}
SITE_A=$((B + 1)) SITE_B=$((B + 2)) DEFAULT=$((B + 3)) SSH=$((B + 4)) HA_FE=$((B + 5)) LB_FE=$((B + 6))
NAMES=(SITE_A SITE_B DEFAULT SSH HA_FE LB_FE)

# ---- tools ----
need haproxy haproxy
need openssl openssl
need python3 python3
need ss iproute2
need timeout coreutils
for n in "${NAMES[@]}"; do ! listening "${!n}" || die "127.0.0.1:${!n} ($n) is in use (another run? try PORT_BASE=20000)"; done
echo "haproxy: $(haproxy -v | head -1)"
echo "openssl: $(openssl version)"
build_l4lb
echo "l4lb: $L4LB"

# ---- servers and proxies ----
render() { # FRONTEND_PORT: the conf, with @NAME@ -> its port, @DIR@ -> the maps' directory
  local args=(-e "s|@DIR@|$DIR|g" -e "s|@FE@|$1|g") n
  for n in "${NAMES[@]}"; do args+=(-e "s|@$n@|${!n}|g"); done
  sed "${args[@]}" "$DIR/sni.cfg.in"
}
tls_server() { # NAME CN PORT: a self-signed certificate for CN, an s_server with it on PORT
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$2" -keyout "$W/$1.key" -out "$W/$1.pem" >"$W/$1.req.log" 2>&1 ||
    die "openssl req for $2: $(cat "$W/$1.req.log")"
  # -www: answers an HTTP GET itself, never reads stdin.
  spawn "$1" openssl s_server -quiet -www -accept "127.0.0.1:$3" -cert "$W/$1.pem" -key "$W/$1.key"
}
tls_server site_a a.example "$SITE_A"
tls_server site_b b.example "$SITE_B"
tls_server default default.example "$DEFAULT"
spawn sshd python3 "$HELP" sshd "$SSH"
render "$HA_FE" >"$W/haproxy.cfg"
render "$LB_FE" >"$W/l4lb.cfg"
haproxy -c -q -f "$W/haproxy.cfg" >"$W/haproxy.check" 2>&1 || die "haproxy refuses its conf: $(cat "$W/haproxy.check")"
"$L4LB" -c -f "$W/l4lb.cfg" >"$W/l4lb.check" 2>&1 || die "l4lb refuses its conf: $(cat "$W/l4lb.check")"
spawn haproxy haproxy -db -f "$W/haproxy.cfg"
spawn l4lb "$L4LB" -f "$W/l4lb.cfg"
ready site_a "$SITE_A"
ready site_b "$SITE_B"
ready default "$DEFAULT"
ready sshd "$SSH"
ready haproxy "$HA_FE"
ready l4lb "$LB_FE"

# ---- the cases ----
RESULTS=() FAILS=0
row() { printf '%-44s %-28s %-28s %s' "$@"; }
# s_client PORT ARGS...: the subject of the certificate openssl s_client is shown, or "none".
s_client() {
  local port=$1 out
  shift
  out=$(timeout 15 openssl s_client -connect "127.0.0.1:$port" "$@" </dev/null 2>/dev/null |
    sed -n 's/^subject=//p' | sed 's/ = /=/g' | head -1 || true)
  echo "subject=${out:-none}"
}
hello_ms() { timeout 20 python3 "$HELP" hello "$@" 2>&1 | tail -1 || true; } # PORT ARGS...
hello() { # PORT ARGS...: helpers.py hello, its " ms=N" cut off
  local out
  out=$(hello_ms "$@")
  echo "${out% ms=*}"
}
# judge CASE WANT CMD ARGS...: runs `CMD PORT ARGS...` through HAProxy then l4lb; PASS if both
# print WANT.
judge() {
  local name=$1 want=$2 ha lb verdict=PASS
  shift 2
  ha=$("$1" "$HA_FE" "${@:2}")
  lb=$("$1" "$LB_FE" "${@:2}")
  [ "$ha" = "$want" ] && [ "$lb" = "$want" ] || verdict=FAIL
  [ "$verdict" = PASS ] || FAILS=$((FAILS + 1))
  RESULTS+=("$(row "$name" "$ha" "$lb" "$verdict")")
}
ssh_client() { timeout 15 python3 "$HELP" ssh "$1" 2>&1 | tail -1 || true; }

judge "s_client -servername a.example" "subject=CN=a.example" s_client -servername a.example
judge "s_client -servername b.example" "subject=CN=b.example" s_client -servername b.example
judge "s_client -servername A.Example (lowered)" "subject=CN=a.example" s_client -servername A.Example
judge "s_client -servername c.example (be_sni)" "subject=CN=default.example" s_client -servername c.example
judge "s_client -noservername (be_no_sni)" "subject=CN=default.example" s_client -noservername
judge "SSH client, speaks first (be_ssh)" "SSH-2.0-sni_interop_sshd" ssh_client
judge "hello in 7-byte pieces, 10 ms apart" "subject=CN=b.example" hello b.example 0 0 7 10
judge "20 KiB hello (2 records), SNI b.example" "subject=CN=b.example" hello b.example 20480
# Bigger than tune.bufsize: the full buffer ends the inspect wait, the rules run on what is
# there (no whole hello: no SNI), so the default, well before the 5 s inspect delay.
big() { # PORT: the 40 KiB hello; "(waited the inspect delay)" if the answer took 4 s or more
  local out ms
  out=$(hello_ms "$1" a.example 40960)
  ms=${out##* ms=}
  out=${out% ms=*}
  if [[ $ms =~ ^[0-9]+$ ]] && [ "$ms" -ge 4000 ]; then out="$out (after $ms ms: waited the inspect delay)"; fi
  echo "$out"
}
judge "40 KiB hello, over tune.bufsize: default" "subject=CN=default.example" big

printf '\n== not judged: a hello in several records (HAProxy: the SNI must be in the first)\n'
printf '%s\n' "$(row case haproxy l4lb "")"
for size in 50 100 512; do
  printf '%s\n' "$(row "hello in records of $size bytes, SNI a.example" \
    "$(hello "$HA_FE" a.example 0 "$size")" "$(hello "$LB_FE" a.example 0 "$size")" "")"
done

printf '\n== logs (log-format "sni %%ft client=%%ci:%%cp backend=%%b/%%s")\n'
printf -- '-- haproxy:\n'; grep '^sni ' "$W/haproxy.log" || true
printf -- '-- l4lb:\n'; grep '^sni ' "$W/l4lb.log" || true
printf '\n== summary\n'
printf '%s\n' "$(row case haproxy l4lb result)"
printf '%s\n' "${RESULTS[@]}"
if [ "$FAILS" -gt 0 ]; then
  echo "sni_interop: $FAILS case(s) FAIL"
  exit 1
fi
echo "sni_interop: every case PASS"
