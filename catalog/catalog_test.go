package catalog

import "testing"

func TestBundledLoads(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Products) == 0 {
		t.Fatal("no bundled products")
	}
	for _, p := range c.Products {
		if len(p.Requirements) == 0 {
			t.Errorf("%s: no requirements", p.Name)
		}
	}
}
