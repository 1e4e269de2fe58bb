package text

import (
	"net/netip"
	"testing"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{{0, "0 frames"}, {1, "1 frame"}, {2, "2 frames"}, {1 << 40, "1099511627776 frames"}} {
		if got := Count(tc.n, "frame", "frames"); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := Count(-1, "byte", "bytes"); got != "-1 bytes" {
		t.Errorf("Count(-1) = %q", got)
	}
}

func TestAddrs(t *testing.T) {
	as := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	if got := Addrs(as); got != "192.0.2.10, 2001:db8::10" {
		t.Errorf("Addrs = %q", got)
	}
	if got := Addrs(nil); got != "" {
		t.Errorf("Addrs(nil) = %q, want empty", got)
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{300, "300 bytes"}, {1 << 10, "1 KiB"}, {4 << 20, "4 MiB"}, {4<<20 + 1, "4194305 bytes"},
		{5452595, "5.2 MiB"}, {1 << 30, "1 GiB"}, {3 << 29, "1.5 GiB"}, {1<<30 + 1, "1073741825 bytes"},
	} {
		if got := Size(tc.n); got != tc.want {
			t.Errorf("Size(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
