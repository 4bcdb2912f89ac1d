#!/usr/bin/env bash
# log_interop.sh: the same log-format, the same backends, under the real HAProxy and under l4lb;
# their lines compared field by field. Fields that differ on every run (client ports, times,
# dates, pids) are compared by shape only; fields where l4lb knowingly differs are listed as such.
# Exits 1 if any other field differs. Needs haproxy (Debian's is fine; installed with apt-get if
# missing) and python3. Usage: scripts/log_interop.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(mktemp -d /tmp/l4lb-log-interop.XXXXXX)
# shellcheck disable=SC2034 # read by stop_pids (lib.sh); the python part reaps what it starts
PIDS=()
die() { echo "log_interop: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
trap 'stop_pids; rm -rf "$W"' EXIT

need python3 python3
if ! command -v haproxy >/dev/null; then
  apt_install haproxy || true
fi
command -v haproxy >/dev/null || { echo "log_interop: skipped: haproxy is not installed (apt-get install -y haproxy)"; exit 0; }

profile=debug
build=(cargo build -q --bin l4lb)
if [ "${1:-}" = --release ]; then profile=release; build+=(--release); fi
"${build[@]}"
L4LB=$PWD/target/$profile/l4lb
echo "haproxy: $(haproxy -v | head -1)"

exec python3 - "$W" "$L4LB" <<'PY'
import os, socket, subprocess, sys, threading, time, re

work, l4lb = sys.argv[1], sys.argv[2]

# Variables every HAProxy since 2.6 has in a TCP proxy, separated by '|'.
FIELDS = ("ci cp fi fp bi bp si sp f ft b s B U ts tsc ac fc bc sc rc sq bq Tw Tc Tt Td Th "
          "t T Tl Ts ms pid H rt lc ID {+Q}b {+X}ci {+X}fp [src] [dst_port] [be_name] [srv_name] [bc_dst]").split()
FORMAT = "|".join("%" + f for f in FIELDS)
# Fields that change from run to run: compared by their shape.
VARIES = {"cp": r"\d+", "bp": r"\d+", "Tc": r"-?\d+", "Td": r"-?\d+",
          "t": r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}", "T": r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000",
          "Tl": r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}", "Ts": r"\d{10}", "ms": r"\d{3}", "pid": r"\d+"}
# Where l4lb knowingly differs (see README, Connection logs).
KNOWN = {
    "Tw": "HAProxy adds 1 in TCP mode (it subtracts a request time of -1); l4lb writes the time queued",
    "ac": "HAProxy counts after releasing the connection's slots, l4lb before (it counts itself)",
    "bc": "same as ac", "sc": "same as ac",
}

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def backend(port):
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port)); srv.listen(64)
    def serve(c):
        try:
            c.sendall(b"hello")
            while c.recv(4096):
                pass
        except OSError:
            pass  # the probe of wait_listening hangs up at once
        finally:
            c.close()
    def loop():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()

def wait_listening(port, proc):
    for _ in range(1000):
        if proc.poll() is not None:
            sys.exit(f"log_interop: a proxy exited early, see {work}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    sys.exit("log_interop: a proxy did not listen")

def run(name, cmd, syslog, ports, bport, dead):
    conf = f"""global
    log 127.0.0.1:{syslog.getsockname()[1]} local0
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    log global
    log-format "{FORMAT}"
listen ok
    bind 127.0.0.1:{ports[0]}
    server s1 127.0.0.1:{bport}
listen refused
    bind 127.0.0.1:{ports[1]}
    retries 1
    server s1 127.0.0.1:{dead}
listen asap
    bind 127.0.0.1:{ports[2]}
    option logasap
    server s1 127.0.0.1:{bport}
"""
    path = os.path.join(work, name + ".cfg")
    open(path, "w").write(conf)
    out = open(os.path.join(work, name + ".out"), "w")
    proc = subprocess.Popen(cmd + [path], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(ports[0], proc)
        # The probe connection of wait_listening logs too: drain it.
        lines = [recv(syslog)]
        c = socket.create_connection(("127.0.0.1", ports[0]))
        c.sendall(b"1234567"); c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
        c.close()
        lines.append(recv(syslog))
        c = socket.create_connection(("127.0.0.1", ports[1]))
        try:
            c.recv(1)
        except OSError:
            pass
        c.close()
        lines.append(recv(syslog))
        # option logasap: logged once connected; wait for that before sending.
        c = socket.create_connection(("127.0.0.1", ports[2]))
        lines.append(recv(syslog))
        assert c.recv(5) == b"hello"
        c.close()
        return lines[1:]
    finally:
        proc.terminate(); proc.wait(10)

def recv(sock):
    sock.settimeout(10)
    d = sock.recv(65536).decode()
    return d.split("]: ", 1)[1].rstrip("\n")

bport, dead = free_port(), free_port()
backend(bport)
results = {}
for name, cmd in (("haproxy", ["haproxy", "-db", "-f"]), ("l4lb", [l4lb, "-f"])):
    syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); syslog.bind(("127.0.0.1", 0))
    results[name] = run(name, cmd, syslog, (free_port(), free_port(), free_port()), bport, dead)
    syslog.close()

bad = 0
scenarios = ("a normal connection", "a refused server (retries 1)", "option logasap, logged at connect")
for i, what in enumerate(scenarios):
    h, l = results["haproxy"][i].split("|"), results["l4lb"][i].split("|")
    if len(h) != len(FIELDS) or len(l) != len(FIELDS):
        sys.exit(f"log_interop: unexpected lines:\n  haproxy: {results['haproxy'][i]}\n  l4lb:    {results['l4lb'][i]}")
    print(f"\n{what}:\n  {'field':<12} {'haproxy':<28} {'l4lb':<28} verdict")
    for f, hv, lv in zip(FIELDS, h, l):
        # Ports and local addresses of the proxies' own sockets differ by nature.
        hv_n = hv.replace(str(bport), "BPORT"); lv_n = lv.replace(str(bport), "BPORT")
        if f == "Tt" and i == 2:
            # logasap: `+` and the time to connect.
            verdict = "same shape" if (re.fullmatch(r"\+\d+", hv) and re.fullmatch(r"\+\d+", lv)) else "DIFFERS"
        elif f == "Tt":
            verdict = "same shape" if (hv.isdigit() and lv.isdigit()) else "DIFFERS"
        elif f in ("fp", "{+X}fp", "[dst_port]"):
            verdict = "same shape" if (hv.isalnum() and lv.isalnum()) else "DIFFERS"
        elif f in VARIES:
            ok = re.fullmatch(VARIES[f], hv) and re.fullmatch(VARIES[f], lv)
            verdict = "same shape" if ok else "DIFFERS"
        elif hv_n == lv_n:
            verdict = "same"
        elif f in KNOWN:
            verdict = "known: " + KNOWN[f]
        else:
            verdict = "DIFFERS"
        bad += verdict == "DIFFERS"
        print(f"  %{f:<11} {hv:<28} {lv:<28} {verdict}")
print(f"\n{'all fields agree' if not bad else str(bad) + ' field(s) differ'} (logs in {work} while this runs)")
sys.exit(1 if bad else 0)
PY
