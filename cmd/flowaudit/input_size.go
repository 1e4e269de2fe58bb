package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/catalog"
)

// sizeFlag is a byte count given as 1048576, 512KiB, 16MiB or 2GiB (K, M
// and G alone mean the same; units are powers of 1024). 0 means the
// default of each kind of input.
type sizeFlag int64

var sizeUnits = map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}

func (s *sizeFlag) Set(v string) error {
	num := strings.TrimRightFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(v[len(num):]))]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n <= 0 || n > (1<<62)/unit {
		return errors.New("want a size such as 16MiB, 2GiB or 1048576 (bytes; KiB, MiB, GiB are powers of 1024)")
	}
	*s = sizeFlag(n * unit)
	return nil
}

func (s *sizeFlag) String() string {
	if *s == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*s), 10)
}

func (s *sizeFlag) Type() string { return "size" }

// addMaxInputFlag registers --max-input-size on a command that reads
// catalog, site or session files.
func (a *app) addMaxInputFlag(fs *pflag.FlagSet) {
	fs.Var(&a.maxInput, "max-input-size", fmt.Sprintf(
		"largest catalog, site or session file `SIZE` to read, for all three (e.g. 16MiB, 2GiB; default: %s for catalog and site files, %s for sessions)",
		sizeName(catalog.MaxFileSize), sizeName(session.MaxFileSize)))
}

// sizeName writes a default limit as the flag takes it: "4MiB".
func sizeName(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return strconv.FormatInt(n, 10)
}

// sizeHint says how to read a file refused for its size.
func sizeHint(err error) error {
	if errors.Is(err, catalog.ErrTooLarge) || errors.Is(err, session.ErrTooLarge) {
		return fmt.Errorf("%w (--max-input-size raises the limit)", err)
	}
	return err
}
