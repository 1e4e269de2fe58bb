#!/usr/bin/env bash
# bounds.sh: what hostile or very large inputs cost flowaudit (issue 10):
# time, exit status and peak RSS of each command on generated inputs. The
# figures are in docs/decoding.md ("Bounds") and docs/session.md ("Size and memory").
#
#   make build && bash testdata/bench/bounds.sh
#
# Inputs go to testdata/bench/out/bounds (made once, then reused): five
# gzip captures of about 1 GiB once inflated (testdata/bench/bounds), a site
# file just under the 4 MiB limit, and a session of $FLOWS flows (default
# 1,000,000) scaled up from a replay of a 40,000-flow synthetic capture.
# BIN selects the binary (an older build shows the "before" figures); each
# command is killed after $LIMIT s (default 120), its peak so far shown.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=testdata/bench/out/bounds
BIN=${BIN:-bin/flowaudit}
FLOWS=${FLOWS:-1000000}
LIMIT=${LIMIT:-120}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "bounds: $BIN missing (run make build)" >&2; exit 2; }

[ -s "$OUT/pcap-bomb.pcap.gz" ] || go run ./testdata/bench/bounds captures "$OUT"
[ -s "$OUT/site-4mib.yaml" ] || go run ./testdata/bench/bounds site "$OUT/site-4mib.yaml"
if [ ! -s "$OUT/session-$FLOWS.json" ]; then
	[ -s "$OUT/synth40k.pcap" ] || go run ./testdata/bench/synth -flows 40000 -o "$OUT/synth40k.pcap"
	"$BIN" replay -p mailcleaner --host 192.0.2.10 --fail-on none --session "$OUT/s40k.json" -o /dev/null "$OUT/synth40k.pcap"
	go run ./testdata/bench/bounds scale -n "$FLOWS" "$OUT/s40k.json" "$OUT/session-$FLOWS.json"
fi

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); binary $BIN ($("$BIN" --version 2>/dev/null || echo '?'))"
printf '%-62s %6s %8s %10s\n' command exit seconds "peak MiB"
measure() {
	local t hwm=0 start pid child rc secs kib
	t=$(mktemp)
	start=$(date +%s)
	/usr/bin/time -o "$t" -f '%e %M' "$BIN" "$@" >/dev/null 2>&1 &
	pid=$!
	# Watch the command's own peak (VmHWM) so that one killed at $LIMIT s,
	# which time cannot report on, still has a figure.
	while kill -0 "$pid" 2>/dev/null; do
		child=$(pgrep -P "$pid" || true)
		if [ -n "$child" ]; then
			hwm=$(awk -v h="$hwm" '/^VmHWM/ { h = $2 } END { print h }' "/proc/$child/status" 2>/dev/null || echo "$hwm")
			if [ $(($(date +%s) - start)) -ge "$LIMIT" ]; then
				kill -KILL "$child" 2>/dev/null || true
			fi
		fi
		sleep 0.1
	done
	set +e
	wait "$pid"
	rc=$?
	set -e
	read -r secs kib < <(tail -n 1 "$t") || true # after "Command exited with non-zero status N"
	rm -f "$t"
	if [ "$rc" = 137 ]; then
		printf '%-62s %6s %8s %10.1f (still growing)\n' "$*" killed "$LIMIT" "$(echo "$hwm / 1024" | bc -l)"
		return
	fi
	printf '%-62s %6s %8s %10.1f\n' "$*" "$rc" "$secs" "$(echo "$kib / 1024" | bc -l)"
}
for f in pcap-bomb.pcap.gz pcapng-bomb.pcapng.gz pcapng-idb.pcapng.gz pcapng-sections.pcapng.gz pcapng-nrb.pcapng.gz; do
	measure flows "$OUT/$f"
done
measure replay -p mailcleaner --host 192.0.2.10 "$OUT/pcap-bomb.pcap.gz"
measure catalog list --catalog /dev/zero
measure replay -p mailcleaner --host 192.0.2.10 --site /dev/zero "$OUT/synth40k.pcap"
measure report -p mailcleaner /dev/zero
measure catalog validate --site "$OUT/site-4mib.yaml"
echo "session: $(stat -c %s "$OUT/session-$FLOWS.json") bytes, $FLOWS flows"
measure report -p mailcleaner --host 192.0.2.10 --fail-on none -f json -o /dev/null "$OUT/session-$FLOWS.json"
