package ebpf

// The BPF object is compiled by bpf2go and committed, so building flowaudit
// needs neither clang nor kernel headers. `make generate` reruns this; the
// output depends only on clang (-target bpfel, no host headers: see
// bpf/headers/types.h), and CI checks it is byte-identical.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -type flow_key -type flow_val -type payload_event -type proc_info flow ../../bpf/flow.c -- -O2 -mcpu=v3 -Wall -Werror -nostdinc
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -type drop_key -type drop_val dropprobe ../../bpf/drop.c -- -O2 -mcpu=v3 -Wall -Werror -nostdinc
