package render

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
)

// diffColor colours each category's heading on a terminal.
var diffColor = map[analyze.DiffCategory]string{
	analyze.DiffNewlyFailing:    ansiRed,
	analyze.DiffNewlyUnexpected: ansiRed,
	analyze.DiffStillFailing:    ansiYellow,
	analyze.DiffStillUnexpected: ansiYellow,
	analyze.DiffNoLongerSeen:    ansiMagenta,
	analyze.DiffNotJudged:       ansiMagenta,
	analyze.DiffFixed:           ansiGreen,
	analyze.DiffNowOK:           ansiGreen,
	analyze.DiffGoneUnexpected:  ansiGreen,
	analyze.DiffNeverSeen:       ansiDim,
}

// DiffTable writes a diff for a terminal: the summary line, both
// captures' windows, the products and gateway, any mismatch and warning,
// then one table per category that has entries (regressions first), and
// one line each for the requirements still ok, not applicable or in one
// report only. Text from the reports is escaped for the terminal.
func DiffTable(w io.Writer, d *analyze.Diff, opts Options) error {
	t := &tableWriter{w: bufio.NewWriter(w), color: opts.Color, width: opts.Width, list: opts.Width > 0 && opts.Width < ListWidth}
	t.para("", 0, ansiBold, d.Summary.Line())
	t.line("")
	t.line("Before:       %s", sideText(d.Before))
	t.line("After:        %s", sideText(d.After))
	t.line("Products:     %s", diffProductsText(d))
	t.line("Gateway:      %s", diffHostsText(d))
	if d.Mismatch != "" {
		t.para("Not comparable: ", 0, ansiYellow, d.Mismatch)
	}
	for _, warn := range d.Warnings {
		t.para("Warning: ", 9, ansiYellow, warn)
	}
	for _, c := range analyze.DiffCategories {
		var err error
		switch {
		case slices.Contains(diffRequirementSections, c):
			err = t.diffRequirements(d, c)
		case slices.Contains(diffUnexpectedSections, c):
			err = t.diffUnexpected(d, c)
		}
		if err != nil {
			return err
		}
	}
	if f := diffFooter(d); len(f) > 0 {
		t.line("")
		for _, l := range f {
			t.line("%s", l)
		}
	}
	return t.w.Flush()
}

// diffHeading writes a category's heading and what it means.
func (t *tableWriter) diffHeading(c analyze.DiffCategory, n int) {
	t.line("")
	t.para("", 0, diffColor[c], fmt.Sprintf("%s (%d)", strings.ToUpper(diffTitle[c]), n))
	if h := diffHint[c]; h != "" {
		t.line("%s", h)
	}
}

// diffRequirements writes one category's requirements: each side's
// status and reasons, and the peers that matter.
func (t *tableWriter) diffRequirements(d *analyze.Diff, c analyze.DiffCategory) error {
	cs := changesIn(d, c)
	if len(cs) == 0 {
		return nil
	}
	t.diffHeading(c, len(cs))
	if c == analyze.DiffNeverSeen {
		rs := rowset{sec: diffLayout(c), fields: []field{fID, fDir, fPort,
			{header: "ALLOWED PEERS", label: "allowed", wrap: true}, {header: "NOTE (AFTER)", label: "note", wrap: true, opt: true}}}
		for _, r := range cs {
			note := cell(nil)
			if r.After != nil {
				note = one(r.After.Note)
			}
			rs.rows = append(rs.rows, []cell{one(diffShortID(d, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)),
				one(allowedText(r.Allowed)), note})
		}
		return t.rows(rs)
	}
	side, _ := changePeers(cs[0])
	rs := rowset{sec: diffLayout(c), fields: []field{fID, fDir, fPort,
		{header: "BEFORE", label: "before", wrap: true}, {header: "AFTER", label: "after", wrap: true, paint: true},
		{header: "PEERS (" + strings.ToUpper(side) + ")", label: "peers (" + side + ")", wrap: true}}}
	for _, r := range cs {
		_, peers := changePeers(r)
		rs.rows = append(rs.rows, []cell{one(diffShortID(d, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)),
			stateLines(r.Before), afterLines(r), peers})
	}
	return t.rows(rs)
}

// diffUnexpected writes one category's unexpected groups: flows and
// outcomes on each side, and the peers.
func (t *tableWriter) diffUnexpected(d *analyze.Diff, c analyze.DiffCategory) error {
	us := groupsIn(d, c)
	if len(us) == 0 {
		return nil
	}
	t.diffHeading(c, len(us))
	rs := rowset{sec: diffLayout(c), fields: []field{fDir, fPort,
		{header: "BEFORE", label: "before", wrap: true}, {header: "AFTER", label: "after", wrap: true},
		{header: "PEERS", label: "peers", wrap: true}, fNote}}
	for _, u := range us {
		rs.rows = append(rs.rows, []cell{one(string(u.Direction)), one(groupPort(u)), groupLines(u.Before), groupLines(u.After),
			groupPeers(u), one(groupNote(u))})
	}
	return t.rows(rs)
}

// diffLayout is a category as a section of the layout: its title leads
// each block in the list layout, its colour paints the AFTER column.
func diffLayout(c analyze.DiffCategory) section {
	return section{title: diffTitle[c], ansi: diffColor[c]}
}
