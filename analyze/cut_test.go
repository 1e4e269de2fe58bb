package analyze

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
)

// cutCapture writes the first n frames of the pcap file src to a new file,
// as a capture stopped at that moment would be.
func cutCapture(t *testing.T, src string, n int) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	dst := filepath.Join(t.TempDir(), "cut.pcap")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s has %d frames, fewer than %d", src, i, n)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestReplayCutAtTheEnd replays the example capture cut right after an
// inbound SMTP SYN (frame 110) whose SYN-ACK came 21 µs later: the SYN is
// pending, not a failure, and the requirement stays ok. The outbound SSH
// SYN, retransmitted until the cut but first sent 2.45 s before it, had
// its chance: it stays unanswered.
func TestReplayCutAtTheEnd(t *testing.T) {
	full := filepath.Join("..", "testdata", "example", "gateway.pcap")
	if _, err := os.Stat(full); err != nil {
		t.Skipf("no example capture: %v", err)
	}
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Products: []*catalog.Product{prod},
		Hosts: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8:a::10")}}
	peer := netip.MustParseAddr("2001:db8:b::77")
	tests := []struct {
		name          string
		path          string
		smtpIn        Counts
		peerPending   int
		sshOut        Status
		sshUnanswered int
		// pyzor is the status of out-udp-24441-pyzor, whose request was
		// sent 1.46 s before the cut and never answered: older than the
		// 1 s window, so judged.
		pyzor Status
		// pending counts the audited flows still waiting at the end.
		pending int
	}{
		{"cut after the SYN", cutCapture(t, full, 110),
			Counts{Flows: 2, Attempts: 1, Established: 1, Pending: 1}, 1, Blocked, 1, Blocked, 1},
		{"whole capture", full,
			Counts{Flows: 2, Attempts: 2, Established: 2}, 0, Blocked, 1, Blocked, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := pcapfile.ReadFiles(context.Background(), []string{tt.path}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Audit(res, opts)
			if err != nil {
				t.Fatal(err)
			}
			smtp := findReq(t, rep, "mailcleaner/in-tcp-25-smtp")
			if smtp.Status != OK || smtp.Counts != tt.smtpIn {
				t.Errorf("in-tcp-25-smtp %s %+v; want ok %+v", smtp.Status, smtp.Counts, tt.smtpIn)
			}
			got := -1
			for _, p := range smtp.Peers {
				if p.Addr == peer {
					got = p.Counts.Pending
				}
			}
			if got != tt.peerPending {
				t.Errorf("peer %s: %d pending, want %d (peers %+v)", peer, got, tt.peerPending, smtp.Peers)
			}
			ssh := findReq(t, rep, "mailcleaner/out-tcp-22-updates")
			if ssh.Status != tt.sshOut || ssh.Counts.Unanswered != tt.sshUnanswered || ssh.Counts.Pending != 0 {
				t.Errorf("out-tcp-22-updates %s %+v; want %s, %d unanswered", ssh.Status, ssh.Counts, tt.sshOut, tt.sshUnanswered)
			}
			if st := findReq(t, rep, "mailcleaner/out-udp-24441-pyzor").Status; st != tt.pyzor {
				t.Errorf("out-udp-24441-pyzor %s, want %s", st, tt.pyzor)
			}
			want := fmt.Sprintf("%d flow(s) were still waiting for an answer", tt.pending)
			if hasWarning(rep, "still waiting for an answer") != (tt.pending > 0) || (tt.pending > 0 && !hasWarning(rep, want)) {
				t.Errorf("warnings %q; want %q", rep.Warnings, want)
			}
		})
	}
}
