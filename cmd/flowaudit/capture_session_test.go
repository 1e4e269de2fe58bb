package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStateDir: where capture saves sessions without --session, by the
// environment and the user.
func TestStateDir(t *testing.T) {
	home := func() (string, error) { return "/home/ann", nil }
	noHome := func() (string, error) { return "", errors.New("$HOME is not defined") }
	for _, tc := range []struct {
		name string
		env  map[string]string
		euid int
		home func() (string, error)
		want string // "" for an error
	}{
		{"FLOWAUDIT_STATE_DIR first", map[string]string{"FLOWAUDIT_STATE_DIR": "/srv/fa", "XDG_STATE_HOME": "/x"}, 0, home, "/srv/fa"},
		{"FLOWAUDIT_STATE_DIR for a user", map[string]string{"FLOWAUDIT_STATE_DIR": "rel/dir"}, 1000, home, "rel/dir"},
		{"root", map[string]string{"XDG_STATE_HOME": "/root/.st"}, 0, home, "/var/lib/flowaudit"},
		{"user with XDG_STATE_HOME", map[string]string{"XDG_STATE_HOME": "/home/ann/st"}, 1000, home, "/home/ann/st/flowaudit"},
		{"user, relative XDG_STATE_HOME ignored", map[string]string{"XDG_STATE_HOME": "st"}, 1000, home, "/home/ann/.local/state/flowaudit"},
		{"user, default", nil, 1000, home, "/home/ann/.local/state/flowaudit"},
		{"user without a home", nil, 1000, noHome, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stateDir(stateEnv{getenv: func(k string) string { return tc.env[k] }, euid: tc.euid, home: tc.home})
			switch {
			case tc.want == "" && (err == nil || !strings.Contains(err.Error(), "FLOWAUDIT_STATE_DIR")):
				t.Errorf("got %q, %v; want an error naming FLOWAUDIT_STATE_DIR", got, err)
			case tc.want != "" && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestSessionFileName: node and UTC start, the node made a safe file name.
func TestSessionFileName(t *testing.T) {
	start := time.Date(2026, 12, 4, 19, 30, 0, 0, time.FixedZone("CET", 3600))
	for node, want := range map[string]string{
		"gw1":                    "gw1-20261204T183000Z.session.json",
		"gw1.example.org":        "gw1.example.org-20261204T183000Z.session.json",
		"mail gw/2":              "mail_gw_2-20261204T183000Z.session.json",
		"../../etc":              "_.._etc-20261204T183000Z.session.json",
		".hidden":                "hidden-20261204T183000Z.session.json",
		"":                       "gateway-20261204T183000Z.session.json",
		"///":                    "gateway-20261204T183000Z.session.json",
		"ünïcode":                "_n_code-20261204T183000Z.session.json",
		strings.Repeat("a", 100): strings.Repeat("a", 64) + "-20261204T183000Z.session.json",
	} {
		if got := sessionFileName(node, start); got != want {
			t.Errorf("node %q: %q, want %q", node, got, want)
		}
		if strings.ContainsRune(sessionFileName(node, start), os.PathSeparator) {
			t.Errorf("node %q: a separator in the name", node)
		}
	}
}

// TestDefaultSessionPath: the directory is created 0700, a name already
// taken gets a suffix, and a directory that cannot be created is an
// error (which capture turns into a warning).
func TestDefaultSessionPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "flowaudit")
	env := stateEnv{getenv: func(k string) string {
		if k == "FLOWAUDIT_STATE_DIR" {
			return dir
		}
		return ""
	}, euid: os.Geteuid(), home: os.UserHomeDir}
	start := time.Date(2026, 12, 4, 18, 30, 0, 0, time.UTC)
	p, err := defaultSessionPath(env, "gw1", start)
	if err != nil || p != filepath.Join(dir, "gw1-20261204T183000Z.session.json") {
		t.Fatalf("got %q, %v", p, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory %v, %v; want mode 0700", fi.Mode(), err)
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if p2, err := defaultSessionPath(env, "gw1", start); err != nil || p2 != filepath.Join(dir, "gw1-20261204T183000Z-2.session.json") {
		t.Errorf("second capture in the same second: %q, %v", p2, err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(file, "sub") // under a regular file: not even root creates it
	if p, err := defaultSessionPath(env, "gw1", start); err == nil || !strings.Contains(err.Error(), "create the state directory") {
		t.Errorf("unwritable: %q, %v; want an error", p, err)
	}
}

// TestCaptureSession: the default session is announced on stderr; one
// that cannot be created is a warning and no session; an explicit
// --session that cannot be created is an error; --no-session is none.
func TestCaptureSession(t *testing.T) {
	start := time.Date(2026, 12, 4, 18, 30, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	opened := ""
	open := func(path string) (*sessionSink, error) {
		if strings.HasPrefix(path, file) {
			return nil, errors.New("create " + path + ": not a directory")
		}
		opened = path
		return &sessionSink{path: path}, nil
	}
	for _, tc := range []struct {
		name, stateDir string
		f              captureFlags
		wantPath       string // "" for no session
		wantErr        bool
		wantStderr     string
	}{
		{"default", state, captureFlags{node: "gw1"}, filepath.Join(state, "gw1-20261204T183000Z.session.json"), false,
			"flowaudit: session: " + filepath.Join(state, "gw1-20261204T183000Z.session.json") + "\n"},
		{"explicit", state, captureFlags{session: "/tmp/x.session.json"}, "/tmp/x.session.json", false, "flowaudit: session: /tmp/x.session.json\n"},
		{"no session", state, captureFlags{noSession: true}, "", false, ""},
		{"unwritable state directory: a warning", filepath.Join(file, "sub"), captureFlags{node: "gw1"}, "", false,
			"flowaudit: warning: no session saved (--session FILE chooses one, --no-session silences this): create the state directory: "},
		{"unwritable --session: an error", state, captureFlags{session: filepath.Join(file, "s.json")}, "", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FLOWAUDIT_STATE_DIR", tc.stateDir)
			var stderr bytes.Buffer
			a := &app{stderr: &stderr, log: slog.New(newLineHandler(&stderr, slog.LevelWarn))}
			opened = ""
			s, err := a.captureSession(&tc.f, open, tc.f.node, start)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if got := ""; s != nil {
				got = s.path
				if got != tc.wantPath || opened != got {
					t.Errorf("session %q (opened %q), want %q", got, opened, tc.wantPath)
				}
			} else if tc.wantPath != "" {
				t.Errorf("no session, want %q", tc.wantPath)
			}
			if !strings.HasPrefix(stderr.String(), tc.wantStderr) || tc.wantStderr == "" && stderr.Len() > 0 {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
