package session

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// openAll is OpenAll(0, paths...) with the Readers closed at the end of
// the test.
func openAll(t *testing.T, paths ...string) ([]*Reader, error) {
	t.Helper()
	rs, err := OpenAll(0, paths...)
	for _, r := range rs {
		t.Cleanup(func() { r.Close() })
	}
	return rs, err
}

// sameCapture is SameCapture of two sessions in memory.
func sameCapture(t *testing.T, a, b *Session) bool {
	t.Helper()
	same, err := SameCapture(a.Source(), b.Source())
	if err != nil {
		t.Fatal(err)
	}
	return same
}

// emptyReplay is the session replay --session writes for a capture file
// without packets: no flows and no packet times.
func emptyReplay(node, file string) *Session {
	return &Session{Version: Version, Header: Header{ToolVersion: "v1.2.3", Node: node, Backend: "file"},
		Trailer: Trailer{Stats: capture.Stats{Backend: "file", Files: []string{file}}}, Flows: []flow.Flow{}}
}

// TestZeroTimesOmitted: a session without start and end (an empty
// capture) leaves them out rather than writing year 1, and loads back
// the same; files that wrote year 1 (before omitzero) still load.
func TestZeroTimesOmitted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "empty.json")
	want := emptyReplay("gw1", "empty.pcap")
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("0001-01-01")) || bytes.Contains(data, []byte(`"start"`)) || bytes.Contains(data, []byte(`"end"`)) {
		t.Errorf("zero times written:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`"flows": []`)) {
		t.Errorf("no empty flows list:\n%s", data)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
	old := bytes.Replace(data, []byte(`"backend": "file",`), []byte(`"backend": "file", "start": "0001-01-01T00:00:00Z", "end": "0001-01-01T00:00:00Z",`), 1)
	if bytes.Equal(old, data) {
		t.Fatal("could not make the old form")
	}
	s, err := Read(bytes.NewReader(old))
	if err != nil {
		t.Fatalf("file with year-1 times: %v", err)
	}
	if !s.Start.IsZero() || !s.End.IsZero() {
		t.Errorf("year-1 times read as %v, %v", s.Start, s.End)
	}
	// A live capture's times are written.
	if err := Save(path, sampleSession("gw1", 1)); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte(`"start": "2026-11-22T10:00:00Z"`)) {
		t.Errorf("start not written:\n%s", data)
	}
}

// TestSameCaptureWithoutStart: sessions without a start are told apart by
// content, so two copies of one file are still refused while two empty
// captures of one node are not.
func TestSameCaptureWithoutStart(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	a := saveAs(t, "a.json", emptyReplay("gw1", "empty.pcap"))
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("copy.json", data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The same session as written before zero times were left out.
	yearOne := bytes.Replace(data, []byte(`"backend": "file",`), []byte(`"backend": "file", "start": "0001-01-01T00:00:00Z", "end": "0001-01-01T00:00:00Z",`), 1)
	if err := os.WriteFile("old.json", yearOne, 0o644); err != nil {
		t.Fatal(err)
	}
	otherFile := saveAs(t, "other.json", emptyReplay("gw1", "other.pcap"))
	otherNode := saveAs(t, "gw2.json", emptyReplay("gw2", "empty.pcap"))
	live := saveAs(t, "live.json", sampleSession("gw1", 0))
	tests := []struct {
		name  string
		paths []string
		want  string // "" = loads
	}{
		{"copy of an empty capture", []string{a, "copy.json"}, `sessions a.json and copy.json are the same capture (node "gw1", no start, identical content): each flow would count twice`},
		{"copy with year-1 times", []string{"old.json", a}, `sessions old.json and a.json are the same capture (node "gw1", no start, identical content)`},
		{"two empty captures of one node", []string{a, otherFile}, ""},
		{"empty captures of two nodes", []string{a, otherNode}, ""},
		{"empty and live capture of one node", []string{a, live}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := openAll(t, tc.paths...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && len(ss) != len(tc.paths):
				t.Fatalf("%d sessions", len(ss))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrDuplicate):
				t.Errorf("%v is not ErrDuplicate", err)
			}
		})
	}
	// In memory too: a session just made and the same one loaded.
	loaded, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	made := emptyReplay("gw1", "empty.pcap")
	if !sameCapture(t, made, loaded) || !sameCapture(t, loaded, made) {
		t.Error("a new empty session and its saved copy are not the same capture")
	}
	if sameCapture(t, emptyReplay("gw1", "empty.pcap"), sampleSession("gw1", 0)) {
		t.Error("a session without start is the same capture as one with")
	}
	// Sessions without start but with flows are compared flow by flow.
	x, y := sampleSession("gw1", 3), sampleSession("gw1", 3)
	x.Start, y.Start = time.Time{}, time.Time{}
	if !sameCapture(t, x, y) {
		t.Error("two identical sessions without start are not the same capture")
	}
	y.Flows[2].Attempts++
	if sameCapture(t, x, y) {
		t.Error("sessions whose last flows differ are the same capture")
	}
	y.Flows = y.Flows[:2]
	if sameCapture(t, x, y) {
		t.Error("sessions of 3 and 2 flows are the same capture")
	}
}
