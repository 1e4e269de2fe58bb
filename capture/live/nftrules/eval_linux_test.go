package nftrules

import (
	"encoding/binary"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
)

// oneChain is a ruleset of one inet base chain on hook holding rules, as
// Load would build it from netlink.
func oneChain(hook uint32, rules ...[]expr.Any) *Ruleset {
	c := &nftChain{key: chainKey{nftables.TableFamilyINet, "t", "c"}, hook: hook}
	for i, exprs := range rules {
		c.rules = append(c.rules, &nftables.Rule{Handle: uint64(i + 1), Exprs: exprs})
	}
	return &Ruleset{chains: map[chainKey]*nftChain{c.key: c}, base: []*nftChain{c}}
}

var (
	dropV   = &expr.Verdict{Kind: expr.VerdictDrop}
	l4tcp   = []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Register: 1, Data: []byte{6}}}
	dport   = &expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: 1}
	out2703 = q(capture.DropOutput, tcp, gw4, peer4+":2703")
)

func cat(parts ...any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		switch p := p.(type) {
		case []expr.Any:
			out = append(out, p...)
		case expr.Any:
			out = append(out, p)
		}
	}
	return out
}

// TestEvalExpressions covers expressions the nft-built rulesets of
// TestPrivilegedNftLookup do not produce.
func TestEvalExpressions(t *testing.T) {
	for _, c := range []struct {
		name    string
		rs      *Ruleset
		q       capture.RuleQuery
		handle  uint64 // 0: none found
		certain bool
	}{{
		name: "xt tcp match (iptables-legacy style in nft), inverted source ports",
		rs: oneChain(unix.NF_INET_LOCAL_OUT, cat(&expr.Match{Name: "tcp", Info: &xt.Tcp{SrcPorts: [2]uint16{0, 1023},
			DstPorts: [2]uint16{2700, 2710}, InvFlags: xt.TcpInvSrcPorts}}, dropV)),
		q: out2703, handle: 1, certain: true,
	}, {
		name: "xt udp match does not match TCP",
		rs: oneChain(unix.NF_INET_LOCAL_OUT, cat(&expr.Match{Name: "udp", Info: &xt.Udp{SrcPorts: [2]uint16{0, 65535},
			DstPorts: [2]uint16{2703, 2703}}}, dropV)),
		q: out2703,
	}, {
		name: "an expression the lookup cannot evaluate (limit) leaves the rule uncertain",
		rs: oneChain(unix.NF_INET_LOCAL_OUT, cat(&expr.Limit{Rate: 1, Unit: expr.LimitTimeSecond}, l4tcp, dport,
			&expr.Cmp{Register: 1, Data: []byte{0x0a, 0x8f}}, dropV)),
		q: out2703, handle: 1,
	}, {
		name: "unknown without the port is not named",
		rs: oneChain(unix.NF_INET_LOCAL_OUT, cat(&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Cmp{Register: 1, Data: []byte{8, 0, 0, 0}}, dropV)),
		q: out2703,
	}, {
		name: "bitwise mask on the destination (prefix), in a 32-bit register",
		rs: oneChain(unix.NF_INET_LOCAL_OUT, cat(
			&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4, DestRegister: unix.NFT_REG32_02},
			&expr.Bitwise{SourceRegister: unix.NFT_REG32_02, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 255, 0},
				Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Register: 1, Data: []byte{198, 51, 100, 0}}, &expr.Reject{})),
		q: out2703, handle: 1, certain: true,
	}, {
		name: "range neq, cmp gt",
		rs: oneChain(unix.NF_INET_LOCAL_OUT,
			cat(l4tcp, dport, &expr.Range{Op: expr.CmpOpNeq, Register: 1, FromData: []byte{0x0a, 0x00},
				ToData: []byte{0x0a, 0xff}}, dropV),
			cat(l4tcp, dport, &expr.Cmp{Op: expr.CmpOpGt, Register: 1, Data: []byte{0x04, 0x00}}, dropV)),
		q: out2703, handle: 2, certain: true,
	}, {
		name: "return from a jumped-to chain, then the base chain goes on",
		rs: func() *Ruleset {
			rs := oneChain(unix.NF_INET_LOCAL_OUT, cat(&expr.Verdict{Kind: expr.VerdictJump, Chain: "sub"}),
				cat(l4tcp, dport, &expr.Cmp{Register: 1, Data: []byte{0x0a, 0x8f}}, dropV))
			sub := &nftChain{key: chainKey{nftables.TableFamilyINet, "t", "sub"},
				rules: []*nftables.Rule{{Handle: 9, Exprs: cat(&expr.Verdict{Kind: expr.VerdictReturn})},
					{Handle: 10, Exprs: cat(dropV)}}}
			rs.chains[sub.key] = sub
			return rs
		}(),
		q: out2703, handle: 2, certain: true,
	}, {
		name: "a chain jumping to itself ends",
		rs:   oneChain(unix.NF_INET_LOCAL_OUT, cat(&expr.Verdict{Kind: expr.VerdictJump, Chain: "c"})),
		q:    out2703,
	}} {
		got := c.rs.Find(c.q)
		if got.Handle != c.handle || (c.handle != 0 && got.Certain != c.certain) {
			t.Errorf("%s: got %+v, want handle %d certain %v", c.name, got, c.handle, c.certain)
		}
	}
}

