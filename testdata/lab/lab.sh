#!/usr/bin/env bash
# flowaudit lab: a mail gateway behind a firewall, and "the internet", in
# three network namespaces joined by veth pairs. Scenarios (tables in
# scenarios/*.tsv) set the firewall policy, start listeners, drive traffic
# from the right namespace and write the truth a capture of it must yield.
#
#   lab.sh up ID                 create namespaces fa-{gw,fw,inet}-ID
#   lab.sh down ID               remove them (and every process in them)
#   lab.sh scenario ID NAME      run scenario NAME in lab ID
#   lab.sh record ID NAME OUT.pcap  run NAME while tcpdump records the
#                                gateway interface; writes OUT.truth.yaml
#   lab.sh truth NAME OUT.yaml   write NAME's truth without running it
#   lab.sh exec ID gw|fw|inet CMD...   run CMD inside one namespace
#   lab.sh oneshot NAME OUT.pcap up + record + down with a fresh ID
#
# docs/lab.md describes the topology, the scenario format and the truth.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCEN_DIR=${FA_LAB_SCENARIOS:-$LAB_DIR/scenarios}
STATE_ROOT=${FA_LAB_STATE:-/run/flowaudit-lab}

# Fixed topology. Interface names live inside the namespaces, so they do
# not collide between parallel labs; only namespace names carry the ID.
GW_IF=gw0
FW_LAN=lan0
FW_WAN=wan0
INET_IF=inet0
GW4=192.0.2.10
GW6=2001:db8:a::10
FW_LAN4=192.0.2.1
FW_LAN6=2001:db8:a::1
FW_WAN4=10.255.0.1
FW_WAN6=2001:db8:ff::1
INET_WAN4=10.255.0.2
INET_WAN6=2001:db8:ff::2
DNS4=198.51.100.53
DNS6=2001:db8:b::53

die() { echo "lab: $*" >&2; exit 1; }

# Cleanups run in reverse order when the script exits for any reason (an
# error under set -e, a signal, or normally): a lab half brought up, a
# tcpdump, listeners. push_cleanup adds one, pop_cleanup drops the last.
CLEANUPS=()
run_cleanups() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
	CLEANUPS=()
}
push_cleanup() { CLEANUPS+=("$1"); }
pop_cleanup() { unset 'CLEANUPS[${#CLEANUPS[@]}-1]'; }
trap run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log() { [[ -n ${FA_LAB_QUIET:-} ]] || echo "lab: $*" >&2; }

# need CMD PACKAGE: fail naming the Debian package that provides CMD.
need() {
	command -v "$1" >/dev/null 2>&1 || die "missing tool '$1': install the Debian package '$2' (apt-get install $2)"
}

check_tools() {
	need ip iproute2
	need nft nftables
	need socat socat
	need dnsmasq dnsmasq-base
	need tcpdump tcpdump
	need dig dnsutils
	need ping iputils-ping
	need timeout coreutils
	need awk mawk
	# socat EXEC splits its command on spaces and its address on ':' and ','.
	[[ $LAB_DIR =~ ^[A-Za-z0-9_./+-]+$ ]] || die "the lab must live in a path without spaces, ':' or ',' (socat EXEC), not $LAB_DIR"
	[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, nftables, tcpdump); run with sudo"
}

check_id() {
	[[ ${1:-} =~ ^[A-Za-z0-9]{1,12}$ ]] || die "lab ID must be 1-12 letters or digits, got '${1:-}'"
}

ns() { echo "fa-$1-$ID"; }
# ns_exists ROLE: whether this lab's namespace for ROLE exists. (Not
# `ip netns list | grep -q`: under pipefail, grep quitting early can fail
# the pipeline.)
ns_exists() { [[ -e /run/netns/$(ns "$1") ]]; }
nsx() { local role=$1; shift; ip netns exec "$(ns "$role")" "$@"; }

scenario_file() {
	local f="$SCEN_DIR/$1.tsv"
	[[ -f $f ]] || die "no scenario '$1' (looked for $f; have: $(cd "$SCEN_DIR" && ls *.tsv | sed 's/\.tsv$//' | tr '\n' ' '))"
	echo "$f"
}

# rows FILE: the scenario table without comments and blank lines.
rows() { awk '!/^[[:space:]]*(#|$)/' "$1"; }

is6() { [[ $1 == *:* ]]; }

# ---------------------------------------------------------------- up/down

