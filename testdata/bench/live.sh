#!/usr/bin/env bash
# live.sh: peak memory of a live capture under a spoofed SYN flood (issue 10's
# live target: 1M spoofed SYNs on a veth stay under 150 MiB on both backends).
#
# Run by `make bench-live` (which builds bin/flowaudit first), as root. It
# makes two network namespaces joined by a veth pair: fa-bl-gw (gw0,
# 2001:db8:b::10/64, a listener on TCP 25 as a mail gateway has, default route
# back through the peer) and fa-bl-gen (gen0, 2001:db8:b::1/64). For each
# backend in $BACKENDS (default "afpacket ebpf") it runs
#   flowaudit capture --iface gw0 --backend B -p mailcleaner -f json -o OUT --session S
# (capture always writes a session, as flows end: the bench measures that too)
# in fa-bl-gw under /usr/bin/time -v, sends $N (default 1000000) TCP SYNs to
# 2001:db8:b::10:25 from fa-bl-gen, each from a new random address of
# 2001:db8::/32 (testdata/bench/spoof, AF_PACKET, $RATE a second, default
# 100000), waits $SETTLE seconds (default 3), stops the capture with SIGINT
# and prints its peak RSS with what its report counted. The namespaces are
# deleted on exit. BENCH_STRICT=1 makes a peak over 150 MiB fail the script;
# CAPTURE_ARGS adds flags to the capture (e.g. "--max-flows 131072").
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=testdata/bench/out
BIN=${BIN:-bin/flowaudit}
N=${N:-1000000}
RATE=${RATE:-100000}
SETTLE=${SETTLE:-3}
BACKENDS=${BACKENDS:-afpacket ebpf}
GW=fa-bl-gw
GEN=fa-bl-gen
mkdir -p "$OUT"

[ "$(id -u)" = 0 ] || { echo "bench-live: needs root (namespaces, packet sockets, eBPF)" >&2; exit 2; }
for tool in ip socat jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-live: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "bench-live: $BIN missing (run make build)" >&2; exit 2; }
go build -o "$OUT/spoof" ./testdata/bench/spoof

LISTENER=
cleanup() {
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null || true
	ip netns del "$GW" 2>/dev/null || true
	ip netns del "$GEN" 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add "$GW"
ip netns add "$GEN"
ip link add gw0 netns "$GW" type veth peer name gen0 netns "$GEN"
ip -n "$GW" link set lo up
ip -n "$GEN" link set lo up
ip -n "$GW" addr add 2001:db8:b::10/64 dev gw0 nodad
ip -n "$GEN" addr add 2001:db8:b::1/64 dev gen0 nodad
ip -n "$GW" link set gw0 up
ip -n "$GEN" link set gen0 up
ip -n "$GW" -6 route add default via 2001:db8:b::1
MAC=$(ip -n "$GW" -j link show gw0 | jq -r '.[0].address')
ip netns exec "$GW" socat TCP6-LISTEN:25,fork,reuseaddr /dev/null &
LISTENER=$!

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "flood: $N SYNs at $RATE/s to [2001:db8:b::10]:25 from random 2001:db8::/32 sources"
printf '%-9s %14s %10s %10s %12s %10s %s\n' backend "peak RSS MiB" packets flows kernel-drops evicted sent
fail=0
for b in $BACKENDS; do
	log=$OUT/live-$b.log
	/usr/bin/time -v -o "$OUT/live-$b.time" ip netns exec "$GW" "$BIN" capture --iface gw0 --backend "$b" \
		-p mailcleaner --fail-on none -f json -o "$OUT/live-$b.json" --session "$OUT/live-$b.session.json" \
		${CAPTURE_ARGS:-} 2>"$log" &
	tpid=$!
	for _ in $(seq 50); do
		grep -q 'capturing on' "$log" 2>/dev/null && break
		sleep 0.1
	done
	sent=$(ip netns exec "$GEN" "$OUT/spoof" -i gen0 -dst 2001:db8:b::10 -dst-mac "$MAC" -n "$N" -rate "$RATE")
	sleep "$SETTLE"
	# /usr/bin/time's child is `ip netns exec`, which execs flowaudit.
	kill -INT "$(pgrep -P "$tpid")"
	wait "$tpid" || true
	rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$OUT/live-$b.time")
	read -r packets flows drops evicted < <(jq -r '.capture | "\(.packets) \(.flows) \(.kernel_drops) \(.evicted)"' "$OUT/live-$b.json")
	printf '%-9s %14.1f %10s %10s %12s %10s %s\n' "$b" "$(echo "$rss / 1024" | bc -l)" "$packets" "$flows" "$drops" "$evicted" "$sent"
	if [ "$rss" -gt $((150 * 1024)) ]; then
		echo "bench-live: $b peaked at $((rss / 1024)) MiB, over the 150 MiB target" >&2
		fail=1
	fi
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$fail" = 1 ]; then
	exit 1
fi
