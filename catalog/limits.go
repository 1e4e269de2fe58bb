package catalog

import "fmt"

// Bounds on what a catalog file may make, so that memory and time follow
// from these numbers and not from a file's contents. Each is far above
// what the bundled products use (in brackets) and is documented in
// docs/catalog.md.
const (
	// MaxPortEntries bounds the entries of one row's ports list [3].
	// Consecutive ports belong in one range: "1-65535" is one entry and
	// makes one requirement.
	MaxPortEntries = 1024
	// MaxPeers bounds the peers of one row [19]; each requirement the row
	// makes carries them all.
	MaxPeers = 256
	// MaxNotes bounds the notes of one row [2].
	MaxNotes = 64
	// MaxFeatures bounds the features one product file declares [11].
	MaxFeatures = 64
	// MaxProductRequirements bounds the requirements of one product, in
	// one file and after overlaying [66]. A row makes one requirement per
	// direction, protocol and ports entry.
	MaxProductRequirements = 2000
	// MaxRequirements bounds the requirements of a whole catalog: the
	// bundled products with every --catalog file overlaid [173].
	MaxRequirements = 10000
	// MaxIDLen is the longest requirement id: nftables refuses a rule
	// comment over 128 bytes, and the export comments each rule with its
	// id [54].
	MaxIDLen = 128
)

// CheckSize reports a catalog over MaxProductRequirements for a product
// or MaxRequirements in all, as overlaying files can make. Parse already
// refuses a single file over the per-product bound.
func (c *Catalog) CheckSize() error {
	total := 0
	for _, p := range c.Products {
		if len(p.Requirements) > MaxProductRequirements {
			return fmt.Errorf("product %s has %d requirements, at most %d per product", p.Name, len(p.Requirements), MaxProductRequirements)
		}
		total += len(p.Requirements)
	}
	if total > MaxRequirements {
		return fmt.Errorf("the catalog has %d requirements, at most %d in all", total, MaxRequirements)
	}
	return nil
}