// multiportV1 builds struct xt_multiport_v1.
func multiportV1(flags byte, ports []uint16, ranges []bool, invert bool) []byte {
	b := make([]byte, 2+2*15+15+1)
	b[0], b[1] = flags, byte(len(ports))
	for i, p := range ports {
		binary.NativeEndian.PutUint16(b[2+2*i:], p)
		if i < len(ranges) && ranges[i] {
			b[32+i] = 1
		}
	}
	if invert {
		b[47] = 1
	}
	return b
}

func TestMultiport(t *testing.T) {
	dst := multiportV1(1, []uint16{53, 6270, 6280}, []bool{false, true}, false)
	for _, c := range []struct {
		name         string
		b            []byte
		rev          uint32
		sport, dport uint16
		want         tri
		ok           bool
	}{
		{"single port", dst, 1, 1, 53, tTrue, true},
		{"in range", dst, 1, 1, 6277, tTrue, true},
		{"range end", dst, 1, 1, 6280, tTrue, true},
		{"past range", dst, 1, 1, 6281, tFalse, true},
		{"source port not tested", dst, 1, 53, 1, tFalse, true},
		{"inverted", multiportV1(1, []uint16{53}, nil, true), 1, 1, 53, tFalse, true},
		{"either", multiportV1(2, []uint16{53}, nil, false), 1, 53, 1, tTrue, true},
		{"rev 0 has no ranges", dst[:32], 0, 1, 6277, tFalse, true},
		{"short", dst[:10], 1, 1, 53, tUnknown, false},
		{"count too big", append([]byte{1, 16}, dst[2:]...), 1, 1, 53, tUnknown, false},
		{"bad flags", multiportV1(7, []uint16{53}, nil, false), 1, 1, 53, tUnknown, false},
	} {
		got, ok := multiport(c.b, c.rev, c.sport, c.dport)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// FuzzMultiport decodes arbitrary xt_multiport data: no panic, and a
// decoded match is true or false.
func FuzzMultiport(f *testing.F) {
	f.Add(multiportV1(1, []uint16{53, 6270, 6280}, []bool{false, true}, false), uint32(1), uint16(1), uint16(6277))
	f.Add([]byte{1, 15}, uint32(0), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, rev uint32, sport, dport uint16) {
		r, ok := multiport(b, rev, sport, dport)
		if ok && r == tUnknown {
			t.Errorf("decoded but unknown")
		}
	})
}

// FuzzSetFind looks values up in arbitrary interval sets: no panic.
func FuzzSetFind(f *testing.F) {
	f.Add([]byte{0, 22, 0, 23, 3, 232}, []byte{0, 22}, true)
	f.Fuzz(func(t *testing.T, keys []byte, v []byte, interval bool) {
		s := &nftSet{set: &nftables.Set{Interval: interval, KeyType: nftables.TypeInetService}}
		for i := 0; i+2 <= len(keys); i += 2 {
			s.elems = append(s.elems, nftables.SetElement{Key: keys[i : i+2], IntervalEnd: keys[i]&1 == 1})
		}
		s.find(v)
	})
}
