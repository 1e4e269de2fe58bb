package render

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
)

// DiffMarkdown writes a diff for a change ticket: the summary and both
// captures, then three lists a reviewer reads first, "Regressions",
// "Fixed by the change" and "Still needs a firewall change" (one
// actionable line per requirement, as the report's), then what the change
// left unconfirmed, a table per category and the one-line categories.
// Text from the reports is escaped for Markdown.
func DiffMarkdown(w io.Writer, d *analyze.Diff) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	title := diffSingleProduct(d)
	if title == "" {
		title = productNames(d.After.Products)
	}
	p("# flowaudit diff: %s", mdText(title))
	p("")
	p("**%s**", mdText(d.Summary.Line()))
	p("")
	p("- Before: %s", mdText(sideText(d.Before)))
	p("- After: %s", mdText(sideText(d.After)))
	p("- Products: %s", mdText(diffProductsText(d)))
	p("- Gateway: %s", mdText(diffHostsText(d)))
	if !d.Generated.IsZero() {
		p("- Generated: %s", stamp(d.Generated))
	}
	if d.Tool != "" {
		p("- Tool: %s", mdText(d.Tool))
	}
	if d.Mismatch != "" {
		p("")
		p("> **Not comparable:** %s", mdText(d.Mismatch))
	}
	for _, warn := range d.Warnings {
		p("")
		p("> Warning: %s", mdText(warn))
	}
	mdRegressions(b, d)
	mdFixed(b, d)
	mdStillFailing(b, d)
	mdUnconfirmed(b, d)
	p("")
	p("## All changes")
	for _, c := range analyze.DiffCategories {
		switch {
		case slices.Contains(diffRequirementSections, c):
			mdDiffRequirements(b, d, c)
		case slices.Contains(diffUnexpectedSections, c):
			mdDiffUnexpected(b, d, c)
		}
	}
	if f := diffFooter(d); len(f) > 0 {
		p("")
		for _, l := range f {
			p("- %s", mdText(l))
		}
	}
	return b.Flush()
}

// sideText says what one side was: the file, whether a report or a
// session, and its capture's window.
func sideText(s analyze.DiffSide) string {
	head := s.Kind
	if s.File != "" {
		head += " " + s.File
	}
	if head == "" {
		return coverageText(s.Capture)
	}
	return head + ": " + coverageText(s.Capture)
}

// changeText names a requirement for a list: "mailcleaner/out-tcp-25-smtp
// (SMTP, outbound tcp/25)".
func changeText(c analyze.RequirementChange) string {
	what := dirText(c.Direction) + " " + reqPort(c.Protocol, c.Ports)
	if c.Service != "" {
		what = c.Service + ", " + what
	}
	return c.ID + " (" + what + ")"
}

// sideSentence is one side of a change in a sentence: "blocked: unanswered:
// dropped silently (2)", "ok (2 flows)", "never-seen".
func sideSentence(s *analyze.RequirementState) string {
	lines := stateLines(s)
	if len(lines) == 1 {
		return lines[0]
	}
	if s != nil && s.Status == analyze.OK {
		return lines[0] + " (" + strings.Join(lines[1:], "; ") + ")"
	}
	return lines[0] + ": " + strings.Join(lines[1:], "; ")
}

func mdRegressions(b *bufio.Writer, d *analyze.Diff) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("")
	p("## Regressions")
	p("")
	n := 0
	for _, c := range changesIn(d, analyze.DiffNewlyFailing) {
		n++
		p("%d. Newly failing: %s: %s before, %s after", n, mdText(changeText(c)), mdText(sideSentence(c.Before)), mdText(sideSentence(c.After)))
		if len(c.After.Peers) > 0 {
			p("   - Seen after: %s", mdText(peersSeenText(c.After.Peers, c.After.PeersOmitted)))
		}
	}
	for _, u := range groupsIn(d, analyze.DiffNewlyUnexpected) {
		n++
		p("%d. Newly unexpected: %s %s: %s", n, dirText(u.Direction), mdText(groupPort(u)), mdText(groupLines(u.After)[0]))
		if len(u.After.Peers) > 0 {
			p("   - Seen after: %s", mdText(peersSeenText(u.After.Peers, u.After.PeersOmitted)))
		}
		if note := groupNote(u); note != "" {
			p("   - Note: %s", mdText(note))
		}
	}
	if n == 0 {
		p("None: nothing that was not failing fails now, and no flow is newly unexpected.")
	}
}

