package flow

import (
	"encoding/hex"
	"fmt"
)

// MAC is an Ethernet address. The zero value is "unknown".
type MAC [6]byte

// String writes m as six colon-separated hex bytes ("02:00:00:00:00:01").
func (m MAC) String() string {
	var b [17]byte
	for i, x := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		hex.Encode(b[3*i:3*i+2], []byte{x})
	}
	return string(b[:])
}

// IsZero reports whether m is the zero (unknown) address.
func (m MAC) IsZero() bool { return m == MAC{} }

// Unicast reports whether m names one station: neither zero nor a group
// (broadcast, multicast) address.
func (m MAC) Unicast() bool { return !m.IsZero() && m[0]&1 == 0 }

// MarshalText writes m as String does.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads "aa:bb:cc:dd:ee:ff".
func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) != 17 {
		return fmt.Errorf("MAC address %q: want six hex bytes separated by colons", b)
	}
	var out MAC
	for i := range out {
		if i > 0 && b[3*i-1] != ':' {
			return fmt.Errorf("MAC address %q: want six hex bytes separated by colons", b)
		}
		if _, err := hex.Decode(out[i:i+1], b[3*i:3*i+2]); err != nil {
			return fmt.Errorf("MAC address %q: %w", b, err)
		}
	}
	*m = out
	return nil
}

// Link is what the link layer of a capture said about a flow's two sides:
// which Ethernet address each one is reached at on the captured link, and
// whether the capturing host itself sent its packets (the packet type of
// Linux cooked captures, SLL and SLL2). It lets the audit find the
// gateway's own addresses: every address behind the gateway's MAC, or
// every address the host sent from. The zero value says nothing (raw IP
// captures, the eBPF backend).
type Link struct {
	// OrigMAC and RespMAC are the source MAC of each side's frames or, for
	// a side that sent none, the unicast destination MAC of the frames
	// sent to it; zero when unknown.
	OrigMAC MAC `json:"orig_mac,omitzero"`
	RespMAC MAC `json:"resp_mac,omitzero"`
	// OrigOut and RespOut are set when a packet of that side was captured
	// as outgoing (SLL/SLL2 packet type 4): the capturing host sent it.
	OrigOut bool `json:"orig_out,omitempty"`
	RespOut bool `json:"resp_out,omitempty"`
}

// IsZero reports whether l says nothing.
func (l Link) IsZero() bool { return l == Link{} }
