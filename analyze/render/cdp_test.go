package render

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// devtools drives one headless Chromium over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands on the browser's fd 3, answers
// and events on fd 4, each a JSON object ending in a NUL byte). The
// command line alone cannot give a viewport narrower than the smallest
// window (500 px): Emulation.setDeviceMetricsOverride can.
type devtools struct {
	t       *testing.T
	cmd     *exec.Cmd
	w       io.WriteCloser
	r       *bufio.Reader
	id      int
	session string
	log     bytes.Buffer
}

func startDevtools(t *testing.T, bin string) *devtools {
	t.Helper()
	cmdR, cmdW, err := os.Pipe() // our commands: the browser reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe() // its answers: the browser writes fd 4
	if err != nil {
		t.Fatal(err)
	}
	d := &devtools{t: t, w: cmdW, r: bufio.NewReader(outR)}
	d.cmd = exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	d.cmd.ExtraFiles = []*os.File{cmdR, outW}
	d.cmd.Stderr = &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	cmdR.Close()
	outW.Close()
	t.Cleanup(func() {
		d.w.Close()
		done := make(chan error, 1)
		go func() { done <- d.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
		outR.Close()
	})
	var target struct{ TargetID string }
	d.call("Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	d.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	d.session = attached.SessionID
	return d
}

// call sends one command (to the page once attached) and decodes its
// result into result, skipping the events that come in between.
func (d *devtools) call(method string, params any, result any) {
	d.t.Helper()
	d.id++
	msg := map[string]any{"id": d.id, "method": method, "params": params}
	if d.session != "" {
		msg["sessionId"] = d.session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.w.Write(append(b, 0)); err != nil {
		d.t.Fatalf("devtools %s: %v\n%s", method, err, d.log.String())
	}
	for {
		line, err := d.r.ReadBytes(0)
		if err != nil {
			d.t.Fatalf("devtools %s: %v\n%s", method, err, d.log.String())
		}
		var ans struct {
			ID     int
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		if err := json.Unmarshal(line[:len(line)-1], &ans); err != nil {
			d.t.Fatalf("devtools %s: %v", method, err)
		}
		if ans.ID != d.id {
			continue // an event
		}
		if ans.Error != nil {
			d.t.Fatalf("devtools %s: %s", method, ans.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(ans.Result, result); err != nil {
				d.t.Fatalf("devtools %s result: %v", method, err)
			}
		}
		return
	}
}

// open loads page in a viewport width px wide (a phone's below 600).
func (d *devtools) open(page string, width int) {
	d.t.Helper()
	d.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}, nil)
	d.call("Page.navigate", map[string]any{"url": "file://" + page}, nil)
	for range 100 {
		var state string
		d.eval("document.readyState", &state)
		if state == "complete" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatalf("%s did not load", page)
}

// eval evaluates a JavaScript expression in the page and decodes its
// value into v. DevTools evaluations are not page scripts: the page's
// Content-Security-Policy stays as it is.
func (d *devtools) eval(expr string, v any) {
	d.t.Helper()
	var res struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails *struct{ Text string }
	}
	d.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res)
	if res.ExceptionDetails != nil {
		d.t.Fatalf("evaluate: %s", res.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(res.Result.Value, v); err != nil {
		d.t.Fatalf("evaluate %q: %v (%s)", expr, err, res.Result.Value)
	}
}

// screenshot writes a PNG of the whole page, width px wide.
func (d *devtools) screenshot(path string, width int) {
	d.t.Helper()
	var height float64
	d.eval("document.documentElement.scrollHeight", &height)
	var shot struct{ Data string }
	d.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}, &shot)
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// measureJS measures the page as loaded: the viewport's width, the
// document's (wider means the page scrolls sideways), the smallest font
// size of any visible text, and how many <details> stay closed while
// printing (the page's own script opens them on beforeprint) and after.
const measureJS = `(function () {
  var min = 1000;
  document.querySelectorAll('body *').forEach(function (e) {
    var text = false;
    e.childNodes.forEach(function (n) { if (n.nodeType === 3 && n.textContent.trim() !== '') { text = true; } });
    if (text && e.getClientRects().length > 0) { min = Math.min(min, parseFloat(getComputedStyle(e).fontSize)); }
  });
  var m = {innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, minFont: min,
    closedBefore: document.querySelectorAll('details:not([open])').length};
  window.dispatchEvent(new Event('beforeprint'));
  m.closedPrinting = document.querySelectorAll('details:not([open])').length;
  window.dispatchEvent(new Event('afterprint'));
  m.closedAfter = document.querySelectorAll('details:not([open])').length;
  return JSON.stringify(m);
})()`

type measures struct {
	InnerWidth, ScrollWidth                   int
	MinFont                                   float64
	ClosedBefore, ClosedPrinting, ClosedAfter int
}

func (d *devtools) measure() measures {
	d.t.Helper()
	var s string
	d.eval(measureJS, &s)
	var m measures
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		d.t.Fatalf("measures %q: %v", s, err)
	}
	return m
}

func (m measures) String() string {
	return fmt.Sprintf("viewport %d px, page %d px, smallest text %.1f px, details closed %d before printing, %d printing, %d after",
		m.InnerWidth, m.ScrollWidth, m.MinFont, m.ClosedBefore, m.ClosedPrinting, m.ClosedAfter)
}
