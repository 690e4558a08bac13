#!/usr/bin/env python3
"""Bounded key-value load for the real-program corpus (redis RESP or memcached text protocol).

growing: SET over new keys (key:0, key:1, ...) -- the keyspace keeps growing.
fixed:   SET over the same --keys keys, values of constant size -- the keyspace is bounded.

Every loop is bounded: at most --max-ops operations and --duration seconds, at --rate ops/s.
Only 127.0.0.1 (or a unix socket) is contacted.
"""
import argparse
import socket
import sys
import time


def connect(args):
    if args.unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(args.unix)
    else:
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    s.settimeout(10)
    return s


def read_reply(f, proto):
    line = f.readline()
    if not line:
        raise ConnectionError("server closed the connection")
    if proto == "redis":
        if not line.startswith(b"+"):
            raise RuntimeError("unexpected reply %r" % line)
    elif line.strip() != b"STORED":
        raise RuntimeError("unexpected reply %r" % line)


def request(proto, key, value):
    if proto == "redis":
        parts = [b"SET", key, value]
        out = b"*%d\r\n" % len(parts)
        for p in parts:
            out += b"$%d\r\n%s\r\n" % (len(p), p)
        return out
    return b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=["redis", "memcached"], required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--unix", default="")
    ap.add_argument("--mode", choices=["growing", "fixed"], required=True)
    ap.add_argument("--keys", type=int, default=1000, help="keyspace size for --mode fixed")
    ap.add_argument("--value-bytes", type=int, default=1024)
    ap.add_argument("--rate", type=float, default=100.0, help="operations per second")
    ap.add_argument("--batch", type=int, default=10, help="pipelined operations per round trip")
    ap.add_argument("--duration", type=float, default=900.0, help="seconds, upper bound")
    ap.add_argument("--max-ops", type=int, default=200000, help="operations, upper bound")
    args = ap.parse_args()

    sock = connect(args)
    f = sock.makefile("rb")
    value = b"v" * args.value_bytes
    start = time.monotonic()
    ops = 0
    while ops < args.max_ops and time.monotonic() - start < args.duration:
        n = min(args.batch, args.max_ops - ops)
        payload = b""
        for i in range(ops, ops + n):
            k = i if args.mode == "growing" else i % args.keys
            payload += request(args.proto, b"key:%d" % k, value)
        sock.sendall(payload)
        for _ in range(n):
            read_reply(f, args.proto)
        ops += n
        # Absolute schedule: operation `ops` is due at start + ops / rate.
        delay = start + ops / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("kv_fill: %d operations in %.0f s" % (ops, time.monotonic() - start), file=sys.stderr)


if __name__ == "__main__":
    main()
