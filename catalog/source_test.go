package catalog

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// seedsDir finds ../shared/seeds next to the repository, or skips.
func seedsDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "seeds")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("vendor documents not available (%s): %v", dir, err)
	}
	return dir
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestSourcesQuoteTheDocuments checks that every requirement's source text
// really occurs in the document it names, whitespace aside: a citation
// that cannot be found is a transcription error.
func TestSourcesQuoteTheDocuments(t *testing.T) {
	dir := seedsDir(t)
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	checked := 0
	for _, p := range c.Products {
		for _, r := range p.Requirements {
			doc, ok := docs[r.Source.Document]
			if !ok {
				data, err := os.ReadFile(filepath.Join(dir, r.Source.Document))
				if err != nil {
					t.Errorf("%s: source document: %v", r.ID, err)
					continue
				}
				doc = normalizeSpace(string(data))
				docs[r.Source.Document] = doc
			}
			if !strings.Contains(doc, normalizeSpace(r.Source.Text)) {
				t.Errorf("%s: source text not found in %s: %q", r.ID, r.Source.Document, r.Source.Text)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no requirement checked")
	}
	// Every seed document is cited by at least one requirement.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := docs[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".txt") {
			t.Errorf("seed document %s is cited by no requirement", e.Name())
		}
	}
}
