//go:build !linux

package live

import (
	"fmt"

	"github.com/flowaudit/flowaudit/capture"
)

// localDrops is never running here: the drop probe needs Linux.
type localDrops struct{ dropReader }

func startLocalDrops() (*localDrops, error) {
	return nil, fmt.Errorf("%w: %v", capture.ErrDropsUnavailable, ErrNeedsLinux)
}

func (*localDrops) rule(d capture.LocalDrop) string {
	return capture.RuleLocation{Hook: d.Direction.String()}.String()
}
