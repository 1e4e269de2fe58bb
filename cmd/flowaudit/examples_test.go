package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/spf13/cobra"
)

// TestExamples runs every example line of every command's help (cobra's
// Example) in a directory holding the files it names: captures cut from
// testdata/example/gateway.pcap, site files from site.example.yaml,
// sessions made with `replay --session` and reports with `replay -f
// json`. Each must exit 0 or 1 (findings), never 2, and write the outputs
// it names. Commands that need root (capture) are only parsed: their
// flags exist, their values parse, and their arguments are accepted.
func TestExamples(t *testing.T) {
	capturePath, err := filepath.Abs("../../testdata/example/gateway.pcap")
	if err != nil {
		t.Fatal(err)
	}
	site, err := filepath.Abs("../../site.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fx := exampleFixtures{packets: readExamplePackets(t, capturePath), site: site}
	root := newRootCmd(&app{stdout: io.Discard, stderr: io.Discard})
	count := 0
	walkCommands(root, func(cmd *cobra.Command) {
		n := 0
		for _, line := range strings.Split(cmd.Example, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			count++
			n++
			name := strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), "flowaudit "), " ", "_")
			t.Run(name+"/"+strconv.Itoa(n), func(t *testing.T) {
				ex, err := parseExample(line)
				if err != nil {
					t.Fatalf("example %q: %v", line, err)
				}
				if c, _, err := root.Find(ex.args); err != nil || c != cmd {
					t.Fatalf("example %q in the help of %q runs another command", line, cmd.CommandPath())
				}
				t.Chdir(t.TempDir())
				if rootOnlyCommands[cmd.CommandPath()] {
					parseOnly(t, line, ex.args)
					return
				}
				ex.makeInputs(t, fx)
				runExample(t, line, ex)
			})
		}
	})
	if count < 10 {
		t.Errorf("only %d examples found: is the Example text read?", count)
	}
}

// rootOnlyCommands need privileges (and an interface): their examples are
// parsed, not run.
var rootOnlyCommands = map[string]bool{"flowaudit capture": true}

// example is one example line: the arguments after "flowaudit" and the
// file its stdout is redirected to ("" for none).
type example struct {
	args   []string
	stdout string
}

// exampleShellSyntax is the shell syntax examples may not use: the test
// runs no shell, and an example it cannot run must not pass unnoticed.
var exampleShellSyntax = regexp.MustCompile("[|;&$`<(){}*?~]")

// parseExample splits an example line: "flowaudit", the arguments, and
// an optional "> FILE" at the end.
func parseExample(line string) (example, error) {
	var ex example
	words, err := shellWords(line)
	if err != nil {
		return ex, err
	}
	if len(words) < 2 || words[0] != "flowaudit" {
		return ex, errors.New(`an example is one "flowaudit ..." command`)
	}
	for i := 1; i < len(words); i++ {
		if words[i] == ">" {
			if i != len(words)-2 {
				return ex, errors.New(`"> FILE" must end the line`)
			}
			ex.stdout = words[i+1]
			break
		}
		ex.args = append(ex.args, words[i])
	}
	return ex, nil
}

// shellWords splits line into words as sh would, for the little of sh
// examples use: blanks, 'single' and "double" quotes (without escapes
// inside), backslashes, and ">". Other syntax is an error.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			continue
		case c == '\'' || c == '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '>' && !inWord:
			words = append(words, ">")
			continue
		case exampleShellSyntax.MatchString(string(c)):
			return nil, fmt.Errorf("shell syntax %q the example test does not run", c)
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Input files by name: what the examples call captures, site and catalog
// files, sessions and JSON reports.
var (
	exampleCapture = regexp.MustCompile(`\.(pcap|pcapng|cap)(\.gz)?$`)
	exampleSession = regexp.MustCompile(`\.session(\.json)?$`)
	exampleYAML    = regexp.MustCompile(`\.ya?ml$`)
)

