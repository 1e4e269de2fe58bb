//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPickAny(t *testing.T) {
	l := func(i int, name string) anyLink { return anyLink{index: i, name: name} }
	msgs := []linkMsg{
		{anyLink: l(1, "lo"), loopback: true},
		{anyLink: l(2, "eth0"), kind: ""},
		{anyLink: l(3, "br0"), kind: "bridge"},
		{anyLink: l(4, "eth1"), master: 3},                                  // bridge port: counted at br0
		{anyLink: l(5, "bond0"), kind: "bond"},                              //
		{anyLink: l(6, "eth2"), master: 5},                                  // bond member: counted at bond0
		{anyLink: l(7, "eth0.100"), kind: "vlan", lowerHere: true},          // counted at eth0
		{anyLink: l(8, "mv0"), kind: "macvlan", lowerHere: false},           // lower in another namespace
		{anyLink: l(9, "veth0"), kind: "veth", lowerHere: true},             // peer here: both ends count
		{anyLink: l(10, "eth3"), master: 11},                                // VRF member: kept
		{anyLink: l(11, "vrf0"), kind: "vrf"},                               //
		{anyLink: l(12, "tap0"), kind: "tun", master: 99, lowerHere: false}, // master unknown: kept
	}
	var got []string
	for _, a := range pickAny(msgs) {
		got = append(got, a.name)
	}
	want := []string{"eth0", "br0", "bond0", "mv0", "veth0", "eth3", "vrf0", "tap0"}
	if !slices.Equal(got, want) {
		t.Errorf("pickAny = %v, want %v", got, want)
	}
}

// rtattr builds one netlink attribute, padded.
func rtattr(typ uint16, v []byte) []byte {
	b := make([]byte, unix.SizeofRtAttr+len(v))
	binary.NativeEndian.PutUint16(b[0:2], uint16(len(b)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[unix.SizeofRtAttr:], v)
	for len(b)%unix.NLA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

func TestInfoKind(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"kind first", append(rtattr(unix.IFLA_INFO_KIND, []byte("bridge\x00")), rtattr(unix.IFLA_INFO_DATA, []byte{1, 2, 3, 4})...), "bridge"},
		{"kind after padded data", append(rtattr(unix.IFLA_INFO_DATA, []byte{1}), rtattr(unix.IFLA_INFO_KIND, []byte("vlan\x00"))...), "vlan"},
		{"no kind", rtattr(unix.IFLA_INFO_DATA, []byte{1, 2}), ""},
		{"empty", nil, ""},
		{"length past the end", []byte{200, 0, 1, 0, 'x'}, ""},
		{"length under a header", []byte{2, 0, 1, 0}, ""},
	} {
		if got := infoKind(c.in); got != c.want {
			t.Errorf("%s: infoKind = %q, want %q", c.name, got, c.want)
		}
	}
}

func FuzzInfoKind(f *testing.F) {
	f.Add(rtattr(unix.IFLA_INFO_KIND, []byte("bond\x00")))
	f.Add([]byte{5, 0, 1, 0, 'a', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k := infoKind(b)
		if len(k) > len(b) {
			t.Fatalf("kind %q longer than its input", k)
		}
	})
}
