#!/usr/bin/env bash
# flood.sh: memory and time of a full audit under a SYN flood (issue 10).
#
# Run by `make bench-flood` (which builds bin/flowaudit first). Generates
# testdata/bench/out/synflood.pcap unless it exists: 5,000,000 SYNs, each
# from a new random IPv6 source, answered with a SYN-ACK nobody
# acknowledges, plus 500 real SMTP sessions (testdata/bench/synflood).
# Then, with the file in the page cache:
#   flowaudit replay --host ... (the full audit, streamed)
#   flowaudit flows --format zeek (flow reconstruction alone)
# wall time: median of $RUNS (default 3) with hyperfine; peak RSS: the
# largest of $RUNS runs each, with /usr/bin/time -v. Targets (issue 10):
# replay peaks under 150 MiB, and takes at most 1.3x the time of flows.
# BENCH_STRICT=1 makes a missed target fail the script. Extra arguments
# for the generator go in SYNFLOOD_ARGS (e.g. "-answer none").
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=testdata/bench/out
FILE=${FILE:-$OUT/synflood.pcap}
BIN=${BIN:-bin/flowaudit}
RUNS=${RUNS:-3}
mkdir -p "$OUT"

for tool in hyperfine /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "bench: $BIN missing (run make build)" >&2; exit 2; }

if [ ! -s "$FILE" ]; then
	# shellcheck disable=SC2086 # SYNFLOOD_ARGS is a list of flags
	go run ./testdata/bench/synflood -o "$FILE" ${SYNFLOOD_ARGS:-}
fi
cat "$FILE" >/dev/null

REPLAY="$BIN replay --product mailcleaner --host 192.0.2.10 --host 2001:db8:a::10 --fail-on none -f json -o $OUT/flood.report.json $FILE"
FLOWS="$BIN flows --format zeek $FILE >/dev/null"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "capture: $FILE, $(stat -c %s "$FILE") bytes"

hyperfine --warmup 1 --runs "$RUNS" --export-csv "$OUT/flood.csv" \
	-n replay "$REPLAY" -n flows "$FLOWS"

# Peak RSS in KiB: the largest of $RUNS runs.
rss() {
	local max=0 kib
	for _ in $(seq "$RUNS"); do
		kib=$(/usr/bin/time -v sh -c "$1" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
		[ "$kib" -gt "$max" ] && max=$kib
	done
	echo "$max"
}
R_RSS=$(rss "$REPLAY")
F_RSS=$(rss "$FLOWS")
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
tr -d ' \n' <"$OUT/flood.report.json" | grep -o '"noise":{[^]]*]}' || true

median() { awk -F, -v n="$1" 'NR > 1 && $1 == n { print $4 }' "$OUT/flood.csv"; }
awk -v r="$(median replay)" -v f="$(median flows)" -v rr="$R_RSS" -v fr="$F_RSS" -v strict="${BENCH_STRICT:-0}" 'BEGIN {
	printf "\n%-10s %10s %14s\n", "command", "median s", "peak RSS MiB"
	printf "%-10s %10.3f %14.1f\n", "replay", r, rr / 1024
	printf "%-10s %10.3f %14.1f\n", "flows", f, fr / 1024
	ok1 = rr / 1024 < 150; ok2 = r / f <= 1.3
	printf "\nreplay peak RSS: %.1f MiB (target < 150 MiB)      %s\n", rr / 1024, ok1 ? "ok" : "MISSED"
	printf "replay vs flows: %.2fx its wall time (target <= 1.3x) %s\n", r / f, ok2 ? "ok" : "MISSED"
	if (strict && !(ok1 && ok2)) exit 1
}'
