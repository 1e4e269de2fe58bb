package labtest

import (
	"os"
	"testing"
)

// RequireRoot skips a privileged test when not root, and fails it under
// CI=true, where privileged tests must run. needs says what root is for
// ("AF_PACKET sockets and network namespaces").
func RequireRoot(t testing.TB, needs string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("privileged test needs root, and CI=true: refusing to skip")
	}
	t.Skipf("privileged test: needs root (%s): run as root, e.g. sudo go test -run Privileged", needs)
}
