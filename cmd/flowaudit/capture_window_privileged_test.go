package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// TestPrivilegedCaptureWindow: a capture on the lab's gateway veth with no
// traffic driven through it (quiet, at most the namespace's own link-local
// chatter) shows its window, start to stop, on both backends: in the
// final line ("N packets in 2.0xs"), in the report's capture section and
// in the session, which it saves without --session in the state
// directory (FLOWAUDIT_STATE_DIR), named after --node and the start, and
// announces at start and at the end.
func TestPrivilegedCaptureWindow(t *testing.T) {
	const want = 2 * time.Second
	for _, backend := range []string{"afpacket", "ebpf"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := labtest.Up(t)
			out, state := filepath.Join(t.TempDir(), "report.json"), t.TempDir()
			before := time.Now().UTC().Truncate(time.Second)
			c := startCaptureEnv(t, l, []string{"FLOWAUDIT_STATE_DIR=" + state}, "capture", "--iface", l.GatewayIface(), "--backend", backend, "-p", "mailcleaner",
				"--host", "10.0.0.1", "--duration", want.String(), "--fail-on", "none", "--node", "gw/quiet", "-f", "json", "-o", out)
			if code := c.wait(t, 20*time.Second); code != 0 {
				t.Fatalf("exit %d: %s", code, c.stderr.String())
			}
			stderr := c.stderr.String()

			m := regexp.MustCompile(`capture stopped: (\d+) packets? in ([0-9.]+)s, .*; session (\S+)\n`).FindStringSubmatch(stderr)
			if m == nil {
				t.Fatalf("no final line with the window and the session:\n%s", stderr)
			}
			secs, _ := strconv.ParseFloat(m[2], 64)
			if d := time.Duration(secs * float64(time.Second)); d < want || d > want+time.Second {
				t.Errorf("final line: window %v, want about %v:\n%s", d, want, stderr)
			}
			path := m[3]
			if filepath.Dir(path) != state || !regexp.MustCompile(`^gw_quiet-\d{8}T\d{6}Z\.session\.json$`).MatchString(filepath.Base(path)) {
				t.Errorf("session %s, want gw_quiet-START.session.json in %s", path, state)
			}
			if !strings.Contains(stderr, "flowaudit: session: "+path+"\n") {
				t.Errorf("the session is not announced at start:\n%s", stderr)
			}

			var rep struct {
				Capture struct {
					Start, End time.Time
					Seconds    float64
					Packets    uint64
				}
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			cs := rep.Capture
			if cs.Start.Before(before) || cs.Seconds < want.Seconds() || cs.Seconds > want.Seconds()+1 ||
				cs.End.Sub(cs.Start).Seconds() != cs.Seconds {
				t.Errorf("report capture %v to %v (%.3f s, %d packets), want the %v window", cs.Start, cs.End, cs.Seconds, cs.Packets, want)
			}
			if strconv.FormatUint(cs.Packets, 10) != m[1] {
				t.Errorf("report %d packets, final line %s", cs.Packets, m[1])
			}
			s, err := session.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if st := s.Stats; !st.Start.Equal(cs.Start) || !st.End.Equal(cs.End) || s.Node != "gw/quiet" {
				t.Errorf("session node %q window %v to %v, want the report's %v to %v", s.Node, st.Start, st.End, cs.Start, cs.End)
			}
		})
	}
}
