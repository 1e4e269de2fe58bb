//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// Offsets in a struct payload_event record (bpf/flow.h); a test checks
// them against the generated flowPayloadEvent.
const (
	evKey     = 0
	evTS      = 40
	evLen     = 48
	evDir     = 56
	evKind    = 57
	evData    = 64
	evKeySize = 40
)

// parseEvent decodes a ring-buffer record without allocating. ok is false
// for a record too short to be one.
func parseEvent(raw []byte) (k flowFlowKey, ts uint64, dir, kind uint8, data []byte, ok bool) {
	if len(raw) < evData {
		return k, 0, 0, 0, nil, false
	}
	kb := raw[evKey : evKey+evKeySize]
	copy(k.AddrLo[:], kb[0:16])
	copy(k.AddrHi[:], kb[16:32])
	k.PortLo = binary.LittleEndian.Uint16(kb[32:])
	k.PortHi = binary.LittleEndian.Uint16(kb[34:])
	k.Proto = kb[36]
	ts = binary.LittleEndian.Uint64(raw[evTS:])
	n := int(binary.LittleEndian.Uint32(raw[evLen:]))
	n = min(n, len(raw)-evData)
	return k, ts, raw[evDir], raw[evKind], raw[evData : evData+n], true
}

// payload handles one ring-buffer record: a finished flow goes to the
// mirror (which delivers it); DNS queries and answers go to the Emitter's
// name cache, which pairs them; a TLS ClientHello or HTTP request names
// its flow (Flow.ServerName, kept apart from its RespNames), as in the
// packet path.
func (s *Source) payload(raw []byte) {
	k, boot, dir, kind, data, ok := parseEvent(raw)
	if !ok {
		return
	}
	switch kind {
	case payloadDNS:
		sa, sp := side(&k, dir)
		da, dp := side(&k, dir^1)
		tr := naming.Transport{Src: netip.AddrPortFrom(sa, sp), Dst: netip.AddrPortFrom(da, dp),
			TCP: k.Proto == flow.ProtoTCP} // over TCP the Emitter strips the length prefix
		s.e.ObserveDNS(data, int64(boot)+s.clock.offset, tr)
	case eventFinished:
		var v flowFlowVal
		if len(data) < int(unsafe.Sizeof(v)) {
			return
		}
		// The record holds the kernel's struct flow_val, laid out as the
		// generated Go type (TestEventLayout checks the sizes).
		v = *(*flowFlowVal)(unsafe.Pointer(&data[0]))
		s.mirror.kernelFinished(k, &v)
	case payloadTLS, payloadHTTP:
		if name := s.e.ServerName(data); name != "" {
			s.mirror.setName(k, boot, name)
		}
	}
}
