#include "textflag.h"

// func prefetchEntry(addr uintptr)
// Hints the first three cache lines at addr (a flow entry) into all cache
// levels. PREFETCHT0 never faults and retires at once, so the caller goes
// on while the lines arrive.
TEXT ·prefetchEntry(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ addr+0(FP), AX
	PREFETCHT0 0(AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	RET

// func prefetchLine(addr uintptr)
TEXT ·prefetchLine(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ addr+0(FP), AX
	PREFETCHT0 0(AX)
	RET
