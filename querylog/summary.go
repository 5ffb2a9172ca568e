package querylog

import (
	"encoding/binary"
	"fmt"
)

// A segment's summary counts its queries per 15-minute slot, device,
// profile, category and decision. Stats reads summaries instead of rows
// for the segments wholly inside its range, and Search, Top and
// DeleteDevice read them to skip segments that hold nothing they want.
// A segment of 8192 rows has a few dozen entries.
//
//	version  byte (segVersion)
//	entries  uvarint count, then count ×
//	         varint   slot - previous slot (the first: from 0)
//	         uvarint  device, profile, category, decision (strings ids)
//	         uvarint  queries

// sumKey is what a summary counts by.
type sumKey struct {
	slot                                int64 // unix ms / slotMS
	device, profile, category, decision int64
}

// sumEntry is one count of a summary.
type sumEntry struct {
	sumKey
	n int64
}

// summarizer gathers a segment's summary. Its memory is kept from segment
// to segment.
type summarizer struct {
	pos     map[sumKey]int
	entries []sumEntry
	buf     []byte
}

func newSummarizer() *summarizer { return &summarizer{pos: make(map[sumKey]int)} }

func (s *summarizer) reset() {
	clear(s.pos)
	s.entries = s.entries[:0]
}

// add counts r.
func (s *summarizer) add(r *segRow) {
	k := sumKey{slot: slotOf(r.time), device: r.ids[colDevice], profile: r.ids[colProfile],
		category: r.ids[colCategory], decision: r.ids[colDecision]}
	if i, ok := s.pos[k]; ok {
		s.entries[i].n += r.count
		return
	}
	s.pos[k] = len(s.entries)
	s.entries = append(s.entries, sumEntry{sumKey: k, n: r.count})
}

// data returns the encoded summary, valid until the next call.
func (s *summarizer) data() []byte {
	b := append(s.buf[:0], segVersion)
	b = binary.AppendUvarint(b, uint64(len(s.entries)))
	var last int64
	for _, e := range s.entries {
		b = binary.AppendVarint(b, e.slot-last)
		last = e.slot
		for _, id := range [...]int64{e.device, e.profile, e.category, e.decision} {
			b = binary.AppendUvarint(b, uint64(id))
		}
		b = binary.AppendUvarint(b, uint64(e.n))
	}
	s.buf = b
	return b
}

// slotOf is the 15-minute slot of a unix ms time (floor, also before 1970).
func slotOf(ms int64) int64 {
	s := ms / slotMS
	if ms%slotMS < 0 {
		s--
	}
	return s
}

// decodeSummary appends data's entries to out.
func decodeSummary(out []sumEntry, data []byte) ([]sumEntry, error) {
	if len(data) == 0 || data[0] != segVersion {
		return out, fmt.Errorf("%w: summary: unknown version", errCorrupt)
	}
	r := reader{b: data[1:]}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		return out, fmt.Errorf("%w: summary: bad count", errCorrupt)
	}
	var slot int64
	for range n {
		slot += r.varint()
		e := sumEntry{sumKey: sumKey{slot: slot}}
		e.device = int64(r.uvarint() & (1<<62 - 1))
		e.profile = int64(r.uvarint() & (1<<62 - 1))
		e.category = int64(r.uvarint() & (1<<62 - 1))
		e.decision = int64(r.uvarint() & (1<<62 - 1))
		e.n = int64(r.uvarint() & (1<<62 - 1))
		if r.err != nil {
			return out, fmt.Errorf("%w: summary: bad entry", errCorrupt)
		}
		out = append(out, e)
	}
	if len(r.b) != 0 {
		return out, fmt.Errorf("%w: summary: trailing bytes", errCorrupt)
	}
	return out, nil
}
