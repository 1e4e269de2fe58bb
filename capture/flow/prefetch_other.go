//go:build !amd64

package flow

// Without a prefetch instruction wrapper the hints do nothing; the table
// is correct either way, only slower on large tables.

func prefetchEntry(uintptr) {}

func prefetchLine(uintptr) {}
