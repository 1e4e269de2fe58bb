package main

import (
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/internal/labtest"
)

// TestPrivilegedDiffLive is the maintenance day, live: `flowaudit capture`
// records the lab's gateway while the mailcleaner scenario runs, the
// firewall gets its one change (the mailcleaner-razor-fixed scenario
// loads its policy: razor over IPv6 accepted), a second capture records
// the same traffic, and `flowaudit diff` of the two sessions, and of the
// two JSON reports, says out-tcp-2703-razor is fixed and nothing else
// changed. About 35 s (two scenarios of ~13 s each).
func TestPrivilegedDiffLive(t *testing.T) {
	start := time.Now()
	flowauditBinary(t) // built first: not part of the capture's timing
	t.Logf("binary built in %v", time.Since(start).Round(100*time.Millisecond))
	l := labtest.Up(t)
	dir := t.TempDir()
	for _, step := range []struct{ name, scenario string }{{"before", "mailcleaner"}, {"after", "mailcleaner-razor-fixed"}} {
		c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "--backend", "afpacket", "--product", "mailcleaner",
			"--fail-on", "none", "--format", "json", "--output", filepath.Join(dir, step.name+".json"),
			"--session", filepath.Join(dir, step.name+".session"), "--node", "gw1")
		if err := l.Scenario(step.scenario); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // late answers and retransmissions
		if code := c.stop(t, syscall.SIGINT); code != 0 {
			t.Fatalf("capture %s: exit status %d, want 0 (--fail-on none): %s", step.name, code, c.stderr.String())
		}
		t.Logf("%s captured at %v", step.name, time.Since(start).Round(100*time.Millisecond))
	}
	t.Chdir(dir)
	for _, args := range [][]string{{"-p", "mailcleaner", "before.session", "after.session"}, {"before.json", "after.json"}} {
		out, stderr, err := runCLI(t, append([]string{"diff", "-f", "json"}, args...)...)
		if err != nil {
			t.Fatalf("diff %v: %v, want exit status 0 (stderr %s)", args, err, stderr)
		}
		var d diffJSON
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		checkLabDiff(t, d)
	}
	t.Logf("two live captures and their diff in %v", time.Since(start).Round(100*time.Millisecond))
}
