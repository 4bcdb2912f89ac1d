# shellcheck shell=bash
# lib.sh: helpers shared by the scripts (sourced, not run).
# The caller defines die(), $W (its temp dir) and $PIDS (what it started); spawn and ready also
# use its associative array PID (name -> pid), build_l4lb its $ROOT.

# Installs Debian packages; `apt-get update` only if the plain install fails.
apt_install() {
  echo "installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 # RUNLEVEL=1: don't start the packages' services
  apt-get install -y -q "$@" >"$W/apt.log" 2>&1 && return 0
  { apt-get update -q && apt-get install -y -q "$@"; } >>"$W/apt.log" 2>&1 && return 0
  tail -n 20 "$W/apt.log" >&2
  die "apt-get install $* failed"
}

# need COMMAND PACKAGE: installs PACKAGE when COMMAND is missing.
need() { command -v "$1" >/dev/null || apt_install "$2"; }

# Stops every process in $PIDS: SIGTERM, up to 5 s for all to exit, then SIGKILL.
stop_pids() {
  local pid alive i
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

# Wall clock in microseconds (as nginx's $msec without the dot); callers set LC_ALL=C.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
sleep_until() { # US: sleeps until wall clock microsecond US (no-op if past)
  local d=$(($1 - $(now_us)))
  [ "$d" -gt 0 ] && sleep "$((d / 1000000)).$(printf '%06d' $((d % 1000000)))"
  return 0
}
# Is something listening on PORT (any address)? Asks the kernel for listeners only: no traffic
# sent, and fast even with the 100k+ TIME_WAIT sockets a Connection: close run leaves.
listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }
wait_listening() { # PORT PID: up to 10 s, while PID lives
  local i
  for ((i = 0; i < 1000; i++)); do
    listening "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
# Prefixes each line with the wall clock (env_logger's own timestamps are whole seconds). Perl,
# not a bash read loop: that reads a pipe a byte at a time and falls behind a burst of lines.
stamp() { perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%.6f %s", time, $_'; }
# cpu_ticks PID: user+sys time used so far by PID and every live process under it (nginx's
# workers), in clock ticks (`getconf CLK_TCK` a second); nothing if PID is gone. A process's
# /proc/PID/stat counts all its threads, exited ones included; a reaped child is not counted.
cpu_ticks() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      tree[root] = 1
      do { grew = 0; for (p in parent) if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grew = 1 } } while (grew)
      for (p in tree) {
        f = "/proc/" p "/stat"
        if ((getline line <f) > 0) {
          # utime and stime are fields 14 and 15, counting from the pid; comm (2) may hold spaces.
          match(line, /\)[^)]*$/); split(substr(line, RSTART + 2), s, " "); sum += s[12] + s[13]; ok = ok || p == root
        }
        close(f)
      }
      if (ok) printf "%.0f\n", sum
    }'
}

# build_l4lb: unless $L4LB names a binary, builds target/release/l4lb (in CARGO_TARGET_DIR if set,
# relative or absolute) and sets L4LB to its path.
build_l4lb() {
  [ -n "${L4LB:-}" ] && return 0
  echo "building l4lb (cargo build --release)"
  cargo build --release --quiet --bin l4lb
  local target=${CARGO_TARGET_DIR:-target}
  [[ $target == /* ]] || target=$ROOT/$target
  L4LB=$target/release/l4lb
}
spawn() { # NAME COMMAND...: runs COMMAND (a program, not a function: its pid is the one kept), output to $W/NAME.log
  local name=$1
  shift
  "$@" >>"$W/$name.log" 2>&1 &
  # shellcheck disable=SC2004 # PID is the caller's associative array
  PID[$name]=$!
  PIDS+=($!)
}
ready() { # NAME PORT...: up to 10 s each for PORT to listen while NAME lives
  local name=$1 port
  shift
  for port in "$@"; do
    wait_listening "$port" "${PID[$name]}" || { tail -n 20 "$W/$name.log" >&2; die "$name: nothing on $port"; }
  done
}
