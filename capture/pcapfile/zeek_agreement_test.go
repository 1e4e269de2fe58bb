package pcapfile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// sharedDir locates ../shared relative to the repository root.
func sharedDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared corpus not present (%s): %v", d, err)
	}
	return d
}

type zeekRow struct {
	file, proto, key, state, history string
}

// readExpected reads corpus/zeek/expected.tsv: the TCP and UDP rows of
// Zeek's conn.logs outside tunnels.
func readExpected(t *testing.T, path string) []zeekRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []zeekRow
	sc := bufio.NewScanner(f)
	var col map[string]int
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if col == nil {
			col = map[string]int{}
			for i, c := range fs {
				col[c] = i
			}
			for _, c := range []string{"file", "proto", "orig_h", "orig_p", "resp_h", "resp_p", "conn_state", "history", "tunnel_parents"} {
				if _, ok := col[c]; !ok {
					t.Fatalf("%s: no column %q", path, c)
				}
			}
			continue
		}
		p := fs[col["proto"]]
		if (p != "tcp" && p != "udp") || fs[col["tunnel_parents"]] != "-" {
			continue
		}
		rows = append(rows, zeekRow{file: fs[col["file"]], proto: p,
			key:   tupleKey(p, fs[col["orig_h"]], fs[col["orig_p"]], fs[col["resp_h"]], fs[col["resp_p"]]),
			state: fs[col["conn_state"]], history: fs[col["history"]]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func tupleKey(proto, oh, op, rh, rp string) string {
	return fmt.Sprintf("%s %s:%s > %s:%s", proto, oh, op, rh, rp)
}

// TestZeekAgreement replays every trace of the Zeek corpus and compares
// conn_state with Zeek's for each TCP and UDP 5-tuple outside tunnels.
// Rows sharing a 5-tuple (a reused tuple) are compared in start order.
func TestZeekAgreement(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "corpus", "zeek")
	rows := readExpected(t, filepath.Join(dir, "expected.tsv"))
	byFile := map[string][]zeekRow{}
	var files []string
	for _, r := range rows {
		if byFile[r.file] == nil {
			files = append(files, r.file)
		}
		byFile[r.file] = append(byFile[r.file], r)
	}
	sort.Strings(files)
	total, agree, histAgree := 0, 0, 0
	for _, file := range files {
		res, err := ReadFiles(context.Background(), []string{filepath.Join(dir, file)}, capture.Options{NoNames: true})
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		sort.SliceStable(res.Flows, func(i, j int) bool { return res.Flows[i].Start.Before(res.Flows[j].Start) })
		ours := map[string][]flow.Flow{}
		for _, f := range res.Flows {
			if f.Proto != flow.ProtoTCP && f.Proto != flow.ProtoUDP {
				continue
			}
			p := "tcp"
			if f.Proto == flow.ProtoUDP {
				p = "udp"
			}
			k := tupleKey(p, f.Orig.Addr().String(), fmt.Sprint(f.Orig.Port()), f.Resp.Addr().String(), fmt.Sprint(f.Resp.Port()))
			ours[k] = append(ours[k], f)
		}
		seen := map[string]int{}
		for _, r := range byFile[file] {
			total++
			i := seen[r.key]
			seen[r.key]++
			got := ours[r.key]
			switch {
			case i < len(got) && string(got[i].State) == r.state:
				agree++
				if got[i].History == r.history {
					histAgree++
				} else {
					t.Logf("history %s %s: zeek %s, flowaudit %s", file, r.key, r.history, got[i].History)
				}
			case i < len(got):
				t.Logf("differs %s %s: zeek %s %s, flowaudit %s %s", file, r.key, r.state, r.history, got[i].State, got[i].History)
			default:
				t.Logf("missing %s %s: zeek %s %s, flowaudit has no such flow", file, r.key, r.state, r.history)
			}
		}
	}
	if total == 0 {
		t.Fatal("no TCP/UDP rows outside tunnels in expected.tsv")
	}
	pct := 100 * float64(agree) / float64(total)
	t.Logf("Zeek agreement: %d of %d TCP/UDP rows outside tunnels have the same conn_state (%.1f%%)", agree, total, pct)
	fmt.Printf("Zeek agreement: %d/%d = %.1f%% same conn_state; %d/%d same history too\n", agree, total, pct, histAgree, total)
	if pct < 95 {
		t.Errorf("agreement %.1f%% is below 95%%", pct)
	}
}
