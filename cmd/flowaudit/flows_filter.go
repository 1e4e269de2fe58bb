package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// outcomeHousekeeping is the outcome `flows` shows for ICMP control
// messages (analyze.ICMPControl): neither requests nor answers, so
// "unanswered" would mislead.
const outcomeHousekeeping = "housekeeping"

// flowOutcomes are the values of --outcome, in the order help lists them.
var flowOutcomes = []string{string(flow.Established), string(flow.Rejected), string(flow.Unreachable),
	string(flow.Unanswered), string(flow.Unknown), outcomeHousekeeping}

// shownOutcome is the outcome `flows` shows in its table and JSON (and
// --outcome matches): housekeeping for ICMP control messages, else the
// flow's own. conn.log keeps the flow's own, as Zeek would not know ours.
func shownOutcome(f *flow.Flow) string {
	if analyze.ICMPControl(f) != "" {
		return outcomeHousekeeping
	}
	return string(f.Outcome)
}

// flowFilter is `flows`' --host, --port and --outcome: a flow is shown
// when it matches every filter given, and a filter when it matches one of
// its values. The zero value shows every flow.
type flowFilter struct {
	hosts    []netip.Prefix
	ports    []uint16
	outcomes []string
}

// parseFlowFilter reads the filters' flag values; a bad value is a
// one-line usage error naming the flag and the value.
func parseFlowFilter(hosts, ports, outcomes []string) (flowFilter, error) {
	var ff flowFilter
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		p, err := netip.ParsePrefix(h)
		if err != nil {
			a, aerr := netip.ParseAddr(h)
			if aerr != nil || a.Zone() != "" {
				return ff, fmt.Errorf("--host %q: want an address or CIDR (192.0.2.10, 198.51.100.0/24, 2001:db8::/32)", h)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		ff.hosts = append(ff.hosts, p.Masked())
	}
	for _, s := range ports {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
		if err != nil {
			return ff, fmt.Errorf("--port %q: want a port number, 0 to 65535", s)
		}
		ff.ports = append(ff.ports, uint16(n))
	}
	for _, o := range outcomes {
		o = strings.ToLower(strings.TrimSpace(o))
		if !slices.Contains(flowOutcomes, o) {
			return ff, fmt.Errorf("--outcome %q: want %s", o, strings.Join(flowOutcomes, ", "))
		}
		ff.outcomes = append(ff.outcomes, o)
	}
	return ff, nil
}

// active reports whether any filter was given.
func (ff *flowFilter) active() bool {
	return len(ff.hosts)+len(ff.ports)+len(ff.outcomes) > 0
}

// match reports whether f passes the filters. --port matches TCP and UDP
// ports only: an ICMP flow's "ports" are its message type and code. It
// allocates nothing (conn.log rows are streamed through it).
func (ff *flowFilter) match(f *flow.Flow) bool {
	if len(ff.hosts) > 0 {
		o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
		if !slices.ContainsFunc(ff.hosts, func(p netip.Prefix) bool { return p.Contains(o) || p.Contains(r) }) {
			return false
		}
	}
	if len(ff.ports) > 0 {
		if f.Proto != flow.ProtoTCP && f.Proto != flow.ProtoUDP {
			return false
		}
		if !slices.Contains(ff.ports, f.Orig.Port()) && !slices.Contains(ff.ports, f.Resp.Port()) {
			return false
		}
	}
	if len(ff.outcomes) > 0 && !slices.Contains(ff.outcomes, shownOutcome(f)) {
		return false
	}
	return true
}
