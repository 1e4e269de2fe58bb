package naming

import "bytes"

// ServerName extracts the server name a client asked for from its first
// payload in a TCP flow: the host_name of a TLS ClientHello's server_name
// extension, or the Host header of an HTTP/1.x request without its port. The
// name is returned as sent (not lower-cased; a trailing dot removed) and
// aliases payload. ServerName does not allocate.
//
// A ClientHello split over several TLS records is followed across them, but
// only within payload: when the name itself straddles a record boundary, or
// lies beyond the end of payload (a hello larger than one segment with the
// extension near its end), ServerName reports false. IP literals in Host are
// not names and are reported as false too.
func ServerName(payload []byte) ([]byte, bool) {
	if len(payload) >= 5 && payload[0] == 0x16 && payload[1] == 3 {
		return clientHelloSNI(payload)
	}
	return httpHost(payload)
}

// tlsReader reads a handshake message spread over consecutive handshake
// records without copying, skipping record headers as it crosses them.
type tlsReader struct {
	p      []byte
	off    int // next byte in p
	recEnd int // end of the current record in p (may lie past len(p))
	n      int // handshake bytes consumed, record headers excluded
	bad    bool
}

// ensure makes off point at a readable byte of a record, entering the next
// record when the current one is exhausted.
func (t *tlsReader) ensure() bool {
	for t.off >= t.recEnd {
		h := t.p[min(t.off, len(t.p)):]
		if len(h) < 5 || h[0] != 0x16 || h[1] != 3 {
			t.bad = true
			return false
		}
		t.off += 5
		t.recEnd = t.off + (int(h[3])<<8 | int(h[4]))
	}
	if t.off >= len(t.p) {
		t.bad = true
		return false
	}
	return true
}

// avail is how many bytes can be read contiguously at off.
func (t *tlsReader) avail() int { return min(t.recEnd, len(t.p)) - t.off }

func (t *tlsReader) u8() int {
	if t.bad || !t.ensure() {
		return 0
	}
	b := t.p[t.off]
	t.off++
	t.n++
	return int(b)
}

func (t *tlsReader) u16() int { return t.u8()<<8 | t.u8() }
func (t *tlsReader) u24() int { return t.u8()<<16 | t.u16() }

func (t *tlsReader) skip(k int) {
	for k > 0 && !t.bad && t.ensure() {
		m := min(k, t.avail())
		t.off += m
		t.n += m
		k -= m
	}
}

// bytes returns the next k bytes when they lie contiguously in one record.
func (t *tlsReader) bytes(k int) []byte {
	if t.bad || !t.ensure() || t.avail() < k {
		t.bad = true
		return nil
	}
	b := t.p[t.off : t.off+k]
	t.off += k
	t.n += k
	return b
}

func clientHelloSNI(p []byte) ([]byte, bool) {
	t := tlsReader{p: p}
	if t.u8() != 1 { // ClientHello
		return nil, false
	}
	end := t.u24()
	end += t.n
	t.skip(2 + 32)  // legacy_version, random
	t.skip(t.u8())  // session id
	t.skip(t.u16()) // cipher suites
	t.skip(t.u8())  // compression methods
	extEnd := t.u16()
	extEnd = min(extEnd+t.n, end)
	for !t.bad && t.n+4 <= extEnd {
		typ, l := t.u16(), t.u16()
		if typ != 0 { // not server_name
			t.skip(l)
			continue
		}
		listEnd := t.u16()
		listEnd = min(listEnd+t.n, extEnd)
		for !t.bad && t.n+3 <= listEnd {
			kind, nl := t.u8(), t.u16()
			if kind != 0 { // not host_name
				t.skip(nl)
				continue
			}
			return hostName(t.bytes(nl))
		}
		return nil, false
	}
	return nil, false
}

// httpHost finds the Host header of an HTTP/1.x request.
func httpHost(p []byte) ([]byte, bool) {
	// Request line: an upper-case method, a space, and an HTTP/1.x version.
	i := 0
	for i < len(p) && i < 16 && 'A' <= p[i] && p[i] <= 'Z' {
		i++
	}
	if i == 0 || i >= len(p) || p[i] != ' ' {
		return nil, false
	}
	nl := bytes.IndexByte(p, '\n')
	if nl < 0 || !bytes.Contains(p[:nl], []byte(" HTTP/1.")) {
		return nil, false
	}
	for pos := nl + 1; pos < len(p); {
		nl := bytes.IndexByte(p[pos:], '\n')
		if nl < 0 {
			return nil, false // header cut short: the line may be incomplete
		}
		line := p[pos : pos+nl]
		pos += nl + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			return nil, false // end of headers
		}
		if len(line) < 5 || line[4] != ':' || line[0]|0x20 != 'h' || line[1]|0x20 != 'o' ||
			line[2]|0x20 != 's' || line[3]|0x20 != 't' {
			continue
		}
		v := bytes.Trim(line[5:], " \t")
		if len(v) > 0 && v[0] == '[' {
			return nil, false // IPv6 literal
		}
		if c := bytes.LastIndexByte(v, ':'); c >= 0 {
			v = v[:c]
		}
		return hostName(v)
	}
	return nil, false
}

// hostName strips a trailing dot and accepts b when it is a plausible DNS
// name, not an IPv4 literal.
func hostName(b []byte) ([]byte, bool) {
	if len(b) > 0 && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 253 || b[0] == '.' {
		return nil, false
	}
	literal := true
	for i, c := range b {
		if c < 0x21 || c > 0x7e || (c == '.' && b[i-1] == '.') {
			return nil, false
		}
		if c != '.' && (c < '0' || c > '9') {
			literal = false
		}
	}
	if literal {
		return nil, false
	}
	return b, true
}
