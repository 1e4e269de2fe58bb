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
