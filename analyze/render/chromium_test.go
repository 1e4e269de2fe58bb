package render

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium or Chrome binary. Without one
// the test is skipped, except under CI=true, where it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium: CI must install the Debian package chromium (.ci/run)")
	}
	t.Skip("no chromium installed: the HTML report's CSP is not checked in a browser")
	return ""
}

// loadInChromium opens page in headless Chromium and returns the DOM after
// load and what the browser logged, console messages included (CSP
// violations are logged there).
func loadInChromium(t *testing.T, bin, page string, args ...string) (dom, log string) {
	t.Helper()
	return runChromium(t, bin, page, append(args, "--enable-logging=stderr", "--v=0", "--dump-dom")...)
}

// runChromium runs headless Chromium on page with the flags this machine
// needs (BRIEF.md) and args, and returns its output and log.
func runChromium(t *testing.T, bin, page string, args ...string) (out, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, "file://"+page)...)
	var o, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", filepath.Base(page), err, errb.String())
	}
	return o.String(), errb.String()
}

// cspMessages are the log lines about the Content-Security-Policy: the
// violations ("... violates the following Content Security Policy
// directive ...") and a policy the browser could not read.
func cspMessages(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Content-Security-Policy") {
			out = append(out, l)
		}
	}
	return out
}

// TestHTMLCSPChromium (issue 10, row 14): the HTML reports load in
// headless Chromium with no CSP violation logged, the hostile one
// included; and the check can fail: the same page with an inline style
// attribute and a script added logs both violations, naming the page's
// own policy.
func TestHTMLCSPChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	pages := map[string][]byte{}
	for _, fx := range []fixture{goldenFixtures(t)[0], hostileFixture(t)} {
		var b bytes.Buffer
		if err := HTML(&b, fx.rep, Options{All: true}); err != nil {
			t.Fatal(err)
		}
		pages[fx.name] = b.Bytes()
	}
	tampered := strings.Replace(string(pages["hostile"]), `<div class="bar"`, `<div style="outline: 1px solid red" class="bar"`, 1)
	tampered = strings.Replace(tampered, "</body>", "<script>document.title = 'ran'</script></body>", 1)
	pages["tampered"] = []byte(tampered)
	// One browser per page, side by side: each takes seconds to start.
	for name, page := range pages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, name+".html")
			if err := os.WriteFile(path, page, 0o644); err != nil {
				t.Fatal(err)
			}
			dom, log := loadInChromium(t, bin, path)
			if !strings.Contains(dom, `id="summary"`) {
				t.Errorf("the page did not render (DOM %d bytes)", len(dom))
			}
			msgs := cspMessages(log)
			if name != "tampered" {
				for _, m := range msgs {
					t.Error(m)
				}
				return
			}
			all := strings.Join(msgs, "\n")
			for _, want := range []string{"Applying inline style violates", "Executing inline script violates", cspHash(string(htmlStyle))} {
				if !strings.Contains(all, want) {
					t.Errorf("no log line with %q: the check would miss a violation\n%s", want, all)
				}
			}
		})
	}
}
