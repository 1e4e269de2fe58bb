package main

import "github.com/flowaudit/flowaudit/capture/flow"

// streamHeapLimit is the soft heap limit of a replay whose audit streams
// (gateway addresses known, no session kept): then nothing it holds grows
// with the input, only with --max-flows, and the garbage collector need
// not let the heap reach twice what is live, as it does by default
// (GOGC=100). Measured on a 5M-flow SYN flood (testdata/bench/flood.sh):
// 180 MB peak RSS without, 132 MB with. It leaves room for the flow
// table's slab (256 bytes a flow) with a quarter to spare, plus 48 MiB
// for the rest of the table, the pipeline and the audit's bounded
// evidence: 128 MiB at the default bound. It is soft: when more is live
// (many flows still open at the end of input), the collector runs more
// often, it does not fail.
func streamHeapLimit(maxFlows int) int64 {
	if maxFlows <= 0 {
		maxFlows = flow.DefaultMaxFlows
	}
	return int64(maxFlows)*320 + 48<<20
}

// setMemoryLimit applies a soft heap limit: runtime/debug.SetMemoryLimit
// in the binary, unless GOMEMLIMIT is set (main). Tests, which run many
// commands in one process, leave the limit alone.
var setMemoryLimit = func(int64) {}
