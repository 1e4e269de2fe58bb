#!/usr/bin/env bash
# bench.sh: time flowaudit against tcpdump and argus on one synthetic capture.
#
# Run by `make bench` (which builds bin/flowaudit first). Generates
# testdata/bench/out/synth.pcap (about 5.2 million packets in 200,000 flows,
# deterministic; see testdata/bench/synth) unless it exists, then times in
# one run, median of $RUNS (default 3) with hyperfine:
#   flowaudit replay (full audit) when `bin/flowaudit replay --help` works,
#   flowaudit flows --format zeek (flow reconstruction alone)
#   tcpdump -r FILE -w /dev/null
#   argus -r FILE -w OUT/x.argus
# and each one's peak RSS with /usr/bin/time -v. Targets (issue 3): flowaudit
# at least 5x faster than argus, wall at most 1.5x tcpdump's, peak RSS at
# most 100 MiB. BENCH_STRICT=1 makes a missed target fail the script.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=testdata/bench/out
FILE=${FILE:-$OUT/synth.pcap}
BIN=${BIN:-bin/flowaudit}
RUNS=${RUNS:-3}
mkdir -p "$OUT"

for tool in hyperfine tcpdump argus /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "bench: $BIN missing (run make build)" >&2; exit 2; }

if [ ! -s "$FILE" ]; then
	go run ./testdata/bench/synth -o "$FILE"
fi
cat "$FILE" >/dev/null # into the page cache, as for every tool below

# The flow pipeline alone, and (once it exists) the full audit, which is
# what the targets are about. The gateway address is given so the audit
# need not keep every flow to infer it.
FLOWS="$BIN flows --format zeek $FILE"
FA="$FLOWS"
FA_NAME="flowaudit flows"
CMDS=()
if "$BIN" replay --help >/dev/null 2>&1; then
	FA="$BIN replay --product mailcleaner --host 192.0.2.10 --fail-on none $FILE"
	FA_NAME="flowaudit replay"
	CMDS=(-n "flowaudit flows" "$FLOWS >/dev/null")
fi
TCPDUMP="tcpdump -r $FILE -w /dev/null"
ARGUS="argus -r $FILE -w $OUT/x.argus"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "capture: $FILE, $(stat -c %s "$FILE") bytes"

hyperfine --warmup 1 --runs "$RUNS" --export-csv "$OUT/hyperfine.csv" \
	--prepare "rm -f $OUT/x.argus" \
	-n "$FA_NAME" "$FA >/dev/null" "${CMDS[@]}" \
	-n tcpdump "$TCPDUMP 2>/dev/null" \
	-n argus "$ARGUS"

# Peak RSS in KiB of one run of a command.
rss() {
	rm -f "$OUT/x.argus"
	/usr/bin/time -v sh -c "$1" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'
}
FA_RSS=$(rss "$FA")
FL_RSS=$(rss "$FLOWS")
TD_RSS=$(rss "$TCPDUMP 2>/dev/null")
AR_RSS=$(rss "$ARGUS")
rm -f "$OUT/x.argus"

median() { awk -F, -v n="$1" 'NR > 1 && $1 == n { print $4 }' "$OUT/hyperfine.csv"; }
FA_T=$(median "$FA_NAME")
FL_T=$(median "flowaudit flows")
TD_T=$(median tcpdump)
AR_T=$(median argus)

awk -v fa="$FA_T" -v fl="$FL_T" -v flr="$FL_RSS" -v td="$TD_T" -v ar="$AR_T" -v far="$FA_RSS" -v tdr="$TD_RSS" -v arr="$AR_RSS" \
	-v name="$FA_NAME" -v strict="${BENCH_STRICT:-0}" 'BEGIN {
	printf "\n%-18s %10s %12s\n", "command", "median s", "peak RSS MiB"
	printf "%-18s %10.3f %12.1f\n", name, fa, far / 1024
	if (name != "flowaudit flows") printf "%-18s %10.3f %12.1f\n", "flowaudit flows", fl, flr / 1024
	printf "%-18s %10.3f %12.1f\n", "tcpdump", td, tdr / 1024
	printf "%-18s %10.3f %12.1f\n", "argus", ar, arr / 1024
	speed = ar / fa; ratio = fa / td; mib = far / 1024
	ok1 = speed >= 5; ok2 = ratio <= 1.5; ok3 = mib <= 100
	printf "\nvs argus:   %.2fx faster (target >= 5x)      %s\n", speed, ok1 ? "ok" : "MISSED"
	printf "vs tcpdump: %.2fx its wall time (target <= 1.5x) %s\n", ratio, ok2 ? "ok" : "MISSED"
	printf "peak RSS:   %.1f MiB (target <= 100 MiB)      %s\n", mib, ok3 ? "ok" : "MISSED"
	if (strict && !(ok1 && ok2 && ok3)) exit 1
}'
