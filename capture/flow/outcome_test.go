package flow

import "testing"

func TestSummaryOutcomeAndState(t *testing.T) {
	const (
		S  = flagSYN
		A  = flagACK
		F  = flagFIN
		R  = flagRST
		SA = flagSYN | flagACK
	)
	tests := []struct {
		name    string
		s       Summary
		outcome Outcome
		state   ConnState
	}{
		{"tcp syn only", Summary{Proto: ProtoTCP, OrigFlags: S, OrigPkts: 3, Attempts: 3}, Unanswered, StateS0},
		{"tcp refused", Summary{Proto: ProtoTCP, OrigFlags: S, RespFlags: R | A, OrigPkts: 1, RespPkts: 1}, Rejected, StateREJ},
		{"tcp established open", Summary{Proto: ProtoTCP, OrigFlags: S | A, RespFlags: SA, OrigPkts: 2, RespPkts: 1}, Established, StateS1},
		{"tcp closed both", Summary{Proto: ProtoTCP, OrigFlags: S | A | F, RespFlags: SA | F, OrigPkts: 4, RespPkts: 3, OrigBytes: 10, RespBytes: 20}, Established, StateSF},
		{"tcp orig fin only", Summary{Proto: ProtoTCP, OrigFlags: S | A | F, RespFlags: SA, OrigPkts: 3, RespPkts: 1}, Established, StateS2},
		{"tcp resp fin only", Summary{Proto: ProtoTCP, OrigFlags: S | A, RespFlags: SA | F, OrigPkts: 3, RespPkts: 2}, Established, StateS3},
		{"tcp orig reset", Summary{Proto: ProtoTCP, OrigFlags: S | A | R, RespFlags: SA, OrigPkts: 3, RespPkts: 1}, Established, StateRSTO},
		{"tcp resp reset after estab", Summary{Proto: ProtoTCP, OrigFlags: S | A, RespFlags: SA | R, OrigPkts: 3, RespPkts: 2, OrigBytes: 5}, Established, StateRSTR},
		{"tcp syn then rst", Summary{Proto: ProtoTCP, OrigFlags: S | R, OrigPkts: 2}, Unanswered, StateRSTOS0},
		{"tcp synack then rst, no syn", Summary{Proto: ProtoTCP, RespFlags: SA | R, RespPkts: 2}, Unknown, StateRSTRH},
		{"tcp syn then fin", Summary{Proto: ProtoTCP, OrigFlags: S | F, OrigPkts: 2}, Unanswered, StateSH},
		{"tcp synack then fin", Summary{Proto: ProtoTCP, RespFlags: SA | F, RespPkts: 2}, Established, StateSHR},
		{"tcp midstream", Summary{Proto: ProtoTCP, OrigFlags: A, RespFlags: A, OrigPkts: 5, RespPkts: 5}, Established, StateOTH},
		{"tcp icmp error", Summary{Proto: ProtoTCP, OrigFlags: S, OrigPkts: 2, ICMPError: true}, Unreachable, StateS0},
		{"tcp midstream one side", Summary{Proto: ProtoTCP, OrigFlags: A, OrigPkts: 5}, Unknown, StateOTH},
		{"tcp midstream reset by the server after an exchange", Summary{Proto: ProtoTCP, OrigFlags: A, RespFlags: A | R, OrigPkts: 3, RespPkts: 3, OrigBytes: 20, RespBytes: 40}, Established, StateRSTRH},
		{"tcp stale connection reset", Summary{Proto: ProtoTCP, OrigFlags: A, RespFlags: R, OrigPkts: 1, RespPkts: 1, OrigBytes: 10}, Rejected, StateRSTRH},
		{"tcp syn-ack never acknowledged", Summary{Proto: ProtoTCP, OrigFlags: S, RespFlags: SA, OrigPkts: 3, RespPkts: 3, Attempts: 3}, Unanswered, StateS1},
		{"tcp syn scan (the scanner resets the syn-ack)", Summary{Proto: ProtoTCP, OrigFlags: S | R, RespFlags: SA, OrigPkts: 2, RespPkts: 1}, Established, StateRSTO},
		{"tcp only the client side captured", Summary{Proto: ProtoTCP, OrigFlags: S | A | F, OrigPkts: 4, OrigBytes: 12}, Established, StateSH},
		{"udp answered", Summary{Proto: ProtoUDP, OrigPkts: 1, RespPkts: 1}, Established, StateSF},
		{"udp unanswered", Summary{Proto: ProtoUDP, OrigPkts: 2}, Unanswered, StateS0},
		{"udp icmp", Summary{Proto: ProtoUDP, OrigPkts: 1, ICMPError: true}, Unreachable, StateS0},
		{"udp reply only (a receive-only capture)", Summary{Proto: ProtoUDP, RespPkts: 1}, Established, StateSHR},
		{"udp quoted by an icmp error only", Summary{Proto: ProtoUDP, ICMPError: true}, Unreachable, StateOTH},
		{"tcp quoted by an icmp error only", Summary{Proto: ProtoTCP, ICMPError: true}, Unreachable, StateOTH},
		{"tcp synack and data only", Summary{Proto: ProtoTCP, RespFlags: SA | F, RespPkts: 4, RespBytes: 30}, Established, StateSHR},
		{"tcp synack retransmitted only", Summary{Proto: ProtoTCP, RespFlags: SA, RespPkts: 3}, Unknown, StateOTH},
		{"tcp refusal only (rst+ack)", Summary{Proto: ProtoTCP, RespFlags: R | A, RespPkts: 2}, Rejected, StateRSTRH},
		{"tcp bare rst only (a midstream reset)", Summary{Proto: ProtoTCP, RespFlags: R, RespPkts: 1}, Unknown, StateRSTRH},
		{"tcp responder data only, start missed", Summary{Proto: ProtoTCP, RespFlags: A, RespPkts: 3, RespBytes: 100}, Unknown, StateOTH},
		{"nothing at all", Summary{Proto: ProtoTCP}, Unknown, StateOTH},
		{"icmp echo answered", Summary{Proto: ProtoICMP, OrigPkts: 1, RespPkts: 1}, Established, StateOTH},
		{"other proto", Summary{Proto: 132, OrigPkts: 4}, Unanswered, StateOTH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Outcome(); got != tt.outcome {
				t.Errorf("Outcome() = %s, want %s", got, tt.outcome)
			}
			if got := tt.s.State(); got != tt.state {
				t.Errorf("State() = %s, want %s", got, tt.state)
			}
		})
	}
}

func TestICMPFails(t *testing.T) {
	for _, tc := range []struct {
		v6        bool
		typ, code uint8
		fails     bool
	}{
		{false, 3, 3, true},  // port unreachable
		{false, 3, 13, true}, // admin-prohibited
		{false, 3, 4, false}, // fragmentation needed: path MTU
		{false, 5, 1, false}, // redirect
		{false, 4, 0, false}, // source quench
		{false, 11, 0, true}, // TTL exceeded
		{false, 12, 0, true}, // parameter problem
		{true, 1, 4, true},   // port unreachable
		{true, 1, 1, true},   // administratively prohibited
		{true, 2, 0, false},  // packet too big
		{true, 3, 0, true},   // hop limit exceeded
		{true, 4, 1, true},   // parameter problem
	} {
		if got := ICMPFails(tc.v6, tc.typ, tc.code); got != tc.fails {
			t.Errorf("ICMPFails(v6=%v, %d, %d) = %v, want %v", tc.v6, tc.typ, tc.code, got, tc.fails)
		}
	}
}
