"""A Prometheus exporter of its own resident set (process_resident_memory_bytes, read from
/proc/self/statm as client libraries do) that either leaks (~20 MiB/min kept in a list) or
stays flat (allocates and frees). Scraped by a real Prometheus in record-prometheus.sh.

Usage: rss_exporter.py PORT leak|flat
"""
import http.server
import os
import sys
import threading
import time

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES


def work(leak):
    kept = []  # the leak: every job's buffer is kept
    while True:
        buffer = os.urandom(340 * 1024)  # ~340 KiB a second
        if leak:
            kept.append(buffer)
        del buffer
        time.sleep(1.0)


class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                "# TYPE process_resident_memory_bytes gauge\n"
                "process_resident_memory_bytes {0:.6e}\n").format(rss_bytes()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    threading.Thread(target=work, args=(mode == "leak",), daemon=True).start()
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Metrics).serve_forever()


if __name__ == "__main__":
    main()
