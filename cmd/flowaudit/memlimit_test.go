package main

import (
	"path/filepath"
	"testing"
)

// TestStreamHeapLimit: a replay whose audit streams gets a soft heap limit
// sized by --max-flows; one that keeps every flow (to infer the gateway,
// or for a session) does not, since its live heap grows with the input.
func TestStreamHeapLimit(t *testing.T) {
	if got := streamHeapLimit(0); got != 128<<20 {
		t.Errorf("default limit %d, want 128 MiB", got)
	}
	if got := streamHeapLimit(1 << 20); got != 368<<20 {
		t.Errorf("limit for 1M flows %d, want 368 MiB", got)
	}
	pcap := filepath.Join("..", "..", "testdata", "example", "gateway.pcap")
	out := filepath.Join(t.TempDir(), "r.json")
	for _, tc := range []struct {
		name string
		args []string
		want int64
	}{
		{"streamed", []string{"--host", "192.0.2.10", "--max-flows", "1000"}, 1000*320 + 48<<20},
		{"hosts inferred", nil, 0},
		// A session is written as flows end: it holds nothing either.
		{"session written", []string{"--host", "192.0.2.10", "--session", filepath.Join(t.TempDir(), "s.json")}, 262144*320 + 48<<20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got int64
			setMemoryLimit = func(n int64) { got = n }
			defer func() { setMemoryLimit = func(int64) {} }()
			args := append([]string{"replay", "-p", "mailcleaner", "--fail-on", "none", "-f", "json", "-o", out}, tc.args...)
			if _, stderr, err := runCLI(t, append(args, pcap)...); err != nil {
				t.Fatalf("replay: %v\n%s", err, stderr)
			}
			if got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}
