package catalog

import "testing"

// BenchmarkBundled measures loading and validating every bundled product,
// which each command that resolves products does once.
func BenchmarkBundled(b *testing.B) {
	for b.Loop() {
		if _, err := Bundled(); err != nil {
			b.Fatal(err)
		}
	}
}
