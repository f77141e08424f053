"""Drives the Eventide HTTP server with Python's http.client (a client the
project did not write). Run by tests/server_python.rs as
`python3 server_python_client.py PORT`; prints OK, or fails with a message."""

import http.client
import socket
import sys

port = int(sys.argv[1])


def connect():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def pattern(n, seed):
    x = seed | 1
    out = bytearray(n)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


# Keep-alive: several requests over one connection (the same local port).
conn = connect()
ports = set()
for i in range(5):
    conn.request("GET", "/k%d" % i)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200, resp.status
    assert body == b"hello /k%d" % i, body
    assert not resp.will_close, "server asked to close"
    ports.add(conn.sock.getsockname()[1])
assert len(ports) == 1, "connection not reused: %r" % ports

# Chunked upload, echoed byte for byte, on the same connection.
data = pattern(300_000, 21)
pieces = [data[i : i + 7777] for i in range(0, len(data), 7777)]
conn.request("POST", "/echo", body=iter(pieces), encode_chunked=True)
resp = conn.getresponse()
echoed = resp.read()
assert resp.status == 200, resp.status
assert echoed == data, "chunked echo differs (%d of %d bytes)" % (len(echoed), len(data))

# HEAD: Content-Length of the would-be body, no body; the connection goes on.
conn.request("HEAD", "/head")
resp = conn.getresponse()
assert resp.status == 200, resp.status
assert resp.getheader("Content-Length") == str(len(b"hello /head")), resp.getheaders()
assert resp.read() == b""
conn.request("GET", "/after-head")
resp = conn.getresponse()
assert resp.read() == b"hello /after-head"
ports.add(conn.sock.getsockname()[1])
assert len(ports) == 1, "connection not reused: %r" % ports
conn.close()

# Expect: 100-continue: send the head, wait for the interim response, then
# the body. http.client does not wait by itself, so read the 100 from the
# socket (byte by byte, to take nothing of what follows).
data = pattern(1_000_000, 23)
conn = connect()
conn.putrequest("PUT", "/echo")
conn.putheader("Content-Length", str(len(data)))
conn.putheader("Expect", "100-continue")
conn.endheaders()
interim = b""
conn.sock.settimeout(5)
while not interim.endswith(b"\r\n\r\n"):
    b = conn.sock.recv(1)
    assert b, "closed before 100 Continue"
    interim += b
assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
conn.send(data)
resp = conn.getresponse()
echoed = resp.read()
assert resp.status == 200, resp.status
assert echoed == data, "echo after 100 differs (%d of %d bytes)" % (len(echoed), len(data))
conn.close()

print("OK")
