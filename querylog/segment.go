package querylog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// A segment is one committed batch of rows, stored as one SQLite row
// whose data column is the encoding below: one INSERT per batch instead
// of one per row, which is what made the writer cost microseconds a row
// (binding 15 values through database/sql, B-tree and index work per row).
//
//	version   byte (segVersion)
//	rows      uvarint
//	table     uvarint count, then count × (uvarint length, bytes):
//	          the segment's client addresses (netip.Addr binary form) and
//	          rules, each distinct value once
//	rows ×    uvarint  index - previous index - 1 (the first: index)
//	          varint   time - previous time, unix ms (the first: from 0)
//	          uvarint  client (table position)
//	          uvarint  device, profile, proto, decision, category, cache,
//	                   upstream (strings ids, see dict.go)
//	          uvarint  name length, then the name's bytes
//	          uvarint  qtype
//	          uvarint  rule (table position)
//	          varint   rcode
//	          varint   latency, µs
//	          uvarint  count
//
// A row's index is its position in the batch it was written in; it stays
// when the segment is rewritten without some rows (DeleteDevice, Prune),
// so row ids (segment id << 16 | index) and paging cursors stay valid.

// segVersion is the first byte of every segment written by this code.
const segVersion = 1

// segIndexBits is how many bits of a row id hold its index within its
// segment, so a segment holds at most 1<<segIndexBits rows.
const (
	segIndexBits   = 16
	maxSegmentRows = 1 << segIndexBits
)

// rowID is the id of the row at index i of segment seg.
func rowID(seg int64, i int) int64 { return seg<<segIndexBits | int64(i) }

// splitID is rowID's inverse.
func splitID(id int64) (seg int64, i int) {
	return id >> segIndexBits, int(id & (maxSegmentRows - 1))
}

// segRow is a row as stored: ids and table positions, names as a slice of
// the segment data (valid as long as the data is).
type segRow struct {
	index   int
	time    int64 // unix ms
	client  int   // table position
	ids     [numDictCols]int64
	name    []byte
	qtype   uint16
	rule    int // table position
	rcode   int64
	latency int64 // µs
	count   int64
}

// The dictionary columns, in their order in segRow.ids and the encoding.
const (
	colDevice = iota
	colProfile
	colProto
	colDecision
	colCategory
	colCache
	colUpstream
	numDictCols
)

// segEncoder builds a segment's data. Only one goroutine uses one; its
// buffers and map are kept from segment to segment.
type segEncoder struct {
	buf      []byte
	body     []byte
	table    map[string]int
	tableLst []string
	rows     int
	lastIdx  int
	lastTime int64
}

func newSegEncoder() *segEncoder {
	return &segEncoder{table: make(map[string]int)}
}

// reset starts a new segment.
func (e *segEncoder) reset() {
	e.body = e.body[:0]
	clear(e.table)
	clear(e.tableLst)
	e.tableLst = e.tableLst[:0]
	e.rows, e.lastIdx, e.lastTime = 0, -1, 0
}

// intern returns s's position in the segment's table, adding it if new.
func (e *segEncoder) intern(s string) int {
	if i, ok := e.table[s]; ok {
		return i
	}
	i := len(e.tableLst)
	e.table[s] = i
	e.tableLst = append(e.tableLst, s)
	return i
}

// internBytes is intern for a byte slice; it allocates only for a new
// value.
func (e *segEncoder) internBytes(b []byte) int {
	if i, ok := e.table[string(b)]; ok {
		return i
	}
	return e.intern(string(b))
}

// add appends r, named name. client and rule are the table values r's
// positions stand for (r.name, r.client and r.rule are ignored): the
// client's binary form (addrBytes) and the rule's text. r.index must
// exceed the previous row's.
func (e *segEncoder) add(r *segRow, name string, client []byte, rule string) {
	b := e.body
	b = binary.AppendUvarint(b, uint64(r.index-e.lastIdx-1))
	b = binary.AppendVarint(b, r.time-e.lastTime)
	b = binary.AppendUvarint(b, uint64(e.internBytes(client)))
	for _, id := range r.ids {
		b = binary.AppendUvarint(b, uint64(id))
	}
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(r.qtype))
	b = binary.AppendUvarint(b, uint64(e.intern(rule)))
	b = binary.AppendVarint(b, r.rcode)
	b = binary.AppendVarint(b, r.latency)
	b = binary.AppendUvarint(b, uint64(r.count))
	e.body = b
	e.lastIdx, e.lastTime = r.index, r.time
	e.rows++
}

