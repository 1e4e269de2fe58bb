package flow

// prefetchEntry and prefetchLine are cache hints (PREFETCHT0): unlike a
// load, a prefetch does not hold up the instructions after it, so the
// table can ask for the entries of the next packets while it works on the
// current ones. Go has no prefetch intrinsic outside the runtime.

//go:noescape
func prefetchEntry(addr uintptr)

//go:noescape
func prefetchLine(addr uintptr)
