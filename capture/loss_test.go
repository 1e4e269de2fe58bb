package capture

import (
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func TestLossSignals(t *testing.T) {
	tests := []struct {
		name string
		st   Stats
		want []string
	}{
		{"none", Stats{Packets: 10, Flows: 2, Warnings: []string{"not a loss"}}, nil},
		{"undecodable", Stats{Undecodable: 26}, []string{"26 frames could not be decoded"}},
		{"one of each counter", Stats{KernelDrops: 1, IfaceDrops: 1, Undecodable: 1, MissedBytes: 1, Evicted: 1},
			[]string{"1 packet dropped by the kernel", "1 packet dropped by the interface", "1 frame could not be decoded",
				"1 byte acknowledged but never captured", "1 flow evicted from a full table"}},
		{"truncated file", Stats{ReadErrors: []string{"read capture a.pcap: after 44 frames: unexpected EOF"}},
			[]string{"1 input file not read to its end (truncated or damaged)"}},
		{"two damaged files", Stats{ReadErrors: []string{"a", "b"}},
			[]string{"2 input files not read to their end (truncated or damaged)"}},
		{"interrupted", Stats{Interrupted: true}, []string{"the replay was interrupted before the end of its input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.st.LossSignals()
			if !slices.Equal(got, tt.want) {
				t.Errorf("LossSignals() = %q, want %q", got, tt.want)
			}
			if tt.st.LossSeen() != (len(tt.want) > 0) {
				t.Errorf("LossSeen() = %v with signals %q", tt.st.LossSeen(), tt.want)
			}
		})
	}
}

// arpFrame is an Ethernet ARP request: a valid frame carrying no IP.
func arpFrame() []byte {
	f := make([]byte, 14+28)
	binary.BigEndian.PutUint16(f[12:14], 0x0806)
	return f
}

// pktapFrame wraps data in an Apple PKTAP header naming its link type.
func pktapFrame(inner uint32, data []byte) []byte {
	h := make([]byte, 8, 8+len(data))
	binary.LittleEndian.PutUint32(h[0:4], 8)
	binary.LittleEndian.PutUint32(h[4:8], inner)
	return append(h, data...)
}

func framesOfLink(n int, link layers.LinkType, data []byte) []Frame {
	out := make([]Frame, n)
	for i := range out {
		out[i] = Frame{Data: data, TS: int64(i+1) * 1e6, WireLen: len(data), LinkType: link}
	}
	return out
}

func TestUnsupportedLinkTypeWarnings(t *testing.T) {
	good := framesOf(t, filepath.Join(flowsDir, "established.pcap"))[0].Data // Ethernet, IPv4, TCP
	cutIPv4 := append(slices.Clone(good[:14]), 0x45, 0)
	tests := []struct {
		name        string
		frames      []Frame
		undecodable uint64
		warnings    []string
	}{
		{"arcnet", framesOfLink(26, 129, []byte{1, 2, 0xd4, 0x45, 0}), 26,
			[]string{"link type ARCNET_LINUX (129) is not supported: 26 frames skipped"}},
		{"two link types, in numeric order, with good frames between",
			slices.Concat(framesOfLink(2, 220, []byte{0}), framesOfLink(3, layers.LinkTypeEthernet, good),
				framesOfLink(1, 6, []byte{0})), 3,
			[]string{"link type IEEE802_5 (token ring) (6) is not supported: 1 frame skipped",
				"link type USB_LINUX_MMAPPED (220) is not supported: 2 frames skipped"}},
		{"unnamed link type", framesOfLink(1, 300, []byte{0}), 1,
			[]string{"link type 300 is not supported: 1 frame skipped"}},
		{"pktap wrapping an unsupported link type", framesOfLink(4, 258, pktapFrame(129, []byte{1, 2, 3})), 4,
			[]string{"link type PKTAP (258) wraps a link type that is not supported: 4 frames skipped"}},
		// Frames without IP are neither undecodable nor a link warning.
		{"arp only", framesOfLink(5, layers.LinkTypeEthernet, arpFrame()), 0, nil},
		// Damaged frames of a supported link type are undecodable but
		// need no link-type warning.
		{"cut ipv4 header", framesOfLink(2, layers.LinkTypeEthernet, cutIPv4), 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, live := range []bool{false, true} {
				backend := ""
				if live {
					backend = "afpacket"
				}
				res, err := runPackets(context.Background(), &sliceSource{frames: tt.frames}, backend)
				if err != nil {
					t.Fatal(err)
				}
				st := res.Stats
				if st.Packets != uint64(len(tt.frames)) || st.Undecodable != tt.undecodable {
					t.Errorf("live=%v: packets %d undecodable %d, want %d %d", live, st.Packets, st.Undecodable,
						len(tt.frames), tt.undecodable)
				}
				if !slices.Equal(st.Warnings, tt.warnings) {
					t.Errorf("live=%v: warnings %q, want %q", live, st.Warnings, tt.warnings)
				}
				if st.LossSeen() != (tt.undecodable > 0) {
					t.Errorf("live=%v: LossSeen %v with %d undecodable", live, st.LossSeen(), st.Undecodable)
				}
			}
		})
	}
}