// data returns the encoded segment, valid until the next reset.
func (e *segEncoder) data() []byte {
	b := append(e.buf[:0], segVersion)
	b = binary.AppendUvarint(b, uint64(e.rows))
	b = binary.AppendUvarint(b, uint64(len(e.tableLst)))
	for _, s := range e.tableLst {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, e.body...)
	e.buf = b
	return b
}

// addrBytes is the table form of a client address: its binary form, empty
// for none.
func addrBytes(a netip.Addr, scratch []byte) []byte {
	if !a.IsValid() {
		return scratch[:0]
	}
	b, _ := a.AppendBinary(scratch[:0]) // never fails
	return b
}

// segment is a decoded segment. Its rows and table alias the data it was
// decoded from.
type segment struct {
	id    int64
	rows  []segRow
	table [][]byte
	data  []byte // readSegment's copy of the stored data
}

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("querylog: corrupt segment")

// reader reads varints from a segment, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	// Most values take one byte: ids, positions, deltas of one, counts.
	if len(r.b) > 0 && r.b[0] < 0x80 {
		v := uint64(r.b[0])
		r.b = r.b[1:]
		return v
	}
	return r.uvarintSlow()
}

func (r *reader) uvarintSlow() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1) // zigzag, as binary.Varint
}

// bytes reads a length and that many bytes.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decodeSegment decodes data into s, reusing s's slices. It returns an
// error, never panics, on data it did not write.
func decodeSegment(s *segment, data []byte) error {
	s.rows, s.table = s.rows[:0], s.table[:0]
	if len(data) == 0 || data[0] != segVersion {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	r := reader{b: data[1:]}
	nrows := r.uvarint()
	ntable := r.uvarint()
	// Every row takes at least 16 bytes and every table entry one: a count
	// beyond what the data can hold is corrupt, not a reason to allocate.
	if r.err != nil || nrows > maxSegmentRows || ntable > uint64(len(r.b)) {
		return fmt.Errorf("%w: bad counts", errCorrupt)
	}
	for range ntable {
		s.table = append(s.table, r.bytes())
	}
	if nrows*16 > uint64(len(r.b)) {
		return fmt.Errorf("%w: bad row count", errCorrupt)
	}
	idx, t := -1, int64(0)
	for range nrows {
		var row segRow
		d := r.uvarint()
		if d >= maxSegmentRows {
			r.err = errCorrupt
			break
		}
		idx += int(d) + 1
		t += r.varint()
		row.index, row.time = idx, t
		row.client = int(min(r.uvarint(), uint64(len(s.table))))
		for i := range row.ids {
			row.ids[i] = int64(r.uvarint() & (1<<62 - 1))
		}
		row.name = r.bytes()
		row.qtype = uint16(r.uvarint())
		row.rule = int(min(r.uvarint(), uint64(len(s.table))))
		row.rcode = r.varint()
		row.latency = r.varint()
		row.count = int64(r.uvarint() & (1<<62 - 1))
		if r.err != nil {
			break
		}
		if idx >= maxSegmentRows || row.client >= len(s.table) || row.rule >= len(s.table) {
			r.err = errCorrupt
			break
		}
		s.rows = append(s.rows, row)
	}
	if r.err != nil || len(r.b) != 0 {
		s.rows = s.rows[:0]
		return fmt.Errorf("%w: bad row", errCorrupt)
	}
	return nil
}

// clientOf is the address of table entry i.
func (s *segment) clientOf(i int) netip.Addr {
	var a netip.Addr
	if b := s.table[i]; len(b) > 0 {
		if err := a.UnmarshalBinary(b); err != nil {
			return netip.Addr{} // a bad address reads as none
		}
	}
	return a
}
