// Command bounds writes the inputs of testdata/bench/bounds.sh, which
// measures what hostile or very large inputs cost flowaudit (issue 10):
//
//	go run ./testdata/bench/bounds captures DIR
//	go run ./testdata/bench/bounds scale -n 1000000 IN.json OUT.json
//	go run ./testdata/bench/bounds site FILE
//
// captures writes five gzip captures of about 1 GiB each once inflated
// (1 to 4 MB on disk): a pcap whose snap length and first record claim
// 4 GiB, then zeros; a pcapng whose first packet block does the same; a
// pcapng of one section of 64 KB interface descriptions; one of a
// section, an interface and its statistics repeated; one of name
// resolution blocks. scale writes a session with the flows of IN repeated
// (each copy with its own uids and client ports) up to n flows: a day of a
// busy gateway from the flows of a replayed capture. site writes a site
// file just under the 4 MiB limit, as dense as YAML gets: one flow
// mapping of features, each a YAML node.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/flowaudit/flowaudit/capture/session"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: bounds captures DIR | bounds scale -n N IN OUT | bounds site FILE"))
	}
	switch os.Args[1] {
	case "captures":
		if len(os.Args) != 3 {
			fail(fmt.Errorf("usage: bounds captures DIR"))
		}
		fail(captures(os.Args[2]))
	case "site":
		if len(os.Args) != 3 {
			fail(fmt.Errorf("usage: bounds site FILE"))
		}
		fail(site(os.Args[2]))
	case "scale":
		fs := flag.NewFlagSet("scale", flag.ExitOnError)
		n := fs.Int("n", 1000000, "flows in the output")
		fs.Parse(os.Args[2:])
		if fs.NArg() != 2 {
			fail(fmt.Errorf("usage: bounds scale -n N IN OUT"))
		}
		fail(scale(*n, fs.Arg(0), fs.Arg(1)))
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bounds:", err)
		os.Exit(1)
	}
}

// inflated is how many bytes each capture holds once inflated.
const inflated = 1 << 30

func captures(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	le := binary.LittleEndian
	zeros := func(w *bufio.Writer, n int) {
		for z := make([]byte, 1<<20); n > 0; n -= len(z) {
			w.Write(z[:min(n, len(z))])
		}
	}
	files := map[string]func(w *bufio.Writer){
		"pcap-bomb.pcap.gz": func(w *bufio.Writer) {
			h := le.AppendUint32(nil, 0xa1b2c3d4)
			h = append(h, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0)
			h = le.AppendUint32(h, 0xffffffff) // snap length
			h = le.AppendUint32(h, 1)          // Ethernet
			h = append(h, 0, 0, 0, 0, 0, 0, 0, 0)
			h = le.AppendUint32(le.AppendUint32(h, 0xffffffff), 0xffffffff) // caplen, len
			w.Write(h)
			zeros(w, inflated)
		},
		"pcapng-bomb.pcapng.gz": func(w *bufio.Writer) {
			w.Write(shb())
			w.Write(idb(0))
			b := le.AppendUint32(le.AppendUint32(nil, 6), 0xfffffffc) // EPB of 4 GiB
			b = append(b, make([]byte, 12)...)
			w.Write(le.AppendUint32(le.AppendUint32(b, 0xfffffff0), 0xfffffff0))
			zeros(w, inflated)
		},
		"pcapng-idb.pcapng.gz": func(w *bufio.Writer) {
			w.Write(shb())
			for n := 0; n < inflated; n += 65000 {
				w.Write(idb(65000 - 32))
			}
		},
		"pcapng-sections.pcapng.gz": func(w *bufio.Writer) {
			isb := append(le.AppendUint32(nil, 0), make([]byte, 8)...)
			isb = append(le.AppendUint64(append(isb, 5, 0, 8, 0), 7), 0, 0, 0, 0) // isb_ifdrop 7
			for n := 0; n < inflated; n += 28 + 20 + 12 + len(isb) {
				w.Write(shb())
				w.Write(idb(0))
				w.Write(block(5, isb))
			}
		},
		"pcapng-nrb.pcapng.gz": func(w *bufio.Writer) {
			w.Write(shb())
			w.Write(idb(0))
			// An IPv4 record of 1004 bytes: the address and a name.
			rec := []byte{1, 0, 0xec, 3, 192, 0, 2, 1}
			for range 999 {
				rec = append(rec, 'n')
			}
			rec = append(rec, 0)
			var body []byte
			for len(body) < 200000 {
				body = append(body, rec...)
			}
			nrb := block(4, append(body, 0, 0, 0, 0))
			for n := 0; n < inflated; n += len(nrb) {
				w.Write(nrb)
			}
		},
	}
	for name, write := range files {
		if err := gzipFile(filepath.Join(dir, name), write); err != nil {
			return err
		}
	}
	return nil
}

func gzipFile(path string, write func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriterSize(zw, 1<<20)
	write(w)
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// block frames a little-endian pcapng block.
func block(typ uint32, body []byte) []byte {
	n := uint32(12 + len(body))
	out := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, typ), n)
	return binary.LittleEndian.AppendUint32(append(out, body...), n)
}

func shb() []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	body = append(body, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	return block(0x0a0d0d0a, body)
}

// idb is an Ethernet interface description with an if_name of nameLen
// bytes (a multiple of 4), or none.
func idb(nameLen int) []byte {
	body := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	if nameLen > 0 {
		body = append(body, 2, 0, byte(nameLen), byte(nameLen>>8))
		for range nameLen {
			body = append(body, 'a')
		}
		body = append(body, 0, 0, 0, 0)
	}
	return block(1, body)
}

func scale(n int, in, out string) error {
	s, err := session.LoadLimit(in, 1<<40)
	if err != nil {
		return err
	}
	base := s.Flows
	if len(base) == 0 {
		return fmt.Errorf("%s has no flows", in)
	}
	// Streamed: the output's flows are never all in memory.
	w, err := session.Create(out, s.Header)
	if err != nil {
		return err
	}
	defer w.Abort()
	for i := range n {
		f := base[i%len(base)]
		round := i / len(base)
		f.UID = fmt.Sprintf("C%017d", i)
		f.Orig = netip.AddrPortFrom(f.Orig.Addr(), f.Orig.Port()+uint16(round*7))
		if err := w.Flow(&f); err != nil {
			return err
		}
	}
	s.Stats.Flows = uint64(n)
	return w.Close(s.Trailer)
}

func site(path string) error {
	const limit = 4 << 20 // catalog.MaxFileSize
	b := []byte("features: {f0: true")
	for i := 1; ; i++ {
		next := fmt.Sprintf(", f%d: true", i)
		if len(b)+len(next)+2 > limit {
			break
		}
		b = append(b, next...)
	}
	return os.WriteFile(path, append(b, "}\n"...), 0o644)
}
