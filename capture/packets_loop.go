package capture

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/flowaudit/flowaudit/capture/decode"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// The per-packet path runs on two goroutines: a reader that reads and
// decodes frames (and feeds DNS messages to the Emitter's name cache), and
// the goroutine running the source, which tracks flows. They exchange batches of decoded packets
// from a fixed pool, so nothing is allocated per packet. Frames are read
// without copying and their buffer is reused by the next read, so a batch
// keeps no payload except the few the flow table may sniff for a server
// name (TLS handshakes, HTTP requests), copied into the batch's arena.

const (
	batchSize  = 1024
	batchPool  = 4
	arenaSize  = 64 << 10
	sniffLimit = 2048 // bytes of payload kept for server-name sniffing
	// batchFrames bounds the frames read into one batch, so that a long
	// run of frames that yield no packet (non-IP, undecodable) still
	// reaches a batch boundary, where the reader checks for a stop.
	batchFrames = 8 * batchSize
	// liveFlush bounds how long a packet of a live source waits in a
	// partly filled batch.
	liveFlush = 50 * time.Millisecond
)

type batch struct {
	pkts  [batchSize]decode.Packet
	prep  [batchSize]flow.Prepared
	n     int
	arena []byte

	packets, bytes, drops, undecodable, duplicates uint64
	first, last                                    int64
	// end marks the last batch; err is the read error that ended input
	// (nil at a clean end); complete says that input ended (at its clean
	// end or on a read error) rather than being stopped early.
	end      bool
	complete bool
	err      error
}

func (b *batch) reset() {
	b.n = 0
	b.arena = b.arena[:0]
	b.packets, b.bytes, b.drops, b.undecodable, b.duplicates = 0, 0, 0, 0, 0
	b.first, b.last = 0, 0
	b.end, b.complete, b.err = false, false, nil
}

// run drives the reader goroutine and tracks flows from its batches until
// input ends, a read error occurs or ctx is cancelled. On cancellation the
// reader hands over what it has read, so no packet already taken from the
// source is lost.
func (pl *pipeline) run(ctx context.Context) error {
	free := make(chan *batch, batchPool)
	full := make(chan *batch, batchPool)
	for range batchPool {
		free <- &batch{arena: make([]byte, 0, arenaSize)}
	}
	stop := make(chan struct{})
	go pl.read(pl.src, free, full, stop)

	st := &pl.stats
	done := ctx.Done()
	for {
		var b *batch
		select {
		case b = <-full:
		case <-done:
			// Ask the reader to finish, then go on taking its batches
			// until the last one.
			close(stop)
			done = nil
			continue
		}
		pl.table.AddPrepared(b.pkts[:b.n], b.prep[:b.n])
		if b.packets > 0 {
			if st.Packets == 0 || b.first < pl.first {
				pl.first = b.first
			}
			if b.last > pl.last {
				pl.last = b.last
			}
		}
		st.Packets += b.packets
		st.Bytes += b.bytes
		st.IfaceDrops += b.drops
		st.Undecodable += b.undecodable
		st.Duplicates += b.duplicates
		end, err := b.end, b.err
		if end {
			pl.complete = b.complete
		}
		b.reset()
		free <- b
		if end {
			return err
		}
		pl.progress()
	}
}

// read is the reader goroutine: it fills batches until input ends or stop
// is closed, and always hands over a last batch marked end. The tracker
// takes every batch until then, so sends never block for long.
func (pl *pipeline) read(src FrameReader, free chan *batch, full chan<- *batch, stop <-chan struct{}) {
	var (
		fr      Frame
		started time.Time
	)
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	b := <-free
	for {
		err := src.Next(&fr)
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				if stopped() {
					break
				}
				// Hand over what there is, so the tracker can report
				// progress and notice cancellation while the wire is quiet.
				full <- b
				b = <-free
				started = time.Time{}
				continue
			}
			if err != io.EOF {
				b.err = err
			}
			b.complete = true
			break
		}
		if b.packets == 0 || fr.TS < b.first {
			b.first = fr.TS
		}
		if fr.TS > b.last {
			b.last = fr.TS
		}
		b.packets++
		b.bytes += uint64(fr.WireLen)
		b.drops += fr.Dropped
		p := &b.pkts[b.n]
		p.TS, p.WireLen = fr.TS, fr.WireLen
		if err := pl.dec.Decode(fr.Data, fr.LinkType, p); err != nil {
			if err != decode.ErrNotIP {
				b.undecodable++
			}
			if err == decode.ErrUnsupported {
				// Only the first frame of a link type inserts a key;
				// later ones update it in place, allocating nothing.
				pl.unsupported[fr.LinkType]++
			}
		} else if dedupLink(fr.LinkType) && pl.duplicate(p) {
			b.duplicates++
		} else {
			pl.keepPayload(b, p)
			pl.table.Prepare(p, &b.prep[b.n])
			b.n++
		}
		if b.n == batchSize || b.packets == batchFrames || (pl.live && b.n > 0 && pl.stale(&started)) {
			if stopped() {
				break
			}
			full <- b
			b = <-free
			started = time.Time{}
		}
	}
	// Drops known only from end-of-file interface statistics (pcapng ISB)
	// are counted once input has ended.
	if c, ok := src.(InterfaceDropCounter); ok {
		b.drops += c.InterfaceDrops()
	}
	b.end = true
	full <- b
}

// duplicate reports whether p, of a cooked (SLL) frame, is a copy of a
// packet just seen on another interface (dedup); the table is made on the
// first such frame.
func (pl *pipeline) duplicate(p *decode.Packet) bool {
	if pl.dups == nil {
		pl.dups = new(dedup)
	}
	return pl.dups.seen(p)
}

// stale reports whether the current batch of a live source has waited
// long enough to be handed over; started is set on its first packet.
func (pl *pipeline) stale(started *time.Time) bool {
	now := time.Now()
	if started.IsZero() {
		*started = now
		return false
	}
	return now.Sub(*started) >= liveFlush
}

// keepPayload feeds DNS queries and answers to the Emitter, then drops
// the packet's reference to the frame buffer, keeping a copy only of
// payloads that may name a server.
func (pl *pipeline) keepPayload(b *batch, p *decode.Packet) {
	pay := p.Payload
	p.Payload = nil
	if len(pay) == 0 || !pl.e.Naming() {
		return
	}
	if p.SrcPort == 53 || p.DstPort == 53 {
		p.Payload = pay
		pl.observeDNS(p)
		p.Payload = nil
	}
	if !maySniff(pay) {
		return
	}
	n := min(len(pay), sniffLimit)
	if len(b.arena)+n > cap(b.arena) {
		return
	}
	start := len(b.arena)
	b.arena = append(b.arena, pay[:n]...)
	p.Payload = b.arena[start : start+n : start+n]
}

// maySniff reports whether a payload can carry a server name: a TLS
// handshake record or an HTTP/1.x request line.
func maySniff(p []byte) bool {
	if len(p) >= 5 && p[0] == 0x16 && p[1] == 3 {
		return true
	}
	if len(p) < 4 {
		return false
	}
	switch string(p[:3]) {
	case "GET", "POS", "PUT", "HEA", "DEL", "OPT", "PAT", "CON", "TRA", "PRO":
		return true
	}
	return false
}
