"""A parent with two multiprocessing workers: one leaks (~20 MiB/min kept in a list), one
stays flat (allocates and frees). Recorded with `mprof run -M` by record-mprof.sh, each
worker its own CHLD series; soak import mprof must judge them one by one.
"""
import multiprocessing
import os
import sys
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 300


def leaky_worker(seconds):
    kept = []  # the leak: every job's buffer is kept
    start = time.time()
    while time.time() - start < seconds:
        kept.append(os.urandom(340 * 1024))  # ~340 KiB a second
        time.sleep(1.0)


def flat_worker(seconds):
    start = time.time()
    while time.time() - start < seconds:
        scratch = [os.urandom(16 * 1024) for _ in range(32)]  # used, then freed
        del scratch
        time.sleep(1.0)


def main():
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=leaky_worker, args=(SECONDS,)),
               context.Process(target=flat_worker, args=(SECONDS,))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
