// Package ebpf is flowaudit's eBPF capture backend: a TC program (tcx,
// ingress and egress) aggregates flows in a kernel LRU map, so packets are
// never copied to user space; only the payloads passive naming needs (DNS
// answers, the first TLS ClientHello or HTTP request of a flow) arrive
// through a ring buffer. cgroup socket hooks record which local process
// opened each connection (best effort).
//
// Open attaches the programs and returns a capture.Source whose Run
// delivers each flow once, as it ends; its user-space copy of the kernel
// map holds only the flows still in the map. The loader is Linux-only
// (*_linux.go); elsewhere Open and Supported return an error. The BPF C source is in bpf/ at the repository root.
package ebpf

// AttributionOK is Stats.Attribution when the cgroup hooks are attached.
const AttributionOK = "best effort (cgroup connect/sendmsg hooks)"
