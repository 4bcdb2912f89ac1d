#!/usr/bin/env python3
"""sni_interop.sh's helpers: an SSH-like server and client, and a TLS client that shapes its
ClientHello.

  sshd PORT           accepts; writes "SSH-2.0-sni_interop_sshd\\r\\n", reads the client's
                      identification line and answers "got <line>", then echoes.
  ssh PORT            connects, speaks first as an SSH client does ("SSH-2.0-OpenSSH_9.2p1 ..."),
                      prints the server's identification line if the server got the client's
                      line intact, else what went wrong.
  hello PORT SNI|- [SIZE [RECORD [PIECE [PAUSE_MS]]]]
                      a TLS 1.2 ClientHello from Python's ssl module (OpenSSL), server name SNI
                      (- for none), padded to SIZE bytes by a padding extension (0: as is), cut
                      into records of RECORD bytes at most (0: one record), written PIECE bytes
                      at a time PAUSE_MS apart (0: at once); then reads the server's flight
                      (TLS 1.2: the Certificate message is in clear) and prints the subject of
                      its certificate (openssl x509) and " ms=N", the time from connect to
                      the certificate, or what went wrong. A padded hello cannot
                      finish the handshake (the client's transcript lacks the padding); the
                      server sends its certificate before it could notice.
"""
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

CLIENT_ID = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"


def read_line(f):
    line = f.readline(4096)
    if not line.endswith(b"\n"):
        raise EOFError("closed after %r" % line)
    return line


def sshd(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)

    def serve(c):
        with c:
            c.settimeout(10)
            try:
                c.sendall(b"SSH-2.0-sni_interop_sshd\r\n")
                f = c.makefile("rb")
                c.sendall(b"got " + read_line(f))
                while True:
                    b = c.recv(4096)
                    if not b:
                        return
                    c.sendall(b)
            except (OSError, EOFError):
                return

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def ssh(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(CLIENT_ID)
        f = c.makefile("rb")
        try:
            banner = read_line(f)
            echo = read_line(f)
        except (OSError, EOFError) as e:
            print("no SSH server: %s" % e)
            return
        if echo != b"got " + CLIENT_ID:
            print("server got %r" % echo)
            return
        print(banner.decode("ascii", "replace").strip())


def first_flight(sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    flight = outgoing.read()
    assert flight[0] == 0x16, "a handshake record"
    return handshake_of(flight)


def handshake_of(records):
    """The handshake bytes of a run of handshake records."""
    out, at = b"", 0
    while at < len(records):
        n = struct.unpack(">H", records[at + 3 : at + 5])[0]
        out += records[at + 5 : at + 5 + n]
        at += 5 + n
    return out


def pad(hs, size):
    """Adds a padding extension (21) so that the records come to about SIZE bytes."""
    body = hs[4:]
    at = 2 + 32
    at += 1 + body[at]  # session id
    at += 2 + struct.unpack(">H", body[at : at + 2])[0]  # cipher suites
    at += 1 + body[at]  # compression methods
    ext_len = struct.unpack(">H", body[at : at + 2])[0]
    records = -(-size // 16384)
    fill = max(size - 5 * records - len(hs) - 4, 0)
    ext = body[at + 2 : at + 2 + ext_len] + struct.pack(">HH", 21, fill) + bytes(fill)
    body = body[:at] + struct.pack(">H", len(ext)) + ext
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def records_of(hs, size):
    out = b""
    for i in range(0, len(hs), size):
        chunk = hs[i : i + size]
        out += b"\x16\x03\x01" + struct.pack(">H", len(chunk)) + chunk
    return out


def read_exact(c, n):
    got = b""
    while len(got) < n:
        b = c.recv(n - len(got))
        if not b:
            raise EOFError("closed")
        got += b
    return got


def server_certificate(c):
    """Reads the server's records up to its Certificate message; the first certificate's DER."""
    hs = b""
    while True:
        head = read_exact(c, 5)
        body = read_exact(c, struct.unpack(">H", head[3:5])[0])
        if head[0] == 0x15:
            raise EOFError("alert %s" % body.hex())
        if head[0] != 0x16:
            raise EOFError("record type %d" % head[0])
        hs += body
        while len(hs) >= 4:
            n = struct.unpack(">I", b"\x00" + hs[1:4])[0]
            if len(hs) < 4 + n:
                break
            kind, msg, hs = hs[0], hs[4 : 4 + n], hs[4 + n :]
            if kind == 11:  # certificate: list length (3), first cert length (3), DER
                first = struct.unpack(">I", b"\x00" + msg[3:6])[0]
                return msg[6 : 6 + first]


def hello(port, sni, size=0, record=0, piece=0, pause_ms=0):
    hs = first_flight(None if sni == "-" else sni)
    if size:
        hs = pad(hs, size)
    wire = records_of(hs, record or 16384)
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        step = piece or len(wire)
        for i in range(0, len(wire), step):
            c.sendall(wire[i : i + step])
            if pause_ms:
                time.sleep(pause_ms / 1000)
        try:
            der = server_certificate(c)
        except (OSError, EOFError) as e:
            print("no certificate (%d bytes sent): %s" % (len(wire), e))
            return
    subject = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
        input=der,
        capture_output=True,
        check=False,
    ).stdout.decode()
    took = (time.monotonic() - began) * 1000
    print("%s ms=%d" % (subject.strip().replace(" = ", "="), took))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sshd":
        sshd(int(args[0]))
    elif cmd == "ssh":
        ssh(int(args[0]))
    elif cmd == "hello":
        hello(int(args[0]), args[1], *[int(a) for a in args[2:]])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
