package render

import (
	"fmt"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/flowaudit/flowaudit/internal/escape"
)

// minWrap is the narrowest a wrapping column gets (unless its header or
// a word in it is wider): narrower, a reason reads a word per line.
// Tables whose text columns would get narrower than minComfort give way
// to the list layout (tablesFit).
const (
	minWrap    = 12
	minComfort = 20
)

// rows writes a section's rows in the writer's layout.
func (t *tableWriter) rows(rs rowset) error {
	fields, rows := rs.visible(t.list)
	text := escapeCells(rows)
	if t.list {
		t.blocks(rs.sec, fields, text)
		return nil
	}
	return t.table(rs.sec, fields, text)
}

// escapeCells escapes every line of every cell for the terminal.
func escapeCells(rows [][]cell) [][][]string {
	text := make([][][]string, len(rows))
	for i, row := range rows {
		text[i] = make([][]string, len(row))
		for j, c := range row {
			for _, l := range c {
				text[i][j] = append(text[i][j], escape.Terminal(l))
			}
		}
	}
	return text
}

// fitColumns returns each column's width: as wide as its widest line, or,
// when the table would be wider than width, narrower for the wrapping
// columns, the widest first, down to their floor (minWrap, the header,
// the longest word). The table may stay wider than width when its other
// columns alone are.
func fitColumns(fields []field, text [][][]string, width int) []int {
	lim := make([]int, len(fields))
	floor := make([]int, len(fields))
	for i, f := range fields {
		lim[i] = twwidth.Width(f.header)
		floor[i] = max(lim[i], minWrap)
		for _, row := range text {
			for _, l := range row[i] {
				lim[i] = max(lim[i], twwidth.Width(l))
				for _, w := range strings.Fields(l) {
					floor[i] = max(floor[i], twwidth.Width(w))
				}
			}
		}
	}
	// Each column takes its width plus a space either side and a border.
	over := 1 - width
	for _, w := range lim {
		over += w + 3
	}
	for width > 0 && over > 0 {
		widest := -1
		for i, f := range fields {
			if f.wrap && lim[i] > floor[i] && (widest < 0 || lim[i] > lim[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		lim[widest]--
		over--
	}
	return lim
}

// table draws one tablewriter table: headers as written, cells wrapped to
// fitColumns' widths here (so that colour codes go around whole lines),
// numbers right-aligned, the paint columns coloured line by line.
func (t *tableWriter) table(s section, fields []field, text [][][]string) error {
	lim := fitColumns(fields, text, t.width)
	header := make([]string, len(fields))
	align := make([]tw.Align, len(fields))
	for i, f := range fields {
		header[i], align[i] = f.header, tw.AlignLeft
		if f.right {
			align[i] = tw.AlignRight
		}
	}
	cells := make([][]string, len(text))
	for r, row := range text {
		cells[r] = make([]string, len(row))
		for i, lines := range row {
			var out []string
			for _, l := range lines {
				if fields[i].wrap {
					out = append(out, wrapText(l, lim[i])...)
				} else {
					out = append(out, l)
				}
			}
			if fields[i].paint {
				for k := range out {
					out[k] = t.paint(s.ansi, out[k])
				}
			}
			cells[r][i] = strings.Join(out, "\n")
		}
	}
	tbl := tablewriter.NewTable(t.w,
		tablewriter.WithRenderer(renderer.NewBlueprint()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{Global: tw.AlignLeft, PerColumn: align}),
	)
	tbl.Header(header)
	if err := tbl.Bulk(cells); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}

// blocks writes each row as a block of lines: the status and the
// unlabelled fields (id, direction, port, service), aligned across the
// section when they fit, then one indented line per labelled field with
// a value, wrapped to the width under the value.
func (t *tableWriter) blocks(s section, fields []field, text [][][]string) {
	status := strings.ToUpper(s.title)
	labelW := 0
	var head []int
	for i, f := range fields {
		if f.label == "" {
			head = append(head, i)
		} else {
			labelW = max(labelW, len(f.label)+1)
		}
	}
	pad := make([]int, len(fields))
	total := len(status)
	for _, i := range head {
		for _, row := range text {
			pad[i] = max(pad[i], twwidth.Width(strings.Join(row[i], " ")))
		}
		total += pad[i] + 1
	}
	if total > t.width {
		clear(pad) // one space between the values is all there is room for
	}
	for _, row := range text {
		var b strings.Builder
		b.WriteString(t.paint(s.ansi, status))
		for k, i := range head {
			v := strings.Join(row[i], " ")
			if k == len(head)-1 {
				pad[i] = 0 // no trailing spaces
			}
			fmt.Fprintf(&b, " %s%s", v, strings.Repeat(" ", max(pad[i]-twwidth.Width(v), 0)))
		}
		fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
		for i, f := range fields {
			if f.label == "" {
				continue
			}
			t.labelled(s, f, labelW, row[i])
		}
	}
}

// labelled writes one field of a block: "  peers:   203.0.113.10", each
// line of the cell wrapped under the value column.
func (t *tableWriter) labelled(s section, f field, labelW int, lines []string) {
	indent := 2 + labelW + 1
	for k, l := range lines {
		lead := strings.Repeat(" ", indent)
		if k == 0 {
			lead = fmt.Sprintf("  %-*s ", labelW, f.label+":")
		}
		for j, w := range wrapText(l, t.width-indent) {
			if j > 0 {
				lead = strings.Repeat(" ", indent)
			}
			if f.paint {
				w = t.paint(s.ansi, w)
			}
			fmt.Fprintln(t.w, lead+w)
		}
	}
}
