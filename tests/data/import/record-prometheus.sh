#!/usr/bin/env bash
# Re-records the real Prometheus fixtures: Debian's prometheus scrapes two exporters of their
# own RSS (rss_exporter.py: one leaking, one flat) every 2 s for 4 minutes; then the window is
# saved as the HTTP API answers it (curl .../api/v1/query_range > prometheus-real.json) and as
# promtool prints it (promtool query range -o json > prometheus-promtool.json). The values
# differ on every run; the tests assert only the classifications.
# Ports 19101, 19102 and 19190 must be free.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-240}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/prometheus.yml" <<'YML'
global:
  scrape_interval: 2s
scrape_configs:
  - job_name: orders
    static_configs:
      - targets: ["127.0.0.1:19101", "127.0.0.1:19102"]
YML
/usr/bin/python3 rss_exporter.py 19101 leak & pids+=($!)
/usr/bin/python3 rss_exporter.py 19102 flat & pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address=127.0.0.1:19190 --log.level=warn & pids+=($!)
sleep 5
start=$(date +%s)
sleep "$seconds"
end=$(date +%s)
query='process_resident_memory_bytes{job="orders"}'
curl -sfG 'http://127.0.0.1:19190/api/v1/query_range' --data-urlencode "query=$query" \
  --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode "step=2" \
  >prometheus-real.json
promtool query range -o json --start="$start" --end="$end" --step=2s \
  http://127.0.0.1:19190 "$query" >prometheus-promtool.json
wc -c prometheus-real.json prometheus-promtool.json
