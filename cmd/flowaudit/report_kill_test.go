package main

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// TestReportSurvivesSIGKILL kills `flowaudit report -o FILE` at different
// moments while it writes a large report over an existing one, and checks
// FILE is always the complete old or new report, never a torn one.
func TestReportSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes large reports")
	}
	bin := flowauditBinary(t)
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	// Many distinct unexpected peers make a report of a few MB.
	flows := make([]flow.Flow, 8000)
	for i := range flows {
		f := mkFlow(flow.ProtoTCP, uint16(1000+i%3000), flow.Established, t0.Add(time.Duration(i)*time.Millisecond))
		f.Resp = netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), f.Resp.Port())
		flows[i] = f
	}
	sess := writeSession(t, dir, "gw1", flows...)
	out := filepath.Join(dir, "report.json")
	args := []string{"report", "-p", "mailcleaner", "--fail-on", "none", "-o", out, sess}

	// A first complete report.
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	full, err := os.ReadFile(out)
	if err != nil || !json.Valid(full) {
		t.Fatalf("first report: %v", err)
	}
	start := time.Now()
	exec.Command(bin, args...).Run()
	whole := time.Since(start)
	t.Logf("report of %d bytes takes %v", len(full), whole)

	for i := 1; i <= 5; i++ {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(whole * time.Duration(i) / 6)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: report failed on its own: %v", i, err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatalf("kill %d at %v: report gone: %v", i, whole*time.Duration(i)/6, err)
		}
		if !json.Valid(got) || len(got) != len(full) {
			t.Fatalf("kill %d: report torn (%d bytes, valid JSON %v)", i, len(got), json.Valid(got))
		}
	}
	// Only temporary files may be left besides the inputs and the report;
	// each one is a kill that landed mid-write.
	ents, _ := os.ReadDir(dir)
	torn := 0
	for _, e := range ents {
		switch n := e.Name(); {
		case n == "report.json" || n == "gw1.session.json":
		case n[0] == '.':
			torn++
		default:
			t.Errorf("unexpected file %s left", n)
		}
	}
	t.Logf("%d of 5 kills landed while the report was being written", torn)
}
