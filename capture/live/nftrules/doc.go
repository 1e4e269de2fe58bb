// Package nftrules names the nftables rule (or chain policy) that can have
// dropped a locally dropped flow (capture.RuleQuery), reading one network
// namespace's ruleset over netlink without changing anything. It is
// Linux-only: elsewhere Load and FindDropRule fail and Find names only
// the hook. It sits apart from capture/live so that capture/ebpf's drop
// probe tests can use it (capture/live imports capture/ebpf).
package nftrules
