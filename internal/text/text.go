// Package text writes the small phrases several packages share, one way
// each: a count with its noun, a list of addresses, a byte size.
package text

import (
	"fmt"
	"net/netip"
	"strings"
)

// Count writes n and its noun, singular for one: Count(1, "flow",
// "flows") is "1 flow", Count(0, "flow", "flows") "0 flows".
func Count[N int | int64 | uint64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Addrs lists addresses in the order given, separated by ", "; "" for
// none (callers say "none" their own way).
func Addrs(as []netip.Addr) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

// Size writes a byte count the way limits are given: "1 GiB", "1.5 GiB",
// "300 bytes". A size just over a whole unit is written in bytes
// ("4194305 bytes"): "4.0 MiB" would read as the limit itself.
func Size(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		switch {
		case n >= u.size && n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		case n >= u.size:
			if t := fmt.Sprintf("%.1f", float64(n)/float64(u.size)); !strings.HasSuffix(t, ".0") {
				return t + " " + u.name
			}
			return fmt.Sprintf("%d bytes", n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
