package flow

import "unsafe"

// UIDs makes flow UIDs, Zeek style: "C" and 17 base62 characters, a
// bijective mix of a flow counter, so they are unique within one run and
// look like Zeek's without a random source. Both capture backends use it
// (the Table for packets, capture/ebpf for kernel flows), so a flow's UID
// does not depend on how it was captured. UIDs are carved from shared
// 64 KiB chunks: no allocation per UID in steady state. The zero value is
// ready to use; it is not safe for concurrent use.
type UIDs struct {
	chunk []byte
}

// uidLen is the length of every UID.
const uidLen = 18

// uidSeed is mixed into every counter value.
const uidSeed = 0x9e3779b97f4a7c15

// Make returns the UID of flow number n.
func (g *UIDs) Make(n uint64) string {
	if len(g.chunk) < uidLen {
		g.chunk = make([]byte, 64<<10)
	}
	b := g.chunk[:uidLen:uidLen]
	g.chunk = g.chunk[uidLen:]
	fillUID(b, n)
	return unsafeString(b)
}

// unsafeString returns the bytes of b, which are never changed again, as
// a string without copying them.
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }

// UID returns the UID of flow number n, as UIDs.Make does, in a string of
// its own (one allocation).
func UID(n uint64) string {
	var b [uidLen]byte
	fillUID(b[:], n)
	return string(b[:])
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func fillUID(b []byte, n uint64) {
	x := mix64(n ^ uidSeed)
	b[0] = 'C'
	for i := 1; i < len(b); i++ {
		b[i] = base62[x%62]
		x /= 62
		if x == 0 {
			// Keep the length fixed: fill with a second mix of the counter.
			x = mix64(n + uint64(i))
		}
	}
}

// mix64 is the splitmix64 finalizer, a bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
