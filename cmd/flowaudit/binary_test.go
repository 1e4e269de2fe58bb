package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain removes the binary flowauditBinary built, if any. The table's
// width comes from COLUMNS when the output is no terminal: the tests run
// without it (the default, 100 columns), and those about the width set it.
// A capture saves its session in the state directory by default: the
// tests' captures (in this process and the binaries it starts) save
// theirs in a temporary one, never in /var/lib/flowaudit or the home.
func TestMain(m *testing.M) {
	os.Unsetenv("COLUMNS")
	state, err := os.MkdirTemp("", "flowaudit-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("FLOWAUDIT_STATE_DIR", state)
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.RemoveAll(state)
	os.Exit(code)
}

// flowauditBinary builds bin/flowaudit once per test process (static, as
// `make build` does) into a temporary directory, for tests that must run
// the real program: signals, exit statuses, network namespaces.
func flowauditBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "flowaudit-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "flowaudit")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build flowaudit: %v\n%s", binErr, binPath)
	}
	return binPath
}
