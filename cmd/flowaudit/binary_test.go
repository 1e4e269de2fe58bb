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
func TestMain(m *testing.M) {
	os.Unsetenv("COLUMNS")
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
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
