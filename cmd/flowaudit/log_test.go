package main

import (
	"bytes"
	"log/slog"
	"testing"
)

func TestLineHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newLineHandler(&b, slog.LevelWarn))
	log.Info("not shown")
	log.Warn("capture: read capture x.pcap: truncated")
	log.With("file", "s.json").Error("bad", "n", 3)
	want := "flowaudit: warning: capture: read capture x.pcap: truncated\n" +
		"flowaudit: error: bad file=s.json n=3\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestLineHandlerEscapes (issue 10, rows 6 and 9): a warning carrying a
// file's text stays one line, with its escape sequences shown, not run.
func TestLineHandlerEscapes(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newLineHandler(&b, slog.LevelWarn))
	log.Warn("session: \x1b]52;c;aGk=\x07\n27 requirements: 27 ok", "file\x1b[2J", "a\u202eb")
	want := `flowaudit: warning: session: \x1b]52;c;aGk=\x07\n27 requirements: 27 ok file\x1b[2J=a\u202eb` + "\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
