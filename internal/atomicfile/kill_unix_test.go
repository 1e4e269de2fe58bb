//go:build unix

package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// killChildEnv names the file the child process of
// TestWriteFileSurvivesSIGKILL writes.
const killChildEnv = "ATOMICFILE_KILL_CHILD"

// killContent is what save number gen writes: 4 MiB, distinct per save,
// so a file is either one save's content, byte for byte, or torn.
func killContent(gen int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "save %d begins\n", gen)
	line := strings.Repeat(fmt.Sprint(gen), 63) + "\n"
	for b.Len() < 4<<20 {
		b.WriteString(line)
	}
	fmt.Fprintf(&b, "save %d ends\n", gen)
	return b.Bytes()
}

// killChild is the writer: two saves of path, the second over the first.
// At each moment a kill must survive (half the content written; the
// temporary file synced; renamed into place) it tells the parent through
// file descriptor 3 and waits on descriptor 4 for leave to go on, so the
// parent kills it exactly there.
func killChild(path string) {
	report, wait := os.NewFile(3, "report"), os.NewFile(4, "wait")
	pause := func(moment string) {
		fmt.Fprintln(report, moment)
		var b [1]byte
		if _, err := wait.Read(b[:]); err != nil {
			os.Exit(4)
		}
	}
	testHook = pause
	for gen := 1; gen <= 2; gen++ {
		c := killContent(gen)
		err := WriteFile(path, func(f *os.File) error {
			if _, err := f.Write(c[:len(c)/2]); err != nil {
				return err
			}
			pause("writing")
			_, err := f.Write(c[len(c)/2:])
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
	os.Exit(0)
}

// TestWriteFileSurvivesSIGKILL kills a writer at each moment of its first
// save (no file there yet) and of its second (replacing the first), and
// checks the file is exactly what it must be: absent or the first save's
// content until the rename, the new content after it; never torn. The
// child stops at each moment and waits, so where it dies does not depend
// on timing (the old version slept and raced the writer under load).
func TestWriteFileSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	for _, kill := range []struct {
		save   int
		moment string
		want   int // 0: no file; else the save whose content is there
	}{
		{1, "writing", 0}, {1, momentSynced, 0}, {1, momentRenamed, 1},
		{2, "writing", 1}, {2, momentSynced, 1}, {2, momentRenamed, 2},
	} {
		t.Run(fmt.Sprintf("save %d %s", kill.save, kill.moment), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			killAt(t, path, kill.save, kill.moment)
			got, err := os.ReadFile(path)
			switch {
			case kill.want == 0 && errors.Is(err, os.ErrNotExist):
			case kill.want == 0:
				t.Fatalf("killed before the first rename, yet the file is there (%d bytes, %v)", len(got), err)
			case err != nil:
				t.Fatalf("file gone: %v", err)
			case !bytes.Equal(got, killContent(kill.want)):
				t.Fatalf("file torn: %d bytes, want save %d's %d", len(got), kill.want, len(killContent(kill.want)))
			}
			// Besides the file, at most the temporary file of the save
			// the kill interrupted stays behind.
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if n := e.Name(); n != "out" && !strings.HasPrefix(n, ".out.tmp-") {
					t.Errorf("unexpected file %s left", n)
				}
			}
		})
	}
}

// killAt runs the writer child until it reaches moment of save number
// save, then kills it with SIGKILL while it waits there.
func killAt(t *testing.T, path string, save int, moment string) {
	t.Helper()
	reportR, reportW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer reportR.Close()
	waitR, waitW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer waitW.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.ExtraFiles = []*os.File{reportW, waitR}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reportW.Close()
	waitR.Close()
	sc := bufio.NewScanner(reportR)
	reached, n := false, 1
	for !reached && sc.Scan() {
		switch m := sc.Text(); {
		case n == save && m == moment:
			reached = true // the child waits there now
		default:
			if m == momentRenamed {
				n++
			}
			if _, err := waitW.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && reached {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if !reached {
		t.Fatalf("the writer never reached save %d %s: %v\n%s", save, moment, err, stderr.Bytes())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer did not die of SIGKILL: %v\n%s", err, stderr.Bytes())
	}
}
