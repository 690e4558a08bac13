#!/usr/bin/python3
"""Writes the Windows recordings that importers_windows_test reads, byte for byte the way the
tools write them (fixed seeds, so the files are the same on every run):

  perfmon-leak.csv     typeperf -f CSV: one instance whose Private Bytes grows 20 MB/min for an
                       hour at 15 s while its working set stays flat (committed, untouched
                       memory); Pacific Standard Time, bias 480; a first row of blanks for the
                       rate counter, as typeperf writes it
  perfmon-healthy.csv  relog -f csv: a .NET process's GC sawtooth (Private Bytes, Working Set,
                       # Bytes in all Heaps), no growth; a trailing empty line as relog leaves it
  perfmon-two.csv      typeperf: instances app (flat) and app#1 (leaking), W. Europe Standard
                       Time (bias -60), app#1 blank while it had not started, and one blank
                       field mid-run
  dotnet-counters-leak.csv / .json
                       the same run of a .NET process whose GC heap leaks, as
                       `dotnet-counters collect --format csv|json --refresh-interval 30` writes it
                       (EventCounters of System.Runtime; en-US culture for the CSV's stamps)
  dotnet-counters-unclosed.json
                       a healthy .NET 9 process (the System.Runtime meter's names), the session
                       ended without q: no closing ]} and a trailing comma

The formats follow typeperf's and relog's documented output and dotnet/diagnostics'
CSVExporter.cs and JSONExporter.cs (every cell quoted and CRLF for PDH; for dotnet-counters the
CSV header line ends as AppendLine does on Windows, CRLF, and its rows with "\\n"; the JSON is
one line).

Run: /usr/bin/python3 tests/data/import/make-windows-fixtures.py (writes beside itself).
"""

import datetime
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "WIN-SOAK01"
MB = 1e6


def write(name, text):
    with open(os.path.join(HERE, name), "w", newline="", encoding="utf-8") as f:
        f.write(text)