func mdFixed(b *bufio.Writer, d *analyze.Diff) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("")
	p("## Fixed by the change")
	p("")
	cs := changesIn(d, analyze.DiffFixed)
	for i, c := range cs {
		p("%d. %s: %s before, %s after", i+1, mdText(changeText(c)), mdText(sideSentence(c.Before)), mdText(sideSentence(c.After)))
	}
	if len(cs) == 0 {
		p("Nothing: no requirement went from failing to ok.")
	}
}

// mdStillFailing lists what still fails after the change as the report's
// "Needs a firewall change" does, with the before side when it differs.
func mdStillFailing(b *bufio.Writer, d *analyze.Diff) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("")
	p("## Still needs a firewall change")
	p("")
	cs := changesIn(d, analyze.DiffStillFailing)
	gw := &analyze.Report{Hosts: d.After.Hosts}
	for i, c := range cs {
		r := stateRequirement(c.After)
		r.ID, r.Service, r.Direction, r.Protocol, r.Ports, r.Allowed = c.ID, c.Service, c.Direction, c.Protocol, c.Ports, c.Allowed
		p("%d. %s", i+1, mdText(actionLine(gw, r)))
		if c.ReasonChanged || c.Before.Status != c.After.Status {
			p("   - Before the change: %s", mdText(sideSentence(c.Before)))
		} else {
			p("   - Before the change: the same (%s)", mdText(string(c.Before.Status)))
		}
		if hint := reasonHint(r.Reason); hint != "" {
			p("   - Note: %s", mdText(hint))
		}
		if len(r.Peers) > 0 {
			p("   - Seen after: %s", mdText(peersSeenText(r.Peers, r.PeersOmitted)))
		}
	}
	if len(cs) == 0 {
		p("Nothing: no requirement that failed before fails after the change.")
	}
}

// mdUnconfirmed lists the requirements the change left without a verdict
// (no longer seen, not judged), when there are any.
func mdUnconfirmed(b *bufio.Writer, d *analyze.Diff) {
	cs := append(changesIn(d, analyze.DiffNoLongerSeen), changesIn(d, analyze.DiffNotJudged)...)
	if len(cs) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("")
	p("## Not confirmed: capture again, for longer")
	p("")
	for i, c := range cs {
		p("%d. %s: %s before, %s after", i+1, mdText(changeText(c)), mdText(sideSentence(c.Before)), mdText(sideSentence(c.After)))
	}
}

func mdDiffRequirements(b *bufio.Writer, d *analyze.Diff, c analyze.DiffCategory) {
	cs := changesIn(d, c)
	if len(cs) == 0 {
		return
	}
	mdDiffHeading(b, c, len(cs))
	if c == analyze.DiffNeverSeen {
		mdTable(b, []string{"Requirement", "Direction", "Port", "Service", "Allowed peers", "Note (after)"}, nil)
		for _, r := range cs {
			mdRow(b, r.ID, string(r.Direction), reqPort(r.Protocol, r.Ports), r.Service, allowedText(r.Allowed), r.After.Note)
		}
		return
	}
	side, _ := changePeers(cs[0])
	mdTable(b, []string{"Requirement", "Direction", "Port", "Service", "Before", "After", "Peers (" + side + ")"}, nil)
	for _, r := range cs {
		_, peers := changePeers(r)
		mdRow(b, r.ID, string(r.Direction), reqPort(r.Protocol, r.Ports), r.Service,
			strings.Join(stateLines(r.Before), "; "), strings.Join(afterLines(r), "; "), strings.Join(peers, ", "))
	}
}

func mdDiffUnexpected(b *bufio.Writer, d *analyze.Diff, c analyze.DiffCategory) {
	us := groupsIn(d, c)
	if len(us) == 0 {
		return
	}
	mdDiffHeading(b, c, len(us))
	mdTable(b, []string{"Direction", "Port", "Before", "After", "Peers", "Note"}, nil)
	for _, u := range us {
		mdRow(b, string(u.Direction), groupPort(u), groupLines(u.Before)[0], groupLines(u.After)[0],
			strings.Join(groupPeers(u), ", "), groupNote(u))
	}
}

func mdDiffHeading(b *bufio.Writer, c analyze.DiffCategory, n int) {
	fmt.Fprintf(b, "\n### %s (%d)\n\n", diffTitle[c], n)
	if h := diffHint[c]; h != "" {
		fmt.Fprintf(b, "%s.\n\n", mdText(strings.ToUpper(h[:1])+h[1:]))
	}
}