cmd_up() {
	check_tools
	local state="$STATE_ROOT/$ID"
	ns_exists gw && die "lab $ID already exists (lab.sh down $ID)"
	mkdir -p "$state"
	push_cleanup 'echo "lab: up $ID failed, removing it" >&2; cmd_down >/dev/null 2>&1'

	local r
	for r in gw fw inet; do
		ip netns add "$(ns "$r")"
		nsx "$r" ip link set lo up
		# No duplicate address detection: addresses are usable at once, so
		# scenarios start without waiting and captures hold no DAD noise.
		nsx "$r" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		nsx "$r" sysctl -qw net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0
	done
	ip link add name "$GW_IF" netns "$(ns gw)" type veth peer name "$FW_LAN" netns "$(ns fw)"
	ip link add name "$FW_WAN" netns "$(ns fw)" type veth peer name "$INET_IF" netns "$(ns inet)"

	nsx gw ip addr add "$GW4/24" dev "$GW_IF"
	nsx gw ip addr add "$GW6/64" dev "$GW_IF" nodad
	nsx gw ip link set "$GW_IF" up
	nsx gw ip route add default via "$FW_LAN4"
	nsx gw ip -6 route add default via "$FW_LAN6"

	nsx fw ip addr add "$FW_LAN4/24" dev "$FW_LAN"
	nsx fw ip addr add "$FW_LAN6/64" dev "$FW_LAN" nodad
	nsx fw ip addr add "$FW_WAN4/30" dev "$FW_WAN"
	nsx fw ip addr add "$FW_WAN6/64" dev "$FW_WAN" nodad
	nsx fw ip link set "$FW_LAN" up
	nsx fw ip link set "$FW_WAN" up
	nsx fw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	nsx fw ip route add 198.51.100.0/24 via "$INET_WAN4"
	nsx fw ip route add 203.0.113.0/24 via "$INET_WAN4"
	nsx fw ip -6 route add 2001:db8:b::/48 via "$INET_WAN6"
	# An empty policy; each scenario loads its own rules into this table.
	nsx fw nft -f - <<-EOF
		table inet falab {
			chain forward { type filter hook forward priority 0; policy accept; }
		}
	EOF

	nsx inet ip addr add "$INET_WAN4/30" dev "$INET_IF"
	nsx inet ip addr add "$INET_WAN6/64" dev "$INET_IF" nodad
	nsx inet ip addr add "$DNS4/32" dev "$INET_IF"
	nsx inet ip addr add "$DNS6/128" dev "$INET_IF" nodad
	nsx inet ip link set "$INET_IF" up
	nsx inet ip route add default via "$FW_WAN4"
	nsx inet ip -6 route add default via "$FW_WAN6"

	start_resolver "$state"
	pop_cleanup
	log "lab $ID up: gateway $(ns gw) $GW_IF $GW4 $GW6"
}

