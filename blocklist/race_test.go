//go:build race

package blocklist

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// regexp matching (which pools its machines) allocates under -race.
const raceEnabled = true
