package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
)

// readNames returns the domain names of a list file (gzip when the name
// ends in .gz), in file order, lower case, without duplicates, stopping
// after max names (0 = all). It reads "one name per line" and hosts files
// (the last field of a line), skips comments and takes only names both
// Haven and Unbound accept alike (see plainName).
func readNames(path string, max int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	var names []string
	seen := make(map[string]bool)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := strings.TrimSuffix(strings.ToLower(f[len(f)-1]), ".")
		if !plainName(name) || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
		if max > 0 && len(names) == max {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return names, nil
}

// plainName reports whether s is a host name of at least two labels of
// letters, digits, '-' and '_': what every list parser and Unbound's
// local-zone read the same way (no escapes, wildcards or IP addresses).
func plainName(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	digitsOnly := true
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			switch {
			case c >= 'a' && c <= 'z', c == '-', c == '_':
				digitsOnly = false
			case c >= '0' && c <= '9':
			default:
				return false
			}
		}
	}
	return !digitsOnly // an IPv4 address
}

// listed reports whether name or a parent of it is in set: what a blocklist
// entry covers (Haven's subtree match, Unbound's local-zone).
func listed(set map[string]bool, name string) bool {
	for {
		if set[name] {
			return true
		}
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return false
		}
		name = name[i+1:]
	}
}

// zipfNames draws n names from ranked (most popular first) with
// probability proportional to 1/rank^s. math/rand's Zipf needs s > 1, and
// s = 1 is the classic fit for DNS popularity, so this inverts the CDF.
func zipfNames(rng *rand.Rand, ranked []string, n int, s float64) []string {
	cdf := make([]float64, len(ranked))
	var sum float64
	for i := range ranked {
		sum += 1 / math.Pow(float64(i+1), s)
		cdf[i] = sum
	}
	out := make([]string, n)
	for i := range out {
		u := rng.Float64() * sum
		out[i] = ranked[sort.SearchFloat64s(cdf, u)]
	}
	return out
}

// mixNames returns n names in random order: a blockedFrac share (rounded)
// drawn uniformly from blocked, the rest uniformly from the names of
// popular that no entry of blocked covers.
func mixNames(rng *rand.Rand, popular, blocked []string, n int, blockedFrac float64) ([]string, error) {
	set := make(map[string]bool, len(blocked))
	for _, b := range blocked {
		set[b] = true
	}
	var allowed []string
	for _, p := range popular {
		if !listed(set, p) {
			allowed = append(allowed, p)
		}
	}
	nb := int(math.Round(float64(n) * blockedFrac))
	if len(allowed) == 0 && nb < n || len(blocked) == 0 && nb > 0 {
		return nil, fmt.Errorf("mix: %d allowed and %d blocked names to draw from", len(allowed), len(blocked))
	}
	out := make([]string, n)
	for i := range out {
		if i < nb {
			out[i] = blocked[rng.IntN(len(blocked))]
		} else {
			out[i] = allowed[rng.IntN(len(allowed))]
		}
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// missZone is the zone of the miss workload's names. The fake upstream
// answers any name; .example is reserved (RFC 2606), so a name here can
// never be real, and Unbound has no built-in local zone for it.
const missZone = "haven-bench.example"

// missNames returns n distinct names under tag.missZone, tag telling runs
// apart so that no run finds a name a previous one cached.
func missNames(rng *rand.Rand, tag string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("q%d-%08x.%s.%s", i, rng.Uint32(), tag, missZone)
	}
	return out
}

// writeQueries writes names as a dnsperf query file, one "NAME A" a line.
func writeQueries(path string, names []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, n := range names {
		w.WriteString(n)
		w.WriteString(" A\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// writeNames writes names one per line: the list file Haven reads.
func writeNames(path string, names []string) error {
	return os.WriteFile(path, []byte(strings.Join(names, "\n")+"\n"), 0o644)
}
