//go:build unix

package dnstest

import (
	"syscall"
	"time"
)

// ProcessCPU is the user and system CPU time this process has used so far,
// all threads (the garbage collector's included), for benchmarks that
// report CPU per operation: on a shared machine wall time says little.
func ProcessCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
