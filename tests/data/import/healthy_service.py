"""A request loop with a bounded cache: memory rises and falls (a sawtooth), no growth.

Recorded with `mprof run` by record-mprof.sh; soak import mprof must pass it. `batch` is
decorated with @profile when memory_profiler provides it, so the recording holds FUNC lines.
"""
import os
import sys
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 300
CACHE_LIMIT = 600  # entries of 16 KiB: at most ~10 MiB before the cache is cleared

try:
    profile  # noqa: F821 (memory_profiler injects it under mprof run --python)
except NameError:
    def profile(func):
        return func


cache = {}


@profile  # noqa: F821
def batch(first_id):
    for request_id in range(first_id, first_id + 32):
        cache[request_id] = os.urandom(16 * 1024)
    if len(cache) >= CACHE_LIMIT:
        cache.clear()


def main():
    start = time.time()
    request_id = 0
    while time.time() - start < SECONDS:
        batch(request_id)
        request_id += 32
        time.sleep(1.0)


if __name__ == "__main__":
    main()
