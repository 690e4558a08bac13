#!/usr/bin/python3
"""Writes the psrecord and Prometheus fixtures of tests/importers_python_test.cpp, with fixed
seeds, exactly as the tools write them:

- psrecord-leak.txt, psrecord-flat.txt, psrecord-children.csv: psrecord's `--log` file, with
  psrecord 1.4's own format strings (psrecord/main.py monitor(); MB = rss / 1024**2):
  the plain log (header "# {:12s} {:12s} {:12s} {:12s}" of centred names, rows
  "{:12.3f} {:12.3f} {:12.3f} {:12.3f}"; the flat one with --include-io's four "{:12d}"
  columns), and `--log-format csv --include-children` (header
  "elapsed_time,nproc,cpu,mem_real,mem_virtual", values as Python's str()).
- prometheus-range.json: a /api/v1/query_range answer as Prometheus writes it (one line; time
  stamps as numbers, values as strings in Go's shortest form, "NaN" for gaps): two series of
  process_resident_memory_bytes, one leaking ~20 MB/min, one flat with NaN values.
- prometheus-vector.json (an instant query's answer) and prometheus-error.json (a refused one).

Run: /usr/bin/python3 make-fixtures.py (in this directory).
"""
import json
import random

MIB = 1024.0 ** 2


def psrecord(path, seed, rss_mib, growth_mib_per_min, rows=300, interval_s=2.0,
             include_io=False, csv=False, nproc=1):
    rng = random.Random(seed)
    with open(path, "w") as f:
        if csv:
            f.write("elapsed_time,nproc,cpu,mem_real,mem_virtual")
        else:
            f.write("# {:12s} {:12s} {:12s} {:12s}".format(
                "Elapsed time".center(12), "CPU (%)".center(12), "Real (MB)".center(12),
                "Virtual (MB)".center(12)))
            if include_io:
                f.write(" {:12s} {:12s} {:12s} {:12s}".format(
                    "Read count".center(12), "Write count".center(12), "Read bytes".center(12),
                    "Write bytes".center(12)))
        f.write("\n")
        t = rng.uniform(1e-4, 3e-4)  # psrecord's first sample comes just after its start time
        reads = writes = 0
        for _ in range(rows):
            # rss and vms are whole pages, as the kernel counts them
            real_pages = round((rss_mib + growth_mib_per_min * t / 60 + rng.gauss(0, 0.4)) * 256)
            real = real_pages / 256
            virtual = (real_pages + 420 * 256 + round(rng.gauss(0, 10))) / 256
            cpu = round(max(0.0, rng.gauss(35, 10)), 1)  # psutil rounds cpu_percent to 0.1
            if csv:
                f.write(f"{t},{nproc},{cpu},{real},{virtual}")
            else:
                f.write(f"{t:12.3f} {cpu:12.3f} {real:12.3f} {virtual:12.3f}")
                if include_io:
                    reads += rng.randint(0, 40)
                    writes += rng.randint(0, 25)
                    f.write(f" {reads:12d} {writes:12d} {reads * 4096:12d} {writes * 4096:12d}")
            f.write("\n")
            # psrecord sleeps --interval after each sample: the stamps drift by the sampling time
            t += interval_s + rng.uniform(0.001, 0.02)


def go_float(value):
    """A float as Go's strconv.FormatFloat(v, 'f', -1, 64) writes it (Prometheus's values)."""
    if value != value:
        return "NaN"
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(value, "f").rstrip("0").rstrip(".")
    return text[:-2] if text.endswith(".0") else text


def prometheus(path, seed):
    rng = random.Random(seed)
    start, step, points = 1764000000, 15, 160  # 40 minutes at 15 s
    leaking, flat = [], []
    for i in range(points):
        t = start + i * step
        leaking.append([t, go_float(round(180e6 + 20e6 * i * step / 60 + rng.gauss(0, 2e6)))])
        value = float("nan") if i % 23 == 5 else round(250e6 + rng.gauss(0, 1.5e6))
        flat.append([t, go_float(value)])
    answer = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "process_resident_memory_bytes", "instance": "10.0.0.5:8080",
                    "job": "orders"}, "values": leaking},
        {"metric": {"__name__": "process_resident_memory_bytes", "instance": "10.0.0.6:8080",
                    "job": "orders"}, "values": flat}]}}
    with open(path, "w") as f:
        f.write(json.dumps(answer, separators=(",", ":")))
        f.write("\n")


def main():
    psrecord("psrecord-leak.txt", 12, rss_mib=60, growth_mib_per_min=15)
    psrecord("psrecord-flat.txt", 13, rss_mib=85, growth_mib_per_min=0, include_io=True)
    psrecord("psrecord-children.csv", 15, rss_mib=140, growth_mib_per_min=12, rows=200,
             interval_s=3.0, csv=True, nproc=3)
    prometheus("prometheus-range.json", 14)
    with open("prometheus-vector.json", "w") as f:
        f.write('{"status":"success","data":{"resultType":"vector","result":[{"metric":'
                '{"__name__":"process_resident_memory_bytes","instance":"10.0.0.5:8080",'
                '"job":"orders"},"value":[1764002400.123,"184467440"]}]}}\n')
    with open("prometheus-error.json", "w") as f:
        f.write('{"status":"error","errorType":"bad_data","error":"invalid parameter '
                '\\"query\\": 1:31: parse error: unclosed left parenthesis"}\n')


if __name__ == "__main__":
    main()
