package session

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// streamFlow is the i-th flow of a generated session: every flow
// different, some with names, an ICMP error or a process.
func streamFlow(i int, f *flow.Flow) {
	*f = flow.Flow{UID: flow.UID(uint64(i)), Proto: flow.ProtoTCP,
		Orig:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 10}), uint16(1024+i%60000)),
		Resp:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 25),
		Start: t0.Add(time.Duration(i) * time.Millisecond), End: t0.Add(time.Duration(i)*time.Millisecond + time.Second),
		OrigPkts: 6, RespPkts: 5, OrigBytes: uint64(i), RespBytes: 420, State: flow.StateSF, History: "ShADadFf",
		Outcome: flow.Established, Attempts: 1}
	if i%7 == 0 {
		f.RespNames = []string{"mx.example.com"}
	}
	if i%11 == 0 {
		f.Outcome, f.State = flow.Unreachable, flow.StateS0
		f.ICMP = &flow.ICMPError{Type: 3, Code: 13, Version: 4, From: netip.MustParseAddr("198.51.100.1"), Time: f.Start, Reason: "admin-prohibited"}
	}
	if i%13 == 0 {
		f.Process = &flow.Process{PID: uint32(i), Comm: "postfix/smtp"}
	}
}

// liveHeap is the heap in use after a GC.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestStreamMillionFlows: a session of a million flows is written by a
// Writer and read back by a Reader with a heap that does not grow with
// the flows (measured after a GC every 100,000 flows), and every flow
// comes back as written, the trailer after them included. About 300 MB of
// disk; -short writes 100,000.
func TestStreamMillionFlows(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	path := filepath.Join(t.TempDir(), "big.session.json")
	w, err := Create(path, Header{ToolVersion: "test", Node: "gw1", Backend: "afpacket", Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	var f flow.Flow
	base := liveHeap()
	var peakWrite uint64
	for i := range n {
		streamFlow(i, &f)
		if err := w.Flow(&f); err != nil {
			t.Fatal(err)
		}
		if i%100_000 == 99_999 {
			peakWrite = max(peakWrite, liveHeap())
		}
	}
	hosts := capture.HostsDecision{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, Origin: capture.OriginInterface, Iface: "eth0"}
	if err := w.Close(Trailer{End: t0.Add(time.Hour), Hosts: hosts, Stats: capture.Stats{Backend: "afpacket", Flows: uint64(n)}}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	r, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if info := r.Info(); info.Stats.Flows != uint64(n) || info.Hosts.Iface != "eth0" || !info.End.Equal(t0.Add(time.Hour)) {
		t.Fatalf("trailer read as %+v", info.Trailer)
	}
	var want flow.Flow
	i := 0
	var peakRead uint64
	for got := range r.Flows() {
		streamFlow(i, &want)
		if got.UID != want.UID || got.OrigBytes != want.OrigBytes || (got.ICMP == nil) != (want.ICMP == nil) ||
			(got.Process == nil) != (want.Process == nil) || len(got.RespNames) != len(want.RespNames) || !got.Start.Equal(want.Start) {
			t.Fatalf("flow %d read as %+v, want %+v", i, got, want)
		}
		i++
		if i%100_000 == 0 {
			peakRead = max(peakRead, liveHeap())
		}
	}
	if err := r.Err(); err != nil || i != n {
		t.Fatalf("read %d flows of %d: %v", i, n, err)
	}
	t.Logf("%d flows, %d bytes (%.0f a flow); live heap: %d KiB before, at most %d KiB writing, %d KiB reading",
		n, fi.Size(), float64(fi.Size())/float64(n), base>>10, peakWrite>>10, peakRead>>10)
	// A million flows held would take hundreds of MiB: 16 MiB is the
	// buffers and the decoder's, whatever the count.
	for what, peak := range map[string]uint64{"writing": peakWrite, "reading": peakRead} {
		if peak > base+16<<20 {
			t.Errorf("live heap %s %d MiB over %d MiB before: it grows with the flows", what, (peak-base)>>20, base>>20)
		}
	}
}

// TestWriterLayout: the header comes first, then one flow per line, then
// the trailer, and an empty session has "flows": [].
func TestWriterLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s := sampleSession("gw1", 2)
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	var flowLines int
	for _, l := range lines {
		if strings.HasPrefix(l, `  {"uid":`) {
			flowLines++
		}
	}
	text := string(data)
	if flowLines != 2 || !strings.HasPrefix(text, "{\n \"format\": \"flowaudit-session\",\n \"version\": 2,") ||
		strings.Index(text, `"node"`) > strings.Index(text, `"flows"`) || strings.Index(text, `"stats"`) < strings.Index(text, `"flows"`) {
		t.Errorf("layout:\n%s", data)
	}
	s.Flows = nil
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte(`"flows": [],`)) {
		t.Errorf("empty session:\n%s", data)
	}
}

// TestReaderFlowError: a flow that cannot be used ends the iteration with
// one line naming the file and the field, after the flows before it; Open
// had read the rest of the file.
func TestReaderFlowError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	if err := Save(path, sampleSession("gw1", 5)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	n := 0
	for i, l := range lines {
		if strings.HasPrefix(l, `  {"uid":`) {
			if n == 3 {
				lines[i] = strings.Replace(l, `"outcome":"established"`, `"outcome":"bogus"`, 1)
			}
			n++
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := 0
	for range r.Flows() {
		read++
	}
	want := "session " + path + `: flows[3].outcome: unknown outcome "bogus"`
	if err := r.Err(); read != 3 || err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("read %d flows, error %v; want 3 and %q", read, err, want)
	}
	// A syntax error inside the flows is placed in the file.
	bad := strings.Replace(string(data), `"proto":6,`, `"proto":6,,`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, 0); err == nil || !strings.Contains(err.Error(), "line ") {
		t.Errorf("syntax error in a flow: %v", err)
	}
}

// TestWriterFullDisk: a Writer on a device that is full (/dev/full)
// fails, its error naming the session, and a temporary file of a failed
// Writer is removed.
func TestWriterFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	w, err := Create("/dev/full", Header{Node: "gw1"})
	if err != nil {
		t.Fatal(err)
	}
	var f flow.Flow
	for i := range 20_000 { // more than the 1 MiB buffer
		streamFlow(i, &f)
		if err = w.Flow(&f); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Close(Trailer{})
	}
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "save session: write /dev/full: no space left on device" {
		t.Errorf("error %v", err)
	}
	if err2 := w.Close(Trailer{}); err2 == nil {
		t.Error("Close after a failure succeeded")
	}

	dir := t.TempDir()
	w, err = Create(filepath.Join(dir, "s.json"), Header{})
	if err != nil {
		t.Fatal(err)
	}
	w.Flow(&f)
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Abort left %d files", len(ents))
	}
}

// TestWriterSetStart: a session whose start is known only at the end (a
// replay's first packet) has it written with the trailer and read as its
// start; a start the header gave stays.
func TestWriterSetStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	for _, head := range []time.Time{{}, t0.Add(-time.Hour)} {
		w, err := Create(path, Header{Node: "gw1", Backend: "file", Start: head})
		if err != nil {
			t.Fatal(err)
		}
		var f flow.Flow
		streamFlow(1, &f)
		w.Flow(&f)
		w.SetStart(t0)
		if err := w.Close(Trailer{End: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		want := head
		if want.IsZero() {
			want = t0
		}
		if data, _ := os.ReadFile(path); !s.Start.Equal(want) || bytes.Count(data, []byte(`"start":`)) != 2 {
			t.Errorf("header start %v: read %v, want %v\n%s", head, s.Start, want, data)
		}
	}
}
