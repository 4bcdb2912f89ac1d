#!/usr/bin/env python3
"""interop helpers: the small stand-ins scripts/interop.sh runs beside the real servers.

  patroni PORT ROLEFILE   Patroni's REST API, the part HAProxy asks: GET/OPTIONS/HEAD
                          /primary (/master, /leader) 200 on the leader and 503 otherwise,
                          /replica the reverse, /health 200. The role ("primary" or
                          "replica") is read from ROLEFILE on every request, so the
                          script switches it by writing the file.
  node PORT NAME          a "PostgreSQL node" for traffic: writes NAME and a newline to
                          every client, then closes.
  agent PORT REPLYFILE    an agent-check agent: writes REPLYFILE's first line and a newline
                          to every client, then closes (HAProxy reads one line).
  follow PORT OLD NEW TIMEOUT
                          connects to PORT every 20 ms, reading the name line, from now
                          until NEW answered and OLD did not for 1 s (or TIMEOUT s), and
                          prints "first_new_ms last_old_ms" (-1 when never seen).
  rows                    reads a `show stat` CSV on stdin and prints one line per server:
                          px/sv, status, check_status, weight, agent_status, last_chk,
                          last_agt, the raw line
                          (tab-separated; the CSV's header names the columns).
The servers run until killed (the script holds their pids); follow and rows return.
"""
import csv
import http.server
import socket
import socketserver
import sys
import time


def role(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "replica"


def patroni(port, rolefile):
    class Api(http.server.BaseHTTPRequestHandler):
        def answer(self, body):
            path = self.path.split("?")[0].rstrip("/")
            r = role(rolefile)
            if path in ("/primary", "/master", "/leader", "/read-write"):
                code = 200 if r == "primary" else 503
            elif path in ("/replica", "/read-only"):
                code = 200 if r == "replica" else 503
            elif path in ("/health", ""):
                code = 200
            else:
                code = 404
            data = ('{"role": "%s", "state": "running"}\n' % r).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self):
            self.answer(True)

        def do_OPTIONS(self):
            self.answer(True)

        def do_HEAD(self):
            self.answer(False)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Api).serve_forever()


def line_server(port, line_of):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                self.request.sendall(line_of().encode() + b"\n")
            except OSError:
                pass

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    Server(("127.0.0.1", port), Handler).serve_forever()


def first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError:
        return ""


def ask(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
            c.settimeout(1)
            data = b""
            while b"\n" not in data:
                chunk = c.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace").strip()
    except OSError:
        return ""


def follow(port, old, new, timeout):
    start = time.monotonic()
    first_new = last_old = None
    while True:
        now = time.monotonic()
        ms = int((now - start) * 1000)
        got = ask(port)
        if got == new and first_new is None:
            first_new = ms
        if got == old:
            last_old = ms
        done = first_new is not None and (ms - (last_old or 0)) >= 1000
        if done or now - start > timeout:
            break
        time.sleep(0.02)
    print(first_new if first_new is not None else -1, last_old if last_old is not None else -1)


def rows():
    lines = sys.stdin.read().splitlines()
    if not lines or not lines[0].startswith("# "):
        return
    cols = next(csv.reader([lines[0][2:]]))
    want = ("status", "check_status", "weight", "agent_status", "last_chk", "last_agt")
    for raw in lines[1:]:
        f = next(csv.reader([raw]), [])
        if len(f) < len(cols) or f[1] in ("FRONTEND", "BACKEND"):
            continue
        row = dict(zip(cols, f))
        print("\t".join([f"{f[0]}/{f[1]}"] + [row.get(c, "") or "-" for c in want] + [raw]))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "patroni":
        patroni(int(args[0]), args[1])
    elif cmd == "node":
        line_server(int(args[0]), lambda: args[1])
    elif cmd == "agent":
        line_server(int(args[0]), lambda: first_line(args[1]))
    elif cmd == "follow":
        follow(int(args[0]), args[1], args[2], float(args[3]))
    elif cmd == "rows":
        rows()
    else:
        sys.exit(f"helpers.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