def pdh_stamp(t):
    return t.strftime("%m/%d/%Y %H:%M:%S.") + "%03d" % (t.microsecond // 1000)


def pdh_csv(zone, bias, paths, rows, trailing_blank_line=False):
    """rows: (datetime, [value or None]); typeperf writes values with 6 decimals."""
    out = ['"(PDH-CSV 4.0) (%s)(%d)"' % (zone, bias)]
    out[0] += "".join(',"%s"' % p for p in paths)
    lines = [out[0]]
    for t, values in rows:
        cells = ['"%s"' % pdh_stamp(t)]
        for v in values:
            cells.append('" "' if v is None else '"%.6f"' % v)
        lines.append(",".join(cells))
    text = "\r\n".join(lines) + "\r\n"
    if trailing_blank_line:
        text += "\r\n"
    return text


def perfmon_leak():
    rng = random.Random(1201)
    inst = "app"
    counters = ["ID Process", "% Processor Time", "Working Set", "Private Bytes",
                "Virtual Bytes", "Handle Count", "Thread Count"]
    paths = ["\\\\%s\\Process(%s)\\%s" % (HOST, inst, c) for c in counters]
    start = datetime.datetime(2026, 12, 1, 10, 0, 0, 123000)
    rows = []
    for i in range(241):  # an hour at 15 s
        minutes = i * 15 / 60
        private = 150 * MB + 20 * MB * minutes + rng.gauss(0, 0.8 * MB)
        ws = 120 * MB + rng.gauss(0, 1.5 * MB)
        cpu = None if i == 0 else abs(rng.gauss(4, 1.5))
        rows.append((start + datetime.timedelta(seconds=15 * i, milliseconds=rng.randint(0, 9)),
                     [4312, cpu, ws, private, private + 2.1e9, 412 + rng.randint(-3, 3),
                      18 + rng.randint(0, 1)]))
    write("perfmon-leak.csv", pdh_csv("Pacific Standard Time", 480, paths, rows))


def sawtooth(i, rng, low, high, per_step):
    """A GC sawtooth: rises per_step a sample, drops back to low when it passes high."""
    span = high - low
    return low + (i * per_step) % span + rng.gauss(0, span * 0.01)


def perfmon_healthy():
    rng = random.Random(1202)
    inst = "app"
    paths = ["\\\\%s\\Process(%s)\\%s" % (HOST, inst, c)
             for c in ["ID Process", "Working Set", "Private Bytes", "Handle Count",
                       "Thread Count"]]
    paths.append("\\\\%s\\.NET CLR Memory(%s)\\# Bytes in all Heaps" % (HOST, inst))
    start = datetime.datetime(2026, 12, 1, 10, 0, 0, 457000)
    rows = []
    for i in range(241):
        heap = sawtooth(i, rng, 60 * MB, 140 * MB, 4 * MB)
        private = 90 * MB + heap + rng.gauss(0, 0.5 * MB)
        ws = 70 * MB + heap + rng.gauss(0, 0.5 * MB)
        rows.append((start + datetime.timedelta(seconds=15 * i),
                     [7788, ws, private, 530 + rng.randint(-5, 5), 24 + rng.randint(0, 2),
                      heap]))
    write("perfmon-healthy.csv",
          pdh_csv("Pacific Standard Time", 480, paths, rows, trailing_blank_line=True))


def perfmon_two():
    rng = random.Random(1203)
    counters = ["ID Process", "Working Set", "Private Bytes", "Thread Count"]
    paths = ["\\\\%s\\Process(%s)\\%s" % (HOST, inst, c)
             for inst in ("app", "app#1") for c in counters]
    start = datetime.datetime(2026, 12, 1, 10, 0, 0, 0)
    rows = []
    for i in range(241):
        minutes = i * 15 / 60
        a_private = 200 * MB + rng.gauss(0, 1 * MB)
        a = [5120, 180 * MB + rng.gauss(0, 1 * MB), a_private, 16]
        if i < 4:  # app#1 had not started: PDH had no instance to read
            b = [None] * 4
        else:
            b_private = 100 * MB + 25 * MB * minutes + rng.gauss(0, 1 * MB)
            b = [6144, 80 * MB + 24 * MB * minutes + rng.gauss(0, 1 * MB), b_private, 9]
        if i == 100:
            b[2] = None  # one blank field mid-run: a gap, not a zero
        rows.append((start + datetime.timedelta(seconds=15 * i), a + b))
    write("perfmon-two.csv", pdh_csv("W. Europe Standard Time", -60, paths, rows))


def dotnet_stamp_o(t):
    """DateTime.Now.ToString("O") with the local offset (-08:00): 7 fraction digits."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % (t.microsecond * 10) + "-08:00"


def dotnet_stamp_en_us(t):
    """DateTime.ToString() in en-US: M/d/yyyy h:mm:ss tt."""
    hour = t.hour % 12 or 12
    return "%d/%d/%d %d:%02d:%02d %s" % (t.month, t.day, t.year, hour, t.minute, t.second,
                                         "AM" if t.hour < 12 else "PM")


def net_value(v):
    """double.ToString(CultureInfo.InvariantCulture): the shortest form that round-trips."""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def dotnet_leak_events():
    """(time, provider, display name, tags, counter type, value) of a GC heap leak."""
    rng = random.Random(1204)
    start = datetime.datetime(2026, 12, 1, 9, 30, 0, 250000)
    events = []
    for i in range(61):  # 30 min at 30 s
        t = start + datetime.timedelta(seconds=30 * i)
        minutes = i * 0.5
        gen2 = 40e6 + 15e6 * minutes + rng.gauss(0, 0.5e6)
        gen0 = abs(rng.gauss(6e6, 2e6))
        loh = 3e6 + rng.gauss(0, 0.1e6)
        heap_mb = round((gen0 + gen2 + loh) / MB + rng.gauss(0, 0.3), 3)
        ws_mb = round(heap_mb + 65 + rng.gauss(0, 0.8), 3)
        values = [
            ("CPU Usage (%)", "Metric", round(abs(rng.gauss(3, 1)), 3)),
            ("Working Set (MB)", "Metric", ws_mb),
            ("GC Heap Size (MB)", "Metric", heap_mb),
            ("Gen 0 Size (B)", "Metric", float(round(gen0))),
            ("Gen 2 Size (B)", "Metric", float(round(gen2))),
            ("LOH Size (B)", "Metric", float(round(loh))),
            ("Allocation Rate (B / 30 sec)", "Rate", float(round(abs(rng.gauss(9e8, 1e8))))),
            ("ThreadPool Thread Count", "Metric", float(rng.randint(6, 8))),
        ]
        for k, (name, kind, v) in enumerate(values):
            events.append((t + datetime.timedelta(microseconds=1500 * k + rng.randint(0, 400)),
                           "System.Runtime", name, "", kind, v))
    return events


def dotnet_csv(events):
    text = "Timestamp,Provider,Counter Name,Counter Type,Mean/Increment\r\n"
    for t, provider, name, tags, kind, v in events:
        shown = name + ("[%s]" % tags.replace(",", ";") if tags else "")
        text += "%s,%s,%s,%s,%s\n" % (dotnet_stamp_en_us(t), provider, shown, kind, net_value(v))
    return text


def dotnet_json(events, process, start, closed=True):
    text = '{ "TargetProcess": "%s", "StartTime": "%s", "Events": [' % (process,
                                                                          dotnet_stamp_o(start))
    for t, provider, name, tags, kind, v in events:
        text += ('{ "timestamp": "%s",  "provider": "%s",  "name": "%s",  "tags": "%s",  '
                 '"counterType": "%s",  "meterTags": "",  "instrumentTags": "",  '
                 '"value": %s },') % (dotnet_stamp_o(t), provider, name, tags, kind,
                                      net_value(v))
    if closed:
        text = text[:-1] + "]}"
    return text


def dotnet_unclosed():
    rng = random.Random(1205)
    start = datetime.datetime(2026, 12, 1, 14, 0, 0, 0)
    events = []
    total = 0.0
    for i in range(41):  # 20 min at 30 s
        t = start + datetime.timedelta(seconds=30 * i, milliseconds=rng.randint(0, 20))
        heap = sawtooth(i, rng, 30e6, 90e6, 7e6)
        total += abs(rng.gauss(2.5e8, 2e7))
        values = [
            ("dotnet.process.memory.working_set (By)", "", 110e6 + heap + rng.gauss(0, 1e6)),
            ("dotnet.gc.last_collection.heap.size (By)", "gc.heap.generation=gen0",
             abs(rng.gauss(4e6, 1e6))),
            ("dotnet.gc.last_collection.heap.size (By)", "gc.heap.generation=gen1",
             abs(rng.gauss(1e6, 3e5))),
            ("dotnet.gc.last_collection.heap.size (By)", "gc.heap.generation=gen2", heap),
            ("dotnet.gc.last_collection.heap.size (By)", "gc.heap.generation=loh", 2.5e6),
            ("dotnet.gc.last_collection.heap.size (By)", "gc.heap.generation=poh", 0.4e6),
            ("dotnet.gc.heap.total_allocated (By)", "", total),
            ("dotnet.thread_pool.thread.count", "", float(rng.randint(4, 6))),
        ]
        for k, (name, tags, v) in enumerate(values):
            events.append((t + datetime.timedelta(microseconds=900 * k), "System.Runtime", name,
                           tags, "Metric", float(round(v))))
    # The tool flushes its buffer once it passes 10,000 characters; a session killed after the
    # last flush leaves the text up to there: here, the last event and its comma.
    write("dotnet-counters-unclosed.json",
          dotnet_json(events, "Seeds.Backend", start, closed=False))


def main():
    perfmon_leak()
    perfmon_healthy()
    perfmon_two()
    events = dotnet_leak_events()
    write("dotnet-counters-leak.csv", dotnet_csv(events))
    write("dotnet-counters-leak.json",
          dotnet_json(events, "Seeds.Backend", datetime.datetime(2026, 12, 1, 9, 29, 59, 870000)))
    dotnet_unclosed()


if __name__ == "__main__":
    main()
