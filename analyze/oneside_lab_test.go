package analyze

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/decode"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
)

// cutBySide writes the frames of the pcap file src whose IP source (sent)
// or destination (received) is a gateway address to a new file: what
// `tcpdump src host GW` or `dst host GW` keeps, decided by the project's
// decoder.
func cutBySide(t *testing.T, src string, gw map[netip.Addr]bool, sent bool) string {
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
	dst := filepath.Join(t.TempDir(), "side.pcap")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	d := decode.NewDecoder()
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var p decode.Packet
		if d.Decode(data, r.LinkType(), &p) != nil || !p.Src.IsValid() {
			continue // not IP: a host filter drops it too
		}
		if (sent && gw[p.Src.Unmap()]) || (!sent && gw[p.Dst.Unmap()]) {
			if err := w.WritePacket(ci, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestLabCapturesOneSided cuts every lab capture (and the bundled
// example) to what the gateway sent and to what it received, as issue 14
// measured with tcpdump, and replays each with the gateway's addresses:
// every verdict is the one the lab's truth gives the whole capture, or
// inconclusive; no ICMP error and no reply to the gateway's own
// connections is an unexpected flow (every unexpected group is one the
// truth has); both cuts warn that a side is missing.
func TestLabCapturesOneSided(t *testing.T) {
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range labCaptures(t) {
		tf := loadTruth(t, path)
		name := cmp.Or(tf.Product, scenarioProducts[tf.Scenario], tf.Scenario)
		prod, err := cat.Product(name)
		if err != nil {
			t.Fatalf("truth names product %q: %v", name, err)
		}
		tf.product = prod
		var hosts []netip.Addr
		gw := map[netip.Addr]bool{}
		for _, g := range tf.Gateway {
			a := netip.MustParseAddr(g)
			hosts, gw[a] = append(hosts, a), true
		}
		for _, side := range []struct {
			name string
			sent bool
			warn string
		}{{"sent", true, "lacks what the gateway received"}, {"received", false, "lacks what the gateway sent"}} {
			t.Run(filepath.Base(path)+"/"+side.name, func(t *testing.T) {
				res, err := pcapfile.ReadFiles(context.Background(), []string{cutBySide(t, path, gw, side.sent)}, capture.Options{})
				if err != nil {
					t.Fatal(err)
				}
				rep, err := Audit(res, Options{Products: []*catalog.Product{prod}, Hosts: hosts, Features: tf.Features})
				if err != nil {
					t.Fatal(err)
				}
				inconclusive := 0
				for i := range prod.Requirements {
					r := &prod.Requirements[i]
					got := findReq(t, rep, r.ID)
					want := expect(r, tf).status
					switch got.Status {
					case want:
					case Inconclusive:
						inconclusive++
					default:
						t.Errorf("%s: %s (counts %+v, note %q), truth %s", r.ID, got.Status, got.Counts, got.Note, want)
					}
				}
				t.Logf("%d of %d requirements inconclusive", inconclusive, len(prod.Requirements))
				checkTruthUnexpected(t, rep, prod, tf)
				if !anyContains(rep.Warnings, side.warn) {
					t.Errorf("no warning %q: %q", side.warn, rep.Warnings)
				}
			})
		}
	}
}

// checkTruthUnexpected: every unexpected group is one the truth has
// (direction, protocol, port), so no ICMP error and no reply to the
// gateway's own connection shows as unexpected.
func checkTruthUnexpected(t *testing.T, rep *Report, prod *catalog.Product, tf *truthFile) {
	t.Helper()
	want := map[string]bool{}
	for _, row := range tf.Flows {
		allowed := false
		for i := range prod.Requirements {
			r := &prod.Requirements[i]
			allowed = allowed || (r.Applies(tf.Features) && truthMatches(r, row, tf.zones))
		}
		if !allowed {
			want[row.Direction+"/"+row.Protocol+"/"+strconv.Itoa(row.Port)] = true
		}
	}
	for _, u := range rep.Unexpected {
		if key := string(u.Direction) + "/" + u.Protocol + "/" + strconv.Itoa(int(u.Port)); !want[key] {
			t.Errorf("unexpected %s (outcomes %v, peers %v) is not in the truth", key, u.Outcomes, u.Peers)
		}
	}
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
