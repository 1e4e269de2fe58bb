package render

import (
	"fmt"
	"strconv"

	"github.com/flowaudit/flowaudit/analyze"
)

// field is one column of a section's table, and one line of an item's
// block in the list layout.
type field struct {
	header string // the table's column
	// label names the line in a block ("reason"); "" puts the value on
	// the block's first line, after the status.
	label string
	right bool // a number: right-aligned
	wrap  bool // may wrap to fit the width
	paint bool // coloured like the status
	opt   bool // left out when every row's cell is empty
	// only restricts the field to one layout.
	only layout
}

type layout int

const (
	bothLayouts layout = iota
	tableOnly
	listOnly
)

// rowset is what one section shows: its fields, and one cell per field
// for each requirement or unexpected group.
type rowset struct {
	sec    section
	fields []field
	rows   [][]cell
}

// The fields every requirement section starts with.
var (
	fID      = field{header: "REQUIREMENT"}
	fDir     = field{header: "DIR"}
	fPort    = field{header: "PORT"}
	fService = field{header: "SERVICE"}
	fPeers   = field{header: "PEERS", label: "peers", wrap: true}
	fProcess = field{header: "PROCESS", label: "process", wrap: true, opt: true}
	fNote    = field{header: "NOTE", label: "note", wrap: true, opt: true}
	fFlows   = field{header: "FLOWS", label: "flows", right: true}
)

// requirementRows lays out the requirements of one status: the columns
// depend on what the status has to say.
func requirementRows(rep *analyze.Report, s section, reqs []analyze.Requirement) rowset {
	rs := rowset{sec: s, fields: []field{fID, fDir, fPort, fService}}
	switch s.status {
	case analyze.Blocked, analyze.Partial:
		rs.fields = append(rs.fields, field{header: "REASON (FLOWS)", label: "reason", wrap: true, paint: true},
			field{header: "OK", right: true, only: tableOnly}, field{header: "FAILED", right: true, only: tableOnly},
			field{label: "flows", only: listOnly}, fPeers, fProcess)
	case analyze.NeverSeen:
		rs.fields = append(rs.fields, field{header: "ALLOWED PEERS", label: "allowed", wrap: true}, fNote, fProcess)
	case analyze.NotApplicable:
		rs.fields = append(rs.fields, field{header: "CONDITION", label: "condition", wrap: true}, fFlows)
	default: // ok, inconclusive
		rs.fields = append(rs.fields, fFlows, fPeers, fNote, fProcess)
	}
	for _, r := range reqs {
		row := []cell{one(shortID(rep, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)), one(r.Service)}
		procs := processList(r.Processes, r.ProcessFlowsOther)
		switch s.status {
		case analyze.Blocked, analyze.Partial:
			peers := peersList
			if s.status == analyze.Partial {
				peers = peersWithOutcomes
			}
			row = append(row, reasonLines(r), one(strconv.Itoa(r.Counts.Established)), one(strconv.Itoa(r.Counts.Failed())),
				one(fmt.Sprintf("%d of %d attempts failed", r.Counts.Failed(), r.Counts.Attempts)),
				peers(r.Peers, r.PeersOmitted, r.PeersFolded), procs)
		case analyze.NeverSeen:
			row = append(row, one(allowedText(r.Allowed)), one(r.Note), procs)
		case analyze.NotApplicable:
			row = append(row, one(conditionText(r.Condition, rep.Features)), one(strconv.Itoa(r.Counts.Flows)))
		default:
			row = append(row, one(strconv.Itoa(r.Counts.Flows)), peersList(r.Peers, r.PeersOmitted, r.PeersFolded), one(r.Note), procs)
		}
		rs.rows = append(rs.rows, row)
	}
	return rs
}

// unexpectedRows lays out the unexpected groups.
func unexpectedRows(s section, us []analyze.UnexpectedFlow) rowset {
	flows := fFlows
	flows.only = tableOnly // the outcomes count them
	rs := rowset{sec: s, fields: []field{fDir, fPort, flows, {header: "OUTCOMES", label: "outcomes", wrap: true}, fPeers, fProcess, fNote}}
	for _, u := range us {
		rs.rows = append(rs.rows, []cell{one(string(u.Direction)), one(unexpectedPort(u)), one(strconv.Itoa(u.Counts.Flows)),
			one(outcomesText(u.Counts, u.Reasons)), peersList(u.Peers, u.PeersOmitted, u.PeersFolded),
			processList(u.Processes, u.ProcessFlowsOther), one(unexpectedNote(u))})
	}
	return rs
}

// visible returns the fields (and their cells) the layout shows: those
// for it, less the optional ones empty in every row.
func (rs rowset) visible(list bool) ([]field, [][]cell) {
	var keep []int
	for i, f := range rs.fields {
		if (list && f.only == tableOnly) || (!list && f.only == listOnly) {
			continue
		}
		if f.opt && !rs.anyIn(i) {
			continue
		}
		keep = append(keep, i)
	}
	fields := make([]field, len(keep))
	rows := make([][]cell, len(rs.rows))
	for j, i := range keep {
		fields[j] = rs.fields[i]
	}
	for r, row := range rs.rows {
		rows[r] = make([]cell, len(keep))
		for j, i := range keep {
			rows[r][j] = row[i]
		}
	}
	return fields, rows
}

func (rs rowset) anyIn(col int) bool {
	for _, row := range rs.rows {
		if len(row[col]) > 0 {
			return true
		}
	}
	return false
}
