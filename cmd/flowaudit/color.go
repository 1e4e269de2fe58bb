package main

import (
	"io"
	"os"
)

// useColor is the one colour decision of the terminal outputs (the report
// table, the diff table, the live view): colours only when w is a
// terminal and NO_COLOR (https://no-color.org) is unset or empty; files
// and pipes never get escape codes.
func useColor(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == ""
}
