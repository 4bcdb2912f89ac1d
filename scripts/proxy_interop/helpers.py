#!/usr/bin/env python3
"""proxy_interop.sh's helpers: a PROXY-header-reading server, an echo server, clients.

  ppserver PORT LOG   accepts; reads a PROXY v1 or v2 header (v2: checks its CRC32C TLV if
                      any); appends one line per connection to LOG:
                        "v1 SRC:SPORT -> DST:DPORT raw=<hex>" / "v2 ... crc32c=ok|bad|none raw=<hex>"
                      or "refused <why> raw=<hex>"; then echoes what follows.
  echo PORT           accepts and echoes.
  client SRC PORT     connects from SRC (port chosen by the kernel) to 127.0.0.1:PORT, sends a
                      line, reads it back; prints "SRC:SPORT" (the address the peers should see).
  chain SRC PORT      as client, but first writes its own PROXY v1 header carrying SRC:SPORT
                      and 127.0.0.1:4242 as the address reached (a client behind an
                      accept-proxy bind, with no proxy before it); holds
                      the connection (header sent, no data) until stdin gives a line, then
                      sends its line and reads it back; prints "SRC:SPORT".
  garbage PORT HEX    connects, writes the bytes HEX then "probe\n"; prints "closed" if the
                      peer closes (or resets) without a byte back, "echoed" if the probe comes
                      back (the bytes were taken as a header), "still open after 3 s" or
                      "got <bytes>".
"""
import socket
import struct
import sys
import threading

SIG2 = b"\r\n\r\n\x00\r\nQUIT\n"
LINE = b"ping through the proxies\n"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def read_exact(c, n, got):
    while len(got) < n:
        b = c.recv(n - len(got))
        if not b:
            raise EOFError("closed after %d bytes" % len(got))
        got += b
    return got


def read_header(c):
    """Reads one PROXY header byte-exactly; returns (description, raw)."""
    raw = read_exact(c, 12, b"")
    if raw.startswith(b"PROXY "):
        while not raw.endswith(b"\r\n"):
            if len(raw) > 107:
                return "refused v1 line over 107 bytes", raw
            raw = read_exact(c, len(raw) + 1, raw)
        parts = raw[:-2].decode("ascii", "replace").split(" ")
        if len(parts) == 6 and parts[1] in ("TCP4", "TCP6"):
            return "v1 %s:%s -> %s:%s" % (parts[2], parts[4], parts[3], parts[5]), raw
        return "v1 " + " ".join(parts[1:]), raw
    if raw != SIG2:
        return "refused not a PROXY header", raw
    raw = read_exact(c, 16, raw)
    ver_cmd, fam, length = raw[12], raw[13], struct.unpack("!H", raw[14:16])[0]
    raw = read_exact(c, 16 + length, raw)
    if ver_cmd >> 4 != 2:
        return "refused v2 version %d" % (ver_cmd >> 4), raw
    body = raw[16:]
    if ver_cmd & 0xF == 0:
        desc, alen = "v2 LOCAL", 0
    elif fam == 0x11:
        src, dst, sp, dp = struct.unpack("!4s4sHH", body[:12])
        desc, alen = "v2 %s:%d -> %s:%d" % (socket.inet_ntoa(src), sp, socket.inet_ntoa(dst), dp), 12
    elif fam == 0x21:
        src, dst, sp, dp = struct.unpack("!16s16sHH", body[:36])
        desc = "v2 %s:%d -> %s:%d" % (socket.inet_ntop(socket.AF_INET6, src), sp,
                                        socket.inet_ntop(socket.AF_INET6, dst), dp)
        alen = 36
    else:
        desc, alen = "v2 family 0x%02x" % fam, 0
    crc, i = "none", 16 + alen
    while i + 3 <= len(raw):
        t, ln = raw[i], struct.unpack("!H", raw[i + 1:i + 3])[0]
        if t == 0x03 and ln == 4:
            zeroed = raw[:i + 3] + b"\0\0\0\0" + raw[i + 7:]
            crc = "ok" if crc32c(zeroed) == struct.unpack("!I", raw[i + 3:i + 7])[0] else "bad"
        i += 3 + ln
    return "%s crc32c=%s" % (desc, crc), raw


def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            return
        c.sendall(b)


def serve(port, handle):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def pp_handler(log):
    lock = threading.Lock()

    def handle(c):
        with c:
            c.settimeout(10)
            try:
                desc, raw = read_header(c)
            except (EOFError, OSError) as e:
                desc, raw = "refused %s" % e, b""
            with lock, open(log, "a") as f:
                f.write("%s raw=%s\n" % (desc, raw.hex()))
            if not desc.startswith("refused"):
                try:
                    echo(c)
                except OSError:
                    pass
    return handle


def echo_handler(c):
    with c:
        try:
            echo(c)
        except OSError:
            pass


def connect(src, port):
    c = socket.socket()
    c.settimeout(10)
    c.bind((src, 0))
    c.connect(("127.0.0.1", port))
    return c


def talk(c):
    c.sendall(LINE)
    got = b""
    while len(got) < len(LINE):
        b = c.recv(4096)
        if not b:
            break
        got += b
    if got != LINE:
        sys.exit("no echo: got %r" % got)


def main():
    cmd = sys.argv[1]
    if cmd == "ppserver":
        serve(int(sys.argv[2]), pp_handler(sys.argv[3]))
    elif cmd == "echo":
        serve(int(sys.argv[2]), echo_handler)
    elif cmd in ("client", "chain"):
        c = connect(sys.argv[2], int(sys.argv[3]))
        ip, sport = c.getsockname()
        if cmd == "chain":
            c.sendall(b"PROXY TCP4 %s 127.0.0.1 %d 4242\r\n" % (ip.encode(), sport))
            print("header sent", flush=True)
            sys.stdin.readline()
        talk(c)
        print("%s:%d" % (ip, sport), flush=True)
        c.close()
    elif cmd == "garbage":
        c = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=3)
        c.sendall(bytes.fromhex(sys.argv[3]))
        got = b""
        try:
            c.sendall(b"probe\n")
            while not got.endswith(b"probe\n"):
                b = c.recv(4096)
                if not b:
                    break
                got += b
            print("closed" if not got else "echoed" if got == b"probe\n" else "got %r" % got)
        except (ConnectionResetError, BrokenPipeError):
            print("closed" if not got else "got %r then reset" % got)
        except socket.timeout:
            print("still open after 3 s" if not got else "got %r" % got)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
