package blocklist

import (
	"bytes"
	"cmp"
	"slices"
)

// sort orders the chunk's entries by key, then flags: a radix sort of the
// records by their headPrefix, least significant digit first, then a
// comparison sort of each run of records whose prefixes tie. A comparison
// sort of all of them would spend most of its time in the comparison.
func (r *keyRuns) sort() {
	recs := r.recs
	if cap(r.tmp) < len(recs) {
		r.tmp = make([]chunkRec, len(recs), cap(r.recs))
	}
	tmp := r.tmp[:len(recs)]
	for shift := 0; shift < 6*headChars; shift += radixBits {
		var count [1 << radixBits]int
		for _, rc := range recs {
			count[rc.prefix>>shift&radixMask]++
		}
		if count[recs[0].prefix>>shift&radixMask] == len(recs) {
			continue // one digit for all: nothing to do
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, rc := range recs {
			d := rc.prefix >> shift & radixMask
			tmp[count[d]] = rc
			count[d]++
		}
		recs, tmp = tmp, recs
	}
	if &recs[0] != &r.recs[0] {
		copy(r.recs, recs)
	}
	recs = r.recs
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].prefix == recs[i].prefix {
			j++
		}
		if j-i > 1 {
			r.sortTied(recs[i:j])
		}
		i = j
	}
}

const (
	radixBits = 10
	radixMask = 1<<radixBits - 1
)

// sortTied sorts records whose headPrefix ties, by the rest of the key.
func (r *keyRuns) sortTied(recs []chunkRec) {
	if len(recs) > 12 {
		slices.SortFunc(recs, r.compare)
		return
	}
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && r.compare(recs[j-1], recs[j]) > 0; j-- {
			recs[j-1], recs[j] = recs[j], recs[j-1]
		}
	}
}

// compare orders two entries of the chunk by key, then flags.
func (r *keyRuns) compare(a, b chunkRec) int {
	if a.prefix != b.prefix {
		return cmp.Compare(a.prefix, b.prefix)
	}
	if c := bytes.Compare(r.key(a.off), r.key(b.off)); c != 0 {
		return c
	}
	return cmp.Compare(r.chunk[a.off+1], r.chunk[b.off+1])
}
