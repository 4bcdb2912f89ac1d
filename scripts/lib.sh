# shellcheck shell=bash
# lib.sh: helpers shared by bench.sh and failover.sh (sourced, not run).
# The caller defines die() and $W (its temp dir) first.

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