// exampleOutputFlags take the name of a file the command writes.
var exampleOutputFlags = []string{"-o", "--output", "--session", "--write-pcap"}

// inputs are the files the example reads, in order, and the outputs it
// writes: positional arguments and flag values.
func (ex example) files() (inputs, outputs []exampleFile) {
	for i, a := range ex.args {
		prev := ""
		if i > 0 {
			prev = ex.args[i-1]
		}
		kind := ""
		switch {
		case slices.Contains(exampleOutputFlags, prev):
			outputs = append(outputs, exampleFile{name: a})
			continue
		case exampleCapture.MatchString(a):
			kind = "capture"
		case exampleSession.MatchString(a):
			kind = "session"
		case exampleYAML.MatchString(a) && prev == "--catalog":
			kind = "catalog"
		case exampleYAML.MatchString(a):
			kind = "site"
		case strings.HasSuffix(a, ".json") && !strings.HasPrefix(prev, "-"):
			kind = "report"
		default:
			continue
		}
		inputs = append(inputs, exampleFile{name: a, kind: kind})
	}
	return inputs, outputs
}

type exampleFile struct{ name, kind string }

// exampleFixtures are what example inputs are made of: the packets of
// testdata/example/gateway.pcap and the path of site.example.yaml.
type exampleFixtures struct {
	packets []examplePacket
	site    string
}

// makeInputs writes the example's input files in the current directory.
// Captures, and sessions and reports, are consecutive parts of the
// example capture, one per file in the example (day1 before day2, BEFORE
// before AFTER), so that files merged or compared differ as real ones do.
func (ex example) makeInputs(t *testing.T, fx exampleFixtures) {
	t.Helper()
	inputs, _ := ex.files()
	var captures, audits []string
	for _, f := range inputs {
		switch f.kind {
		case "capture":
			captures = append(captures, f.name)
		case "session", "report":
			audits = append(audits, f.name)
		}
	}
	for _, f := range inputs {
		switch f.kind {
		case "capture":
			writeExampleCapture(t, f.name, examplePart(fx.packets, slices.Index(captures, f.name), len(captures)))
		case "site":
			copyExampleFile(t, fx.site, f.name)
		case "catalog":
			if err := os.WriteFile(f.name, []byte(completionTestProduct), 0o644); err != nil {
				t.Fatal(err)
			}
		case "session", "report":
			part := "part-" + f.name + ".pcap"
			writeExampleCapture(t, part, examplePart(fx.packets, slices.Index(audits, f.name), len(audits)))
			args := []string{"replay", "-p", "mailcleaner", "--fail-on", "none", "-f", "json", "-o", f.name, part}
			if f.kind == "session" {
				node, _, _ := strings.Cut(f.name, ".")
				args = []string{"replay", "-p", "mailcleaner", "--fail-on", "none", "-o", os.DevNull, "--node", node, "--session", f.name, part}
			}
			if _, stderr, err := runCLI(t, args...); err != nil {
				t.Fatalf("make %s %s: %v\n%s", f.kind, f.name, err, stderr)
			}
		}
	}
}

// runExample runs the example through run and checks its exit status and
// its outputs.
func runExample(t *testing.T, line string, ex example) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), ex.args, &stdout, &stderr)
	var f *findingsError
	if err != nil && !errors.As(err, &f) {
		t.Fatalf("%s\nexit 2: %v\n%s", line, err, stderr.String())
	}
	if ex.stdout != "" {
		if err := os.WriteFile(ex.stdout, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, outputs := ex.files()
	for _, o := range append(outputs, exampleFile{name: ex.stdout}) {
		if o.name == "" || o.name == "-" {
			continue
		}
		if fi, err := os.Stat(o.name); err != nil || fi.Size() == 0 {
			t.Errorf("%s: output %s not written (%v)", line, o.name, err)
		}
	}
}

// parseOnly checks an example of a command that cannot run here: the
// command exists, its flags exist and their values parse, and its
// arguments are what it accepts.
func parseOnly(t *testing.T, line string, args []string) {
	t.Helper()
	root := newRootCmd(&app{stdout: io.Discard, stderr: io.Discard})
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%s: %v", line, flagError(cmd, err))
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if cmd.Flags().NFlag() == 0 {
		t.Errorf("%s: no flag parsed", line)
	}
}

// examplePacket is one packet of the example capture.
type examplePacket struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func readExamplePackets(t *testing.T, path string) []examplePacket {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []examplePacket
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, examplePacket{ci, data})
	}
	if len(out) < 10 {
		t.Fatalf("%s: %d packets", path, len(out))
	}
	return out
}

