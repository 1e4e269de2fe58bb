package render

import (
	"fmt"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
)

// maxProcessLines bounds the process lines of a text report.
const maxProcessLines = 20

// processLines names the local programs behind failed attempts of blocked
// and partial requirements, when the capture could tell (eBPF attribution):
// "razor-check (pid 4121) tried TCP/2703 to 198.51.100.7: unanswered".
// Repeated attempts are counted, not repeated. The lines are raw text:
// the caller escapes them for its sink.
func processLines(rep *analyze.Report) []string {
	var out []string
	count := map[string]int{}
	for _, r := range rep.Requirements {
		if r.Status != analyze.Blocked && r.Status != analyze.Partial {
			continue
		}
		for _, a := range r.Timeline {
			if a.Process == nil || a.Outcome == "established" {
				continue
			}
			what := a.Outcome
			if a.Reason != "" && string(a.Reason) != a.Outcome {
				what += " (" + string(a.Reason) + ")"
			}
			s := fmt.Sprintf("%s (pid %d) tried %s/%d to %s: %s", a.Process.Comm, a.Process.PID,
				strings.ToUpper(string(r.Protocol)), a.Port, a.Peer, what)
			if count[s] == 0 {
				out = append(out, s)
			}
			count[s]++
		}
	}
	for i, s := range out {
		if n := count[s]; n > 1 {
			out[i] = fmt.Sprintf("%s (%d times)", s, n)
		}
	}
	if len(out) > maxProcessLines {
		out = append(out[:maxProcessLines], fmt.Sprintf("+%d more", len(out)-maxProcessLines))
	}
	return out
}
