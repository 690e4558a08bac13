"""A request loop whose response cache is never evicted: about 30 MiB/min of growth.

Recorded with `mprof run` by record-mprof.sh; soak import mprof must find the leak.
"""
import os
import sys
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 240
cache = {}  # the leak: every request's response stays here


def handle(request_id):
    body = os.urandom(16 * 1024)  # 16 KiB response, random so every page is touched
    cache[request_id] = body
    return len(body)


def main():
    start = time.time()
    request_id = 0
    while time.time() - start < SECONDS:
        for _ in range(32):  # 32 requests of 16 KiB = 512 KiB per 1 s round
            handle(request_id)
            request_id += 1
        time.sleep(1.0)


if __name__ == "__main__":
    main()
