#!/usr/bin/env python3
"""A server whose memory follows the load, for the real-program corpus.

Every request to /work holds a buffer of --buffer-mib MiB (mapped anonymously and touched page by
page, so it is resident) for --hold-ms milliseconds, then unmaps it: resident memory is about
in-flight requests x buffer, and falls back when the load falls. One thread per connection.
Prints "listening on 127.0.0.1:PORT". /health answers ok.
"""
import argparse
import http.server
import mmap
import sys
import time

PAGE = mmap.PAGESIZE


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/work":
            size = self.server.buffer_bytes
            buf = mmap.mmap(-1, size)
            buf[0:size:PAGE] = b"x" * (size // PAGE)  # touch every page
            time.sleep(self.server.hold_s)
            buf.close()
            body = b"done\n"
        else:
            body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--buffer-mib", type=float, default=1.0)
    ap.add_argument("--hold-ms", type=float, default=1000.0)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.buffer_bytes = int(args.buffer_mib * (1 << 20)) // PAGE * PAGE
    server.hold_s = args.hold_ms / 1000.0
    print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