# start_resolver STATE: dnsmasq in the internet namespace, answering the
# names every scenario table uses (A and AAAA) and nothing else.
start_resolver() {
	local state=$1 args=("--host-record=resolver.lab.test,$DNS4,$DNS6") rec
	while read -r rec; do args+=("--host-record=$rec"); done < <(
		for f in "$SCEN_DIR"/*.tsv; do rows "$f"; done |
			awk '$1=="out" && $8!="-" && $8!~/^=/ && !s[$8 SUBSEP $4]++ { a[$8] = a[$8] "," $4 } END { for (n in a) print n a[n] }' | sort)
	nsx inet dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
		--listen-address="$DNS4" --listen-address="$DNS6" --except-interface=lo \
		--pid-file="$state/dnsmasq.pid" --log-facility="$state/dnsmasq.log" \
		--user=root --group=root "${args[@]}" \
		|| die "dnsmasq failed to start in $(ns inet) (see $state/dnsmasq.log)"
}

cmd_down() {
	local r pid
	for r in gw fw inet; do
		ns_exists "$r" || continue
		# Only processes inside this lab's namespaces: listeners, dnsmasq,
		# tcpdump. They were all started by this script.
		for pid in $(ip netns pids "$(ns "$r")" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
	done
	sleep 0.2
	for r in gw fw inet; do
		for pid in $(ip netns pids "$(ns "$r")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		# Deleting a namespace destroys its veth ends, and the peers with them.
		ip netns del "$(ns "$r")" 2>/dev/null || true
	done
	rm -rf "${STATE_ROOT:?}/$ID"
	log "lab $ID down"
}

# ---------------------------------------------------------------- scenario

# fw_rules FILE: the scenario's firewall policy as nft rules (default accept).
fw_rules() {
	rows "$1" | while read -r dir proto gw peer port fw answer name label; do
		[[ $fw == accept ]] && continue
		local fam=ip src dst match verdict
		is6 "$peer" && fam=ip6
		if [[ $dir == out ]]; then src=$gw dst=$peer; else src=$peer dst=$gw; fi
		case $proto in
		tcp | udp) match="$proto dport $port" ;;
		icmp) if [[ $fam == ip ]]; then match="icmp type echo-request"; else match="icmpv6 type echo-request"; fi ;;
		*) die "$1: unknown protocol '$proto'" ;;
		esac
		case $fw in
		drop) verdict=drop ;;
		reset) [[ $proto == tcp ]] || die "$1: reset needs tcp"; verdict="reject with tcp reset" ;;
		admin) if [[ $fam == ip ]]; then verdict="reject with icmp type admin-prohibited"; else verdict="reject with icmpv6 type admin-prohibited"; fi ;;
		*) die "$1: unknown firewall action '$fw'" ;;
		esac
		echo "add rule inet falab forward $fam saddr $src $fam daddr $dst $match $verdict"
	done
}

# sock A P: socat's spelling of an address and port; fam A: 4 or 6.
sock() { if is6 "$1"; then echo "[$1]:$2"; else echo "$1:$2"; fi; }
fam() { if is6 "$1"; then echo 6; else echo 4; fi; }

# start_listeners FILE STATE: one socat per (namespace, address, port,
# protocol) a row needs answered, bound to that exact address so other
# addresses stay closed.
start_listeners() {
	local file=$1 state=$2
	rows "$file" | awk '$6=="accept" && ($7=="service" || $7=="silent") && $2!="icmp" {
		if ($1=="out") print "inet", $4, $5, $2, $7; else print "gw", $3, $5, $2, $7 }' | sort -u |
		while read -r role addr port proto kind; do
			local f; f=$(fam "$addr")
			local b="bind=$addr" spec
			is6 "$addr" && b="bind=[$addr]"
			case $proto/$kind in
			tcp/service) spec=(-T3 "TCP$f-LISTEN:$port,$b,reuseaddr,fork" "EXEC:$LAB_DIR/speak.sh server $("$LAB_DIR/speak.sh" kind "$port")") ;;
			udp/service) spec=(-T1 "UDP$f-RECVFROM:$port,$b,fork" PIPE) ;;
			udp/silent) spec=(-u "UDP$f-RECV:$port,$b" OPEN:/dev/null) ;;
			*) die "$file: '$kind' is not a listener kind for $proto" ;;
			esac
			# ip netns exec execs socat, so $! is socat itself (not a
			# subshell) and stop_listeners can end it by pid.
			ip netns exec "$(ns "$role")" socat "${spec[@]}" >>"$state/listeners.log" 2>&1 &
			echo $! >>"$state/listeners.pids"
		done
	# Wait until every listener is bound (socat needs a moment to start,
	# longer on a loaded machine): a flow sent before would meet a closed
	# port and contradict the truth.
	local i want have=0
	want=$(wc -l <"$state/listeners.pids" 2>/dev/null || echo 0)
	for i in $(seq 200); do
		have=$( (nsx inet ss -Hlntup; nsx gw ss -Hlntup) | grep -c '"socat"' || true)
		((have >= want)) && return 0
		sleep 0.05
	done
	die "only $have of $want listeners came up within 10 s (see $state/listeners.log)"
}

stop_listeners() {
	local state=$1 pid
	[[ -f $state/listeners.pids ]] || return 0
	while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$state/listeners.pids"
	while read -r pid; do wait "$pid" 2>/dev/null || true; done <"$state/listeners.pids"
	rm -f "$state/listeners.pids"
}

# srcport LABEL: a fixed client port for the DNS queries of one row. With
# ports the kernel picks, two queries of a scenario could share a port by
# chance, and a capture backend that keys flows by 5-tuple alone (eBPF)
# would rightly see one flow where the truth lists two.
srcport() {
	local sum
	sum=$(printf '%s' "$1" | cksum)
	echo $((20000 + ${sum%% *} % 20000))
}

# resolve SRC RESOLVER NAME QTYPE LABEL: the gateway asks the lab's resolver, as
# many times as it takes (at most 3) to get an answer. A row whose truth
# names its peer is worthless without the answer in the capture, and under
# load (several labs at once) one query can miss a 1 s timeout.
resolve() {
	local try out
	for try in 1 2 3; do
		out=$(nsx gw dig +time=2 +tries=1 +short -b "$1#$(srcport "$5")" "@$2" "$3" "$4" 2>/dev/null) || true
		[[ -n $out ]] && return 0
	done
	die "gateway $1 got no $4 answer for $3 from $2 in 3 tries (see $STATE_ROOT/$ID/dnsmasq.log)"
}

# flow ROW...: drive one row's traffic from the side that opens it. Every
# attempt is bounded: connect-timeout 3 s (SYN, retransmit at 1 s and 3 s),
# UDP and ICMP wait 1 s for an answer.
flow() {
	local dir=$1 proto=$2 gw=$3 peer=$4 port=$5 answer=$7 name=$8 label=$9
	local from_role src dst
	if [[ $dir == out ]]; then from_role=gw src=$gw dst=$peer; else from_role=inet src=$peer dst=$gw; fi
	# "=NAME": no lookup, the name is only on the wire (HTTP Host, SNI).
	local wire_name=${name#=}
	if [[ $dir == out && $name != - && $name != =* ]]; then
		local qtype=A resolver=$DNS4
		is6 "$peer" && qtype=AAAA resolver=$DNS6
		# The gateway resolves the name first, as real software does, so
		# the capture carries the DNS answer passive naming learns from.
		# It asks from the row's own address, over the row's family.
		resolve "$gw" "$resolver" "$name" "$qtype" "$label"
	fi
	local f; f=$(fam "$dst")
	local b="bind=$src"
	is6 "$src" && b="bind=[$src]"
	if [[ $answer == resolver ]]; then
		# The lab's resolver (dnsmasq) serves port 53 itself: ask it a
		# real question, over TCP or UDP as the row says.
		local tcpflag=+notcp
		[[ $proto == tcp ]] && tcpflag=+tcp
		nsx "$from_role" dig "$tcpflag" +time=1 +tries=1 +short -b "$src#$(srcport "$label")" "@$dst" -p "$port" "resolver.lab.test" A >/dev/null 2>&1 || true
		return 0
	fi
	case $proto in
	tcp)
		# The protocol's opening bytes (speak.sh); HTTP Host and TLS SNI
		# carry the row's name when it has one.
		local kind host=$wire_name
		kind=$("$LAB_DIR/speak.sh" kind "$port")
		[[ $kind == http && $host == - ]] && host=$dst
		# The bytes are made before connecting: on a loaded machine the
		# shell that builds a ClientHello can take longer than socat's
		# inactivity timeout (-T3), which would then close a connection
		# that sent nothing.
		local payload
		payload=$(mktemp)
		"$LAB_DIR/speak.sh" client "$kind" "$host" "$label" >"$payload"
		nsx "$from_role" timeout 6 socat -t2 -T3 - "TCP$f:$(sock "$dst" "$port"),$b,connect-timeout=3" <"$payload" >/dev/null 2>&1 || true
		rm -f "$payload"
		;;
	udp) printf '%s %s\n' "$label" "$port" | nsx "$from_role" timeout 3 socat -T1 - "UDP$f:$(sock "$dst" "$port"),$b" >/dev/null 2>&1 || true ;;
	icmp) nsx "$from_role" ping -"$f" -c1 -W1 -I "$src" "$dst" >/dev/null 2>&1 || true ;;
	esac
}

cmd_scenario() {
	local name=$1 file state="$STATE_ROOT/$ID"
	file=$(scenario_file "$name")
	[[ -d $state ]] || die "lab $ID is not up (lab.sh up $ID)"
	ns_exists gw || die "lab $ID is not up (lab.sh up $ID)"

	# Extra addresses the table uses: gateway side on gw0, peers on inet0.
	local a
	for a in $(rows "$file" | awk '{print $3}' | sort -u); do
		if is6 "$a"; then nsx gw ip addr replace "$a/64" dev "$GW_IF" nodad; else nsx gw ip addr replace "$a/24" dev "$GW_IF"; fi
	done
	for a in $(rows "$file" | awk '{print $4}' | sort -u); do
		if is6 "$a"; then nsx inet ip addr replace "$a/128" dev "$INET_IF" nodad; else nsx inet ip addr replace "$a/32" dev "$INET_IF"; fi
	done

	{ echo "flush chain inet falab forward"; fw_rules "$file"; } | nsx fw nft -f - ||
		die "$file: loading the firewall policy failed"
	push_cleanup "stop_listeners '$state'"
	start_listeners "$file" "$state"

	# Rows run one after another, each started 0.3 s after the previous
	# one so that the capture reads in table order while the 3 s timeouts
	# of blocked attempts overlap.
	local pids=() row
	while IFS= read -r row; do
		# shellcheck disable=SC2086
		flow $row &
		pids+=($!)
		sleep 0.3
	done < <(rows "$file")
	local p failed=0
	for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	stop_listeners "$state"
	pop_cleanup
	((failed == 0)) || die "scenario $name: $failed rows could not be driven (see above)"
	log "scenario $name done ($(rows "$file" | wc -l) rows)"
}

# ---------------------------------------------------------------- truth

# cmd_truth NAME OUT: the expected outcome of every row, derived from the
# firewall action and what answers, plus the per-port summary an audit
# must reach. See docs/lab.md for the vocabulary.
cmd_truth() {
	local name=$1 out=$2 file
	file=$(scenario_file "$name")
	# "#@ product: NAME" in the table names the catalog product the
	# expect column refers to.
	local product
	product=$(awk '/^#@ product:/ { print $3; exit }' "$file")
	[[ -n $product ]] || die "$file: no '#@ product: NAME' line"
	push_cleanup "rm -f '$out.tmp'"
	rows "$file" | awk -v scen="$name" -v product="$product" -v dns4="$DNS4" -v dns6="$DNS6" -f "$LAB_DIR/truth.awk" >"$out.tmp"
	mv "$out.tmp" "$out"
	pop_cleanup
}

# ---------------------------------------------------------------- record

cmd_record() {
	local name=$1 out=$2 state="$STATE_ROOT/$ID"
	scenario_file "$name" >/dev/null
	[[ -d $state ]] || die "lab $ID is not up (lab.sh up $ID)"
	local tmp="$out.partial" tpid
	ip netns exec "$(ns gw)" tcpdump -Z root -U -s 0 -i "$GW_IF" -w "$tmp" >"$state/tcpdump.log" 2>&1 &
	tpid=$!
	push_cleanup "kill -INT $tpid 2>/dev/null; wait $tpid 2>/dev/null; rm -f '$tmp'"
	local i
	for i in $(seq 200); do
		grep -q "listening on" "$state/tcpdump.log" && break
		sleep 0.05
	done
	grep -q "listening on" "$state/tcpdump.log" || die "tcpdump did not start: $(cat "$state/tcpdump.log")"
	cmd_scenario "$name"
	sleep 1 # late answers, FINs and retransmissions
	kill -INT "$tpid"
	wait "$tpid" || true
	pop_cleanup
	mv "$tmp" "$out"
	cmd_truth "$name" "${out%.pcap}.truth.yaml"
	log "recorded $out ($(stat -c %s "$out") bytes) and ${out%.pcap}.truth.yaml"
}

cmd_oneshot() {
	local name=$1 out=$2
	ID="o$$"
	push_cleanup cmd_down
	cmd_up
	cmd_record "$name" "$out"
	pop_cleanup
	cmd_down
}

# ---------------------------------------------------------------- main

usage() {
	sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

main() {
	local cmd=${1:-}
	[[ -n $cmd ]] || usage
	shift
	case $cmd in
	up) [[ $# -eq 1 ]] || usage; ID=$1; check_id "$ID"; cmd_up ;;
	down) [[ $# -eq 1 ]] || usage; ID=$1; check_id "$ID"; need ip iproute2; cmd_down ;;
	scenario) [[ $# -eq 2 ]] || usage; ID=$1; check_id "$ID"; check_tools; cmd_scenario "$2" ;;
	record) [[ $# -eq 3 ]] || usage; ID=$1; check_id "$ID"; check_tools; cmd_record "$2" "$3" ;;
	truth) [[ $# -eq 2 ]] || usage; need awk mawk; cmd_truth "$1" "$2" ;;
	exec)
		[[ $# -ge 3 ]] || usage
		ID=$1; check_id "$ID"
		case $2 in gw | fw | inet) ;; *) die "exec: role must be gw, fw or inet, got '$2'" ;; esac
		local role=$2; shift 2
		ip netns exec "$(ns "$role")" "$@"
		;;
	oneshot) [[ $# -eq 2 ]] || usage; check_tools; cmd_oneshot "$1" "$2" ;;
	-h | --help | help) usage ;;
	*) die "unknown command '$cmd' (up, down, scenario, record, truth, exec, oneshot)" ;;
	esac
}

main "$@"
