package catalog

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

//go:embed products/*.yaml
var bundled embed.FS

// Catalog is a set of products.
type Catalog struct{ Products []*Product }

// Bundled returns the products embedded in the binary, validated like any
// user file. It fails only if the build itself carries a broken file.
func Bundled() (*Catalog, error) {
	entries, err := bundled.ReadDir("products")
	if err != nil {
		return nil, fmt.Errorf("read bundled catalog: %w", err)
	}
	c := &Catalog{}
	var errs []error
	for _, e := range entries {
		name := path.Join("products", e.Name())
		data, err := bundled.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read bundled catalog: %w", err)
		}
		p, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.find(p.Name) != nil {
			errs = append(errs, &Error{File: name, Field: "product", Msg: fmt.Sprintf("product %q defined twice", p.Name)})
			continue
		}
		c.Products = append(c.Products, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bundled catalog: %w", err)
	}
	return c, nil
}

// LoadFile reads a user's product file, with the same validation as the
// bundled ones. Nothing is returned when anything in it is wrong. The file
// must be a regular file of at most MaxFileSize bytes (see LoadFileLimit).
func LoadFile(file string) (*Catalog, error) {
	return LoadFileLimit(file, MaxFileSize)
}

// LoadFileLimit is LoadFile for a file of at most max bytes (MaxFileSize
// when max is 0). A larger file is refused unread (ErrTooLarge), and so is
// anything but a regular file (ErrNotRegular).
func LoadFileLimit(file string, max int64) (*Catalog, error) {
	data, err := readInput(file, max)
	if err != nil {
		return nil, fmt.Errorf("load catalog %s: %w", file, unwrapPath(err))
	}
	p, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	return &Catalog{Products: []*Product{p}}, nil
}

// Names lists the products' names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.Products))
	for _, p := range c.Products {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// Product returns the named product, or an error listing the known names.
func (c *Catalog) Product(name string) (*Product, error) {
	if p := c.find(name); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("unknown product %q (known: %s)", name, strings.Join(c.Names(), ", "))
}

func (c *Catalog) find(name string) *Product {
	for _, p := range c.Products {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Overlay returns a new catalog: c's products, where o's products extend
// them. A product of o unknown to c is added; for a known one, o's
// requirements replace those of c with the same id and the others are
// appended, and o's features replace c's of the same name. Neither c nor o
// is modified.
func (c *Catalog) Overlay(o *Catalog) *Catalog {
	out := &Catalog{}
	for _, p := range c.Products {
		out.Products = append(out.Products, p.clone())
	}
	for _, op := range o.Products {
		p := out.find(op.Name)
		if p == nil {
			out.Products = append(out.Products, op.clone())
			continue
		}
		if op.Title != "" {
			p.Title = op.Title
		}
		for _, r := range op.Requirements {
			i := slices.IndexFunc(p.Requirements, func(x Requirement) bool { return x.ID == r.ID })
			if i >= 0 {
				p.Requirements[i] = r
			} else {
				p.Requirements = append(p.Requirements, r)
			}
		}
		for _, f := range op.features {
			i := slices.IndexFunc(p.features, func(x Feature) bool { return x.Name == f.Name })
			if i >= 0 {
				p.features[i] = f
			} else {
				p.features = append(p.features, f)
			}
			// The new default holds for the bundled requirements too; each
			// gets its own Condition so that c is left as it was.
			for j := range p.Requirements {
				if cond := p.Requirements[j].Condition; cond != nil && cond.Feature == f.Name {
					p.Requirements[j].Condition = &Condition{Feature: f.Name, Default: f.Default}
				}
			}
		}
	}
	return out
}

// clone copies the product's lists (not the requirements' own slices,
// which nothing modifies after loading).
func (p *Product) clone() *Product {
	q := *p
	q.Requirements = slices.Clone(p.Requirements)
	q.features = slices.Clone(p.features)
	return &q
}

// Features lists the optional features the product's requirements depend
// on, with their defaults and descriptions, in the order the file declares
// them.
func (p *Product) Features() []Feature { return slices.Clone(p.features) }

// Requirement returns the requirement with the given id, or nil.
func (p *Product) Requirement(id string) *Requirement {
	for i := range p.Requirements {
		if p.Requirements[i].ID == id {
			return &p.Requirements[i]
		}
	}
	return nil
}
