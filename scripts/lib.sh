# shellcheck shell=bash
# lib.sh: helpers shared by bench.sh and failover.sh (sourced, not run).
# The caller defines die(), $W (its temp dir) and $PIDS (what it started).

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