// examplePart is part i of n consecutive parts of packets.
func examplePart(packets []examplePacket, i, n int) []examplePacket {
	return packets[i*len(packets)/n : (i+1)*len(packets)/n]
}

// writeExampleCapture writes packets as pcap or pcapng by the name's
// extension, gzipped for .gz.
func writeExampleCapture(t *testing.T, name string, packets []examplePacket) {
	t.Helper()
	var buf bytes.Buffer
	base := strings.TrimSuffix(name, ".gz")
	var err error
	if strings.HasSuffix(base, ".pcapng") {
		err = writeExampleNg(&buf, packets)
	} else {
		w := pcapgo.NewWriterNanos(&buf)
		err = w.WriteFileHeader(65535, layers.LinkTypeEthernet)
		for _, p := range packets {
			if err == nil {
				err = w.WritePacket(p.ci, p.data)
			}
		}
	}
	if err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	data := buf.Bytes()
	if base != name {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(data); err != nil || zw.Close() != nil {
			t.Fatalf("gzip %s: %v", name, err)
		}
		data = gz.Bytes()
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeExampleNg(w io.Writer, packets []examplePacket) error {
	ng, err := pcapgo.NewNgWriter(w, layers.LinkTypeEthernet)
	if err != nil {
		return err
	}
	for _, p := range packets {
		if err := ng.WritePacket(p.ci, p.data); err != nil {
			return err
		}
	}
	return ng.Flush()
}

func copyExampleFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestParseExample: how example lines are split, and that shell syntax the
// test cannot run is refused rather than run wrongly.
func TestParseExample(t *testing.T) {
	for _, tc := range []struct {
		line   string
		args   []string
		stdout string
		err    bool
	}{
		{line: "flowaudit flows gateway.pcap", args: []string{"flows", "gateway.pcap"}},
		{line: "flowaudit capture -i eth0 --filter 'not port 22'", args: []string{"capture", "-i", "eth0", "--filter", "not port 22"}},
		{line: `flowaudit flows "my capture.pcap" a\ b.pcap`, args: []string{"flows", "my capture.pcap", "a b.pcap"}},
		{line: "flowaudit flows --format zeek a.pcap > conn.log", args: []string{"flows", "--format", "zeek", "a.pcap"}, stdout: "conn.log"},
		{line: "flowaudit flows a.pcap >conn.log", args: []string{"flows", "a.pcap"}, stdout: "conn.log"},
		{line: "flowaudit flows a.pcap > conn.log extra", err: true},
		{line: "flowaudit flows a.pcap | head", err: true},
		{line: "flowaudit replay -p mailcleaner $FILE", err: true},
		{line: "flowaudit replay -p mailcleaner *.pcap", err: true},
		{line: "flowaudit flows 'a.pcap", err: true},
		{line: "tcpdump -w x.pcap", err: true},
	} {
		ex, err := parseExample(tc.line)
		if tc.err {
			if err == nil {
				t.Errorf("%q: parsed as %q, want an error", tc.line, ex.args)
			}
			continue
		}
		if err != nil || !slices.Equal(ex.args, tc.args) || ex.stdout != tc.stdout {
			t.Errorf("%q: %q > %q (%v), want %q > %q", tc.line, ex.args, ex.stdout, err, tc.args, tc.stdout)
		}
	}
}
