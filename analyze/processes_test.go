package analyze

import (
	"reflect"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

func proc(pid uint32, comm string) func(*flow.Flow) {
	return func(f *flow.Flow) { f.Process = &flow.Process{PID: pid, Comm: comm} }
}

// TestProcesses (issue 12): requirements and unexpected groups name the
// local programs behind their flows, counted, bounded to MaxProcesses
// names of 4 process ids each.
func TestProcesses(t *testing.T) {
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.7:2703", flow.Unanswered, proc(4121, "razor-check")),
		fl(tcp, gw4+":40001", "203.0.113.7:2703", flow.Rejected, proc(4133, "razor-check")),
		fl(tcp, gw4+":40002", "203.0.113.7:2703", flow.Established, proc(900, "mailscanner")),
		fl(tcp, gw4+":40003", "203.0.113.7:2703", flow.Established), // not attributed
		fl(tcp, gw4+":40004", "203.0.113.66:6667", flow.Established, proc(31337, "xmrig")),
	}
	for i := range 6 { // more pids, more programs than kept
		flows = append(flows, fl(tcp, gw4+":40010", "203.0.113.66:6667", flow.Established, proc(uint32(100+i), "xmrig")))
		flows = append(flows, fl(tcp, gw4+":40020", "203.0.113.66:6667", flow.Established, proc(uint32(200+i), string(rune('a'+i))+"-helper")))
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{product("p", req("razor", catalog.Out, catalog.TCP, port(2703)))}})
	razor := findReq(t, rep, "razor")
	want := []ProcessSeen{{Comm: "razor-check", PIDs: []uint32{4121, 4133}, Flows: 2, Failed: 2}, {Comm: "mailscanner", PIDs: []uint32{900}, Flows: 1}}
	if !reflect.DeepEqual(razor.Processes, want) || razor.ProcessFlowsOther != 0 {
		t.Errorf("razor processes %+v other %d, want %+v", razor.Processes, razor.ProcessFlowsOther, want)
	}
	if len(rep.Unexpected) != 1 {
		t.Fatalf("unexpected %+v", rep.Unexpected)
	}
	u := rep.Unexpected[0]
	if len(u.Processes) != MaxProcesses || u.Processes[0].Comm != "xmrig" || u.Processes[0].Flows != 7 ||
		!reflect.DeepEqual(u.Processes[0].PIDs, []uint32{100, 101, 102, 31337}) || !u.Processes[0].MorePIDs {
		t.Errorf("unexpected processes %+v", u.Processes)
	}
	if listed := u.Processes[1].Flows + u.Processes[2].Flows + u.Processes[3].Flows; listed != 3 || u.ProcessFlowsOther != 3 {
		t.Errorf("helpers: %d flows listed, %d other; want 3 and 3", listed, u.ProcessFlowsOther)
	}
}
