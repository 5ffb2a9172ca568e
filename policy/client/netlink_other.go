//go:build !linux

package client

import (
	"errors"
	"fmt"
)

// neighDump is Linux only: other systems have no rtnetlink.
func neighDump(uint32, func([]byte) (bool, error)) error {
	return fmt.Errorf("neighbour table: %w", errors.ErrUnsupported)
}
