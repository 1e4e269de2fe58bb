package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestLiveViewTmux runs `flowaudit capture --live` in a tmux terminal of
// 80x24 and reads the screen and the scrollback as a user would. The
// binary is a test build (-tags flowaudit_testsource) whose live source
// plays the bundled example capture at 100 packets a second, so neither
// privilege nor traffic is needed. Checked: no line is wider than 80
// columns; while live, the view's header is on the screen and in the
// scrollback exactly once however many times it was redrawn, and it ends
// with "+N more" (27 requirements do not fit 24 lines); rows come in the
// order of urgency; reasons are words; colours are there on a terminal
// and absent with NO_COLOR=1; once stopped, the scrollback holds none of
// the view's frames (it was drawn on the alternate screen) and the final
// report once.
func TestLiveViewTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux not installed (CI=true: this test must run)")
		}
		t.Skip("tmux not installed")
	}
	bin := filepath.Join(t.TempDir(), "flowaudit")
	build := exec.Command("go", "build", "-tags", "flowaudit_testsource", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pcap, err := filepath.Abs("../../testdata/example/gateway.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for _, noColor := range []bool{false, true} {
		t.Run(fmt.Sprintf("NO_COLOR=%v", noColor), func(t *testing.T) {
			t.Parallel()
			tm := newTmux(t)
			env := "env FLOWAUDIT_STATE_DIR=" + t.TempDir() + " FLOWAUDIT_TEST_SOURCE=" + pcap + ",100"
			if noColor {
				env += " NO_COLOR=1"
			}
			tm.run(t, env+" "+bin+" capture --iface eth0 -p mailcleaner --host 192.0.2.10 --host 2001:db8:a::10"+
				" --with cluster --with premium-support --live --duration 7s --fail-on none; echo CAPTURE-DONE; sleep 60")
			header := "STATUS      REQUIREMENT"
			screen := tm.waitFor(t, "139 packets", 10*time.Second) // the whole file read
			time.Sleep(2500 * time.Millisecond)                    // a few more redraws
			for _, when := range []string{"first look", "later"} {
				if when == "later" {
					screen = tm.capture(t, "-p", "-J")
				}
				checkWidth(t, screen, 80)
				if n := strings.Count(screen, header); n != 1 {
					t.Errorf("%s: the header %d times on the screen:\n%s", when, n, screen)
				}
				if n := strings.Count(tm.capture(t, "-p", "-J", "-S", "-"), header); n != 1 {
					t.Errorf("%s: the header %d times in the scrollback", when, n)
				}
				time.Sleep(1200 * time.Millisecond)
			}
			checkLiveScreen(t, screen)
			colored := tm.capture(t, "-p", "-e")
			if hasColor := strings.Contains(colored, "\x1b["); hasColor == noColor {
				t.Errorf("NO_COLOR=%v: escape codes on the screen %v:\n%q", noColor, hasColor, colored)
			}

			tm.waitFor(t, "CAPTURE-DONE", 15*time.Second)
			back := tm.capture(t, "-p", "-J", "-S", "-")
			if n := strings.Count(back, header); n != 0 {
				t.Errorf("after the capture: the view's header %d times in the scrollback:\n%s", n, back)
			}
			for _, once := range []string{"capturing on eth0", "capture stopped: 139 packets in 7.", "BLOCKED (6)"} {
				if n := strings.Count(back, once); n != 1 {
					t.Errorf("after the capture: %q %d times in the scrollback:\n%s", once, n, back)
				}
			}
		})
	}
}

// checkLiveScreen checks the view's rows: by status in the order of
// urgency, reasons in words, and the count of what did not fit.
func checkLiveScreen(t *testing.T, screen string) {
	t.Helper()
	rank := map[string]int{"blocked": 1, "partial": 2, "unexpected": 3, "inconclusive": 4, "never-seen": 5, "ok": 6}
	last, rows := 0, 0
	for l := range strings.SplitSeq(screen, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		r, ok := rank[f[0]]
		if !ok {
			continue
		}
		rows++
		if r < last {
			t.Errorf("row %q after a less urgent one:\n%s", l, screen)
		}
		last = r
	}
	if rows < 15 {
		t.Errorf("%d rows, want the screen full:\n%s", rows, screen)
	}
	for _, w := range []string{"no reply", "unanswered", "rejected by RST", "nothing tried it yet", "+", " more: ", "capture eth0 "} {
		if !strings.Contains(screen, w) {
			t.Errorf("no %q on the screen:\n%s", w, screen)
		}
	}
	for _, token := range []string{"no-reply", "refused-by-gateway", "admin-prohibited "} {
		if strings.Contains(screen, token) {
			t.Errorf("the token %q on the screen:\n%s", token, screen)
		}
	}
}

// checkWidth fails for a line wider than w columns (of a capture-pane -J,
// which joins the lines the terminal wrapped).
func checkWidth(t *testing.T, text string, w int) {
	t.Helper()
	for l := range strings.SplitSeq(text, "\n") {
		l = strings.TrimRight(l, " ")
		if n := utf8.RuneCountInString(l); n > w {
			t.Errorf("a line of %d columns: %q", n, l)
		}
	}
}

// tmuxTerm is a tmux server of the test's own (its socket named after
// the test), killed at the end.
type tmuxTerm struct{ socket string }

func newTmux(t *testing.T) *tmuxTerm {
	tm := &tmuxTerm{socket: fmt.Sprintf("flowaudit-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
}

// run starts command in a detached 80x24 session.
func (tm *tmuxTerm) run(t *testing.T, command string) {
	t.Helper()
	cmd := exec.Command("tmux", "-L", tm.socket, "-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", "-s", "live", command)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
}

// capture returns tmux capture-pane's output with args.
func (tm *tmuxTerm) capture(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket, "capture-pane", "-t", "live"}, args...)...).Output()
	if err != nil {
		t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

// waitFor returns the screen once it shows s.
func (tm *tmuxTerm) waitFor(t *testing.T, s string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		screen := tm.capture(t, "-p", "-J") // -J: a line too wide shows whole
		if strings.Contains(screen, s) {
			return screen
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not shown within %v:\n%s", s, limit, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
