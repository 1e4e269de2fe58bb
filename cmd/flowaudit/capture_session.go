package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/internal/escape"
)

// capture always saves its session, so that a long capture can be audited
// again (`flowaudit report`) without having planned for it: to --session
// FILE, or else to a file named after the node and the start in the state
// directory. --no-session opts out.

// stateEnv is what the state directory depends on: the environment, the
// effective user, the home directory (stateDir's inputs, a struct so the
// resolution is tested without changing the process's environment).
type stateEnv struct {
	getenv func(string) string
	euid   int
	home   func() (string, error)
}

// processStateEnv is the running process's.
func processStateEnv() stateEnv {
	return stateEnv{getenv: os.Getenv, euid: os.Geteuid(), home: os.UserHomeDir}
}

// stateDir is the directory capture saves sessions to without --session:
// $FLOWAUDIT_STATE_DIR when set, else /var/lib/flowaudit for root, else
// $XDG_STATE_HOME/flowaudit (an absolute XDG_STATE_HOME only, as the XDG
// base directory specification asks), else ~/.local/state/flowaudit.
func stateDir(env stateEnv) (string, error) {
	if d := env.getenv("FLOWAUDIT_STATE_DIR"); d != "" {
		return d, nil
	}
	if env.euid == 0 {
		return "/var/lib/flowaudit", nil
	}
	if x := env.getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "flowaudit"), nil
	}
	home, err := env.home()
	if err != nil {
		return "", fmt.Errorf("find the state directory: %w (set FLOWAUDIT_STATE_DIR or give --session FILE)", err)
	}
	return filepath.Join(home, ".local", "state", "flowaudit"), nil
}

// sessionFileName is the default session's name: the node and the UTC
// start, "gw1-20261204T183000Z.session.json". The node is made a safe
// file name: characters other than letters, digits, '.', '_' and '-'
// become '_', leading dots are dropped (no hidden file), at most 64
// characters; "gateway" when nothing is left.
func sessionFileName(node string, start time.Time) string {
	var b strings.Builder
	for _, r := range node {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if len(name) > 64 {
		name = name[:64]
	}
	if strings.Trim(name, "_") == "" {
		name = "gateway"
	}
	return name + "-" + start.UTC().Format("20060102T150405Z") + ".session.json"
}

// defaultSessionPath creates the state directory (0700: sessions hold
// the site's traffic) and returns a session file in it that does not
// exist yet: the name of sessionFileName, with "-2", "-3"... should a
// capture of the same node have started in the same second.
func defaultSessionPath(env stateEnv, node string, start time.Time) (string, error) {
	dir, err := stateDir(env)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the state directory: %w", err)
	}
	name := sessionFileName(node, start)
	base := strings.TrimSuffix(name, ".session.json")
	for i := 1; i < 100; i++ {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
		name = fmt.Sprintf("%s-%d.session.json", base, i+1)
	}
	return "", fmt.Errorf("%s: too many sessions named %s", dir, base)
}

// captureSession opens the capture's session: --session FILE (an error
// when it cannot be created: nothing is captured), none with
// --no-session, else a default file in the state directory, where a
// failure is a warning and the capture runs without a session. It says
// on stderr where the session goes.
func (a *app) captureSession(f *captureFlags, open func(path string) (*sessionSink, error), node string, start time.Time) (*sessionSink, error) {
	if f.noSession {
		return nil, nil
	}
	path := f.session
	if path == "" {
		p, err := defaultSessionPath(processStateEnv(), node, start)
		if err == nil {
			var s *sessionSink
			if s, err = open(p); err == nil {
				fmt.Fprintf(a.stderr, "flowaudit: session: %s\n", escape.Terminal(p))
				return s, nil
			}
		}
		a.log.Warn("no session saved (--session FILE chooses one, --no-session silences this): " + err.Error())
		return nil, nil
	}
	s, err := open(path)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.stderr, "flowaudit: session: %s\n", escape.Terminal(path))
	return s, nil
}
