#!/usr/bin/env python3
"""A CPython process with a slow leak: --kib-per-s KiB a second appended to a list never
cleared, plus short-lived garbage. Bounded by --duration seconds."""
import argparse
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kib-per-s", type=float, default=4.0)
    ap.add_argument("--duration", type=float, default=900.0)
    args = ap.parse_args()
    kept = []
    start = time.monotonic()
    tick = 0
    step_s = 0.25
    while time.monotonic() - start < args.duration:
        # Kept: distinct small strings (what a cache keyed by request would hold).
        chunk = int(args.kib_per_s * 1024 * step_s)
        kept.append(("%08d" % tick).encode() * (chunk // 8))
        # Garbage: built and dropped every tick.
        scratch = [str(i) for i in range(2000)]
        del scratch
        tick += 1
        delay = start + tick * step_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    main()
