package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/flowaudit/flowaudit/internal/escape"
)

// lineHandler is the slog handler of the command: one line per record in
// the tool's own style, "flowaudit: warning: MESSAGE key=value...", with no
// time stamp or level key. A user reads these on a terminal; they are not
// a log to be parsed. The message, keys and values are escaped for the
// terminal (escape.Terminal): warnings carry text from capture and session
// files, which must neither drive the terminal nor add lines.
type lineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
}

func newLineHandler(w io.Writer, level slog.Level) *lineHandler {
	return &lineHandler{mu: &sync.Mutex{}, w: w, level: level}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("flowaudit: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(escape.Terminal(r.Message))
	add := func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			b.WriteString(" " + escape.Terminal(a.Key) + "=" + escape.Terminal(a.Value.String()))
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

// WithGroup is not used by the command; groups are flattened.
func (h *lineHandler) WithGroup(string) slog.Handler { return h }
