package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The per-process figures come from /proc, read before and after a run:
// CPU is utime+stime of the whole process (every thread), RSS is VmRSS.

// cpuTime returns the user plus system CPU time pid has used.
func cpuTime(pid int, tick time.Duration) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatTicks(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * tick, nil
}

// parseStatTicks returns utime+stime, in clock ticks, from the text of
// /proc/PID/stat. The command name (field 2) is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last
// ')'.
func parseStatTicks(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	// After ")": state is field 3; utime and stime are fields 14 and 15.
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var sum uint64
	for _, v := range f[11:13] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime/stime %q: %w", v, err)
		}
		sum += n
	}
	return sum, nil
}

// rss returns the resident set size of pid in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	n, err := parseStatusRSS(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return n, nil
}

// parseStatusRSS returns VmRSS from the text of /proc/PID/status, in bytes.
func parseStatusRSS(s string) (int64, error) {
	for line := range strings.SplitSeq(s, "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want \"N kB\"", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS %q: %w", f[0], err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmRSS line (a kernel thread, or a zombie)")
}

// clockTick returns the length of the clock tick /proc/PID/stat counts in
// (USER_HZ), from the AT_CLKTCK entry of the auxiliary vector the kernel
// gave this process; 10ms, the value on every common Linux, if it is not
// there.
func clockTick() time.Duration {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 10 * time.Millisecond
	}
	if hz := parseAuxvClockTick(b); hz > 0 {
		return time.Second / time.Duration(hz)
	}
	return 10 * time.Millisecond
}

// parseAuxvClockTick finds AT_CLKTCK in an auxiliary vector of 64-bit
// native-endian (type, value) pairs; 0 if absent.
func parseAuxvClockTick(b []byte) uint64 {
	const atNull, atClkTck = 0, 17
	r := bytes.NewReader(b)
	for {
		var kv [2]uint64
		if err := binary.Read(r, binary.NativeEndian, &kv); err != nil {
			return 0
		}
		switch kv[0] {
		case atNull:
			return 0
		case atClkTck:
			return kv[1]
		}
	}
}

// busyTime returns the CPU time all CPUs have spent not idle since boot,
// from the first line of /proc/stat.
func busyTime(tick time.Duration) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	ticks, err := parseProcStatBusy(string(b))
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	return time.Duration(ticks) * tick, nil
}

// parseProcStatBusy sums the non-idle fields of the "cpu" line of
// /proc/stat: user nice system idle iowait irq softirq steal (guest time is
// already inside user).
func parseProcStatBusy(s string) (uint64, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("first line %q: want \"cpu\" and 8 counters", line)
	}
	var sum uint64
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("counter %q: %w", v, err)
		}
		if i != 3 && i != 4 { // idle, iowait
			sum += n
		}
	}
	return sum, nil
}