// TestUnsupportedLinkTypeAllocations checks that counting frames of an
// unsupported link type allocates nothing per frame.
func TestUnsupportedLinkTypeAllocations(t *testing.T) {
	frames := slices.Concat(framesOfLink(40000, 129, []byte{1, 2, 3}), framesOfLink(40000, 300, []byte{1}))
	run := func() uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res, err := runPackets(context.Background(), &sliceSource{frames: frames}, "")
		runtime.ReadMemStats(&after)
		if err != nil || res.Stats.Undecodable != uint64(len(frames)) {
			t.Fatalf("undecodable %d err %v", res.Stats.Undecodable, err)
		}
		return after.Mallocs - before.Mallocs
	}
	run()
	if n := run(); n > 2000 {
		t.Errorf("%d unsupported frames made %d allocations; want a fixed set-up cost", len(frames), n)
	}
}

// marked is an Ethernet, IPv4, UDP frame from 192.0.2.1:marker to
// 198.51.100.2:53: a distinct flow per marker.
func marked(marker uint16) []byte {
	f := make([]byte, 14+20+8+4)
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:4], 32)
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{198, 51, 100, 2})
	binary.BigEndian.PutUint16(ip[20:22], marker)
	binary.BigEndian.PutUint16(ip[22:24], 53)
	binary.BigEndian.PutUint16(ip[24:26], 12)
	return f
}

// endlessSource yields frames forever, like a capture file too large to
// finish; it calls cancel when it hands out frame number at (counting
// from 1), and every frame is IP unless noIP is set.
type endlessSource struct {
	n, at  int
	cancel func()
	noIP   bool
	limit  int // > 0: io.EOF after this many frames
}

func (s *endlessSource) Next(f *Frame) error {
	if s.limit > 0 && s.n == s.limit {
		if s.at == s.n+1 {
			s.cancel()
		}
		return io.EOF
	}
	s.n++
	if s.n == s.at {
		s.cancel()
	}
	data := marked(uint16(s.n))
	if s.noIP {
		data = arpFrame()
	}
	*f = Frame{Data: data, TS: int64(s.n) * 1e6, WireLen: len(data), LinkType: layers.LinkTypeEthernet}
	return nil
}

func (s *endlessSource) Close() error { return nil }

func TestReplayInterrupted(t *testing.T) {
	tests := []struct {
		name        string
		src         endlessSource
		precancel   bool
		interrupted bool
	}{
		{"cancelled mid-read", endlessSource{at: 3000}, false, true},
		{"cancelled mid-read, frames carry no IP", endlessSource{at: 3000, noIP: true}, false, true},
		{"cancelled as input ends", endlessSource{at: 501, limit: 500}, false, false},
		// A small input is read to its end before the reader looks for
		// a stop: it is complete, so not interrupted.
		{"cancelled before, small input", endlessSource{limit: 100}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, live := range []bool{false, true} {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tt.precancel {
					cancel()
				}
				src := tt.src
				src.cancel = cancel
				var st Stats
				if live {
					var err error
					if st, err = Run(ctx, Packets(&src, PacketOptions{Backend: "afpacket"}), SinkFuncs{}, Options{}); err != nil {
						t.Fatal(err)
					}
				} else {
					st = Replay(ctx, Packets(&src, PacketOptions{}), SinkFuncs{}, Options{})
				}
				want := tt.interrupted && !live // live sources never set it
				if st.Interrupted != want || st.LossSeen() != want {
					t.Errorf("live=%v: interrupted %v, loss seen %v, want %v (%d packets)", live, st.Interrupted, st.LossSeen(), want, st.Packets)
				}
				if st.Packets != uint64(src.n) {
					t.Errorf("live=%v: %d packets counted, %d read", live, st.Packets, src.n)
				}
				warn := "interrupted after " + strconv.FormatUint(st.Packets, 10) + " packets: the input was not read to its end"
				if got := slices.Contains(st.Warnings, warn); got != want {
					t.Errorf("live=%v: warnings %q, want %q: %v", live, st.Warnings, warn, want)
				}
			}
		})
	}
}
