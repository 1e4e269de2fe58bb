package analyze

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// TestPrivilegedRemoteSideLab records the lab's remote-down scenario
// (testdata/lab/scenarios/remote-down.tsv): the gateway delivers mail to
// twelve servers through the lab's firewall, eleven answer and one is
// down. out-tcp-25-smtp reads ok with the silent server as the remote
// side; the vendor's update host that does not answer stays blocked. It
// needs root (network namespaces) and fails when skipped under CI=true.
func TestPrivilegedRemoteSideLab(t *testing.T) {
	l := labtest.Up(t)
	pcap := filepath.Join(t.TempDir(), "remote-down.pcap")
	if err := l.Record("remote-down", pcap); err != nil {
		t.Fatal(err)
	}
	tr, err := labtest.LoadTruth(labtest.TruthPath(pcap))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := labtest.CheckCapture(pcap, tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ev.Mismatches {
		t.Errorf("capture and truth differ: %s", m)
	}
	res, err := pcapfile.ReadFiles(context.Background(), []string{pcap}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Audit(res, Options{Products: []*catalog.Product{prod}, Hosts: []netip.Addr{netip.MustParseAddr("192.0.2.10")}})
	if err != nil {
		t.Fatal(err)
	}
	smtp := findReq(t, rep, "mailcleaner/out-tcp-25-smtp")
	down := netip.MustParseAddr("203.0.113.151")
	if smtp.Status != OK || smtp.Counts.Established != 11 || smtp.Counts.Failed() != 1 ||
		len(smtp.RemoteSide) != 1 || smtp.RemoteSide[0].Addr != down {
		t.Errorf("out-tcp-25-smtp: %s, counts %+v, remote side %v; want ok, 11 established, %s the remote side",
			smtp.Status, smtp.Counts, smtp.RemoteSide, down)
	}
	if ssh := findReq(t, rep, "mailcleaner/out-tcp-22-updates"); ssh.Status != Blocked || len(ssh.RemoteSide) != 0 {
		t.Errorf("out-tcp-22-updates: %s, remote side %v; want blocked (a vendor host is judged)", ssh.Status, ssh.RemoteSide)
	}
}
