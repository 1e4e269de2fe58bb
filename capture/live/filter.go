package live

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// CompileFilter turns a capture filter into classic BPF for a socket
// whose frames start with link type lt.
//
// Go has no pure-Go compiler for the tcpdump filter language (libpcap's
// is C), and flowaudit stays cgo-free, so expr is one of:
//   - the decimal program `tcpdump -ddd EXPR` prints (a count, then one
//     "code jt jf k" line per instruction; newlines or commas separate
//     them), used as is, so a gateway without tcpdump can take a program
//     compiled elsewhere;
//   - a tcpdump expression, compiled by running `tcpdump -y LINKTYPE -ddd`
//     when tcpdump is installed (it needs no privilege nor interface for
//     that). Without tcpdump such an expression is refused with a message
//     saying so.
//
// An empty expr returns a nil program (no filter).
func CompileFilter(expr string, lt layers.LinkType) ([]bpf.RawInstruction, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, nil
	}
	if looksLikeDDD(expr) {
		prog, err := parseDDD(expr)
		if err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		return prog, nil
	}
	dlt := "EN10MB"
	if lt == layers.LinkTypeRaw {
		dlt = "RAW"
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, fmt.Errorf("filter %q: compiling a filter expression needs tcpdump in PATH (flowaudit has no libpcap); install tcpdump, or pass the output of `tcpdump -y %s -ddd EXPR` from another machine", expr, dlt)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tcpdump, "-y", dlt, "-ddd", "--", expr)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, "tcpdump: ")
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("filter %q: %s", expr, firstLine(msg))
	}
	prog, err := parseDDD(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("filter %q: tcpdump output: %w", expr, err)
	}
	return prog, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// looksLikeDDD reports whether s holds only digits, blanks and commas:
// a compiled program rather than an expression.
func looksLikeDDD(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' {
			return false
		}
	}
	return true
}

// parseDDD reads tcpdump's -ddd format: the instruction count, then four
// decimal numbers per instruction.
func parseDDD(s string) ([]bpf.RawInstruction, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ','
	})
	if len(fields) == 0 {
		return nil, errors.New("empty BPF program")
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= 0 || n > maxBPFInstructions {
		return nil, fmt.Errorf("bad instruction count %q", fields[0])
	}
	if len(fields)-1 != 4*n {
		return nil, fmt.Errorf("program says %d instructions but holds %d numbers (want %d)", n, len(fields)-1, 4*n)
	}
	prog := make([]bpf.RawInstruction, n)
	for i := range prog {
		var v [4]uint64
		for j, bits := range [4]int{16, 8, 8, 32} {
			v[j], err = strconv.ParseUint(fields[1+4*i+j], 10, bits)
			if err != nil {
				return nil, fmt.Errorf("instruction %d: %w", i, err)
			}
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	insts, ok := bpf.Disassemble(prog)
	if !ok {
		return nil, errors.New("program holds instructions classic BPF does not know")
	}
	last := insts[len(insts)-1]
	switch last.(type) {
	case bpf.RetConstant, bpf.RetA:
	default:
		return nil, errors.New("program does not end with a return")
	}
	return prog, nil
}

// maxBPFInstructions is the kernel's limit for classic BPF (BPF_MAXINSNS).
const maxBPFInstructions = 4096
