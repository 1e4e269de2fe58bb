package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/internal/escape"
)

// fileFormat is one output format of a command and the -o extensions that
// pick it (none: only -f picks it).
type fileFormat struct {
	name string
	exts []string
}

// formatSet is a command's output formats, in the order help and errors
// list them. The same rules hold on every command that writes a report or
// data (resolveFormat), so that -o FILE means the same everywhere.
type formatSet []fileFormat

// Output formats of each kind of document.
var (
	reportFileFormats = formatSet{{"table", []string{".txt"}}, {"json", []string{".json"}},
		{"markdown", []string{".md", ".markdown"}}, {"html", []string{".html", ".htm"}}}
	flowsFileFormats = formatSet{{"table", []string{".txt"}}, {"json", []string{".json"}},
		{"zeek", []string{".log", ".tsv"}}}
	showFileFormats = formatSet{{"table", []string{".txt"}}, {"json", []string{".json"}},
		{"markdown", []string{".md", ".markdown"}}}
	// iptables-restore files: rules.v4 and rules.v6 as Debian's
	// iptables-persistent names them, or by the tool's name.
	exportFileFormats = formatSet{{"nftables", []string{".nft"}}, {"iptables", []string{".v4", ".rules", ".iptables"}},
		{"ip6tables", []string{".v6", ".ip6tables"}}}
)

// has reports whether name is one of the formats.
func (s formatSet) has(name string) bool {
	return slices.ContainsFunc(s, func(f fileFormat) bool { return f.name == name })
}

// names lists the format names, "a|b|c".
func (s formatSet) names() string {
	out := make([]string, len(s))
	for i, f := range s {
		out[i] = f.name
	}
	return strings.Join(out, "|")
}

// sorted lists the format names in sorted order (shell completion).
func (s formatSet) sorted() []string {
	out := make([]string, len(s))
	for i, f := range s {
		out[i] = f.name
	}
	slices.Sort(out)
	return out
}

// byExt is the format an extension picks ("" when none does).
func (s formatSet) byExt(ext string) string {
	for _, f := range s {
		if slices.Contains(f.exts, ext) {
			return f.name
		}
	}
	return ""
}

// fits lists the extensions and the formats they pick, for errors:
// ".txt (table), .json (json), .md or .markdown (markdown)".
func (s formatSet) fits() string {
	var parts []string
	for _, f := range s {
		if len(f.exts) > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s)", strings.Join(f.exts, " or "), f.name))
		}
	}
	return strings.Join(parts, ", ")
}

// allFormatSets are every command's formats: "-o json" is a mistake on any
// command when json is a format of some command.
var allFormatSets = []formatSet{reportFileFormats, flowsFileFormats, showFileFormats, exportFileFormats}

// formatWord is the format a bare -o value (no directory, no extension)
// names, when it names one: "json", "html", but also "md" or "txt" (an
// extension without its dot). "" otherwise.
func formatWord(output string) string {
	w := strings.ToLower(output)
	if strings.ContainsAny(w, `/\.`) {
		return ""
	}
	for _, s := range allFormatSets {
		if s.has(w) {
			return w
		}
		if name := s.byExt("." + w); name != "" {
			return name
		}
	}
	return ""
}

// resolveFormat picks the format a command writes, before any input is
// read, so that a usage error costs nothing:
//
//   - to stdout ("" or "-"), or a device or pipe written in place
//     (/dev/stdout, /dev/null), the format is flag (def when flag is ""
//     or "auto");
//   - to a file, the extension picks the format; -f may repeat it, and
//     contradicting it is an error;
//   - a file whose extension picks no format needs -f, which then wins;
//   - "-o json", a format's name without a dot, is refused with a hint:
//     it would write a file named json.
//
// Errors are one line naming the file, its extension and the formats that
// fit; kind ("report ") names the document in an unknown format's error.
func resolveFormat(set formatSet, kind, flag, def, output string) (string, error) {
	given := flag != "" && flag != "auto"
	if given && !set.has(flag) {
		return "", fmt.Errorf("unknown %sformat %q (want %s)", kind, flag, set.names())
	}
	if output == "" || output == "-" || isDevice(output) {
		if !given {
			return def, nil
		}
		return flag, nil
	}
	name := escape.Terminal(output)
	if w := formatWord(output); w != "" {
		return "", fmt.Errorf("-o %s names the file to write, not the format: did you mean -f %s?", name, w)
	}
	ext := strings.ToLower(filepath.Ext(output))
	byExt := set.byExt(ext)
	switch {
	case byExt != "" && given && byExt != flag:
		return "", fmt.Errorf("-o %s: the extension %s means %s, but -f is %s: drop -f, or give a file ending in %s",
			name, ext, byExt, flag, extsOf(set, flag))
	case byExt != "":
		return byExt, nil
	case given:
		return flag, nil // -f says what an unknown extension does not
	case ext == "":
		return "", fmt.Errorf("-o %s: no extension to pick the format by: give -f %s, or a file ending in %s",
			name, set.names(), set.fits())
	}
	return "", fmt.Errorf("-o %s: the extension %s picks no format: give -f %s, or a file ending in %s",
		name, escape.Terminal(ext), set.names(), set.fits())
}

// isDevice reports whether path is an existing file that is not a
// regular file or a directory: a device or a named pipe, written in place
// like stdout.
func isDevice(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// extsOf lists the extensions of format name, "a file ending in" them.
func extsOf(set formatSet, name string) string {
	for _, f := range set {
		if f.name == name && len(f.exts) > 0 {
			return strings.Join(f.exts, " or ")
		}
	}
	return "an extension of its own (with -f " + name + ")"
}

// announce says on stderr what a command wrote to a file, one line:
// "flowaudit: wrote report.html: 6 blocked, 1 partial, 2 unexpected".
// Nothing is said for stdout, or a device (/dev/stdout), which show for
// themselves.
func (a *app) announce(output, summary string) {
	if output == "" || output == "-" || isDevice(output) {
		return
	}
	fmt.Fprintf(a.stderr, "flowaudit: wrote %s: %s\n", escape.Terminal(output), summary)
}
