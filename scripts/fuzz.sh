#!/usr/bin/env bash
# fuzz.sh: fuzzes the conf parser and the wire parsers with cargo-fuzz (libFuzzer); the targets are in tests/fuzz/.
# Usage: scripts/fuzz.sh [SECONDS]   SECONDS is the total, split evenly between the targets
#        (default 1800, so 450 s each for the four). Run it as `nice -n 19 scripts/fuzz.sh` on a shared machine:
#        one fuzzing process at a time, never more.
# Installs what it needs when missing: a C++ compiler (apt-get, for libFuzzer), cargo-fuzz.
# Env: TARGETS="conf_parse config_text server_line client_hello proxy_header" (the default: all, in this order)
#      SANITIZER=address (default) or none. ASan needs -Zsanitizer, unstable: on a stable
#        toolchain it is enabled with RUSTC_BOOTSTRAP=1. If that build fails, falls back to none.
#      RSS_MB=2048: an input using more memory (or, with ASan, one malloc larger) is a crash.
#      TIMEOUT=10: an input running longer (seconds) is a hang, reported as a crash.
# Each target's corpus grows in tests/fuzz/corpus/TARGET (seeds read from tests/fuzz/seeds/),
# crashes land in tests/fuzz/artifacts/TARGET/, logs in tests/fuzz/logs/. All are gitignored.
# Prints one summary line per target; exit 1 if any target crashed, hung or failed to build.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

TOTAL=${1:-1800}
read -r -a TARGETS <<<"${TARGETS:-conf_parse config_text server_line client_hello proxy_header}"
SANITIZER=${SANITIZER:-address}
RSS_MB=${RSS_MB:-2048}
TIMEOUT=${TIMEOUT:-10}
FUZZ=tests/fuzz
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

die() { printf 'fuzz: %s\n' "$*" >&2; exit 1; }

[[ "$TOTAL" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$TOTAL'"
PER=$((TOTAL / ${#TARGETS[@]}))
[ "$PER" -ge 1 ] || die "SECONDS=$TOTAL is less than one second per target"

need c++ g++
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install)"
  cargo install cargo-fuzz --locked >"$W/install.log" 2>&1 || { tail -n 20 "$W/install.log" >&2; die "cargo install cargo-fuzz failed"; }
fi

# The seeds each target starts from.
seeds() { case $1 in server_line | client_hello | proxy_header) echo "$FUZZ/seeds/$1" ;; *) echo "$FUZZ/seeds/conf" ;; esac; }
# The dictionary each target gets: conf keywords, TLS and RDP bytes, or PROXY words.
dict() { case $1 in client_hello) echo "$FUZZ/tls.dict" ;; proxy_header) echo "$FUZZ/proxy.dict" ;; *) echo "$FUZZ/conf.dict" ;; esac; }

export RUSTC_BOOTSTRAP=1 # for ASan's -Zsanitizer; harmless with none
fuzz() { cargo fuzz "$1" --fuzz-dir "$FUZZ" --sanitizer "$SANITIZER" --debug-assertions "${@:2}"; }
# stat NAME: libFuzzer's final `stat::NAME: VALUE` line in $log.
stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }

echo "fuzz: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(rustc --version), $(cargo fuzz --version)"
echo "fuzz: building the targets (sanitizer $SANITIZER, debug assertions)"
if ! fuzz build >"$W/build.log" 2>&1; then
  tail -n 20 "$W/build.log" >&2
  [ "$SANITIZER" != none ] || die "cargo fuzz build failed"
  echo "fuzz: the $SANITIZER build failed (see above); building with --sanitizer none"
  SANITIZER=none
  fuzz build >"$W/build.log" 2>&1 || { tail -n 20 "$W/build.log" >&2; die "cargo fuzz build failed"; }
fi

mkdir -p "$FUZZ/logs"
echo "fuzz: $PER s per target, ${#TARGETS[@]} targets, one process at a time"
FAILED=0
ROWS=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
  log="$FUZZ/logs/$t.log"
  touch "$W/start"
  echo "fuzz: $t for $PER s (log: $log)"
  start=$SECONDS
  # libFuzzer stops itself after max_total_time; the outer timeout only bounds a stuck run
  # (SIGINT: libFuzzer still prints its final stats).
  rc=0
  timeout --signal=INT --kill-after=30 $((PER + 60 + TIMEOUT)) \
    cargo fuzz run --fuzz-dir "$FUZZ" --sanitizer "$SANITIZER" --debug-assertions \
    "$t" "$FUZZ/corpus/$t" "$(seeds "$t")" -- \
    -max_total_time="$PER" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
    -dict="$(dict "$t")" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  took=$((SECONDS - start))
  crashes=$(find "$FUZZ/artifacts/$t" -type f -newer "$W/start" | wc -l)
  # The last status line: "#EXECS DONE cov: C ft: F corp: N/SIZE ...".
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  ROWS+=("$(printf '%-12s %6ss %12s %8s %6s %6s %6s %7s %8s' "$t" "$took" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$(stat peak_rss_mb)" "$crashes")")
  if [ "$crashes" -gt 0 ] || [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "fuzz: $t stopped (exit $rc) with $crashes new artifact(s):"
    grep -E -m3 'panicked at|ERROR: libFuzzer|SUMMARY|==ERROR' "$log" | sed 's/^/  /' || true
    find "$FUZZ/artifacts/$t" -type f -newer "$W/start" | sed 's/^/  /'
  fi
done

echo
echo "fuzz: summary (sanitizer $SANITIZER; cov = edges, ft = libFuzzer features, rss in MB)"
printf '%-12s %7s %12s %8s %6s %6s %6s %7s %8s\n' target time execs exec/s cov ft corpus rss crashes
printf '%s\n' "${ROWS[@]}"
exit "$FAILED"
