package querylog

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"time"
)

// Devices and apps ask the same names again and again (a page load asks a
// dozen names twice, a busy client the same few thousand names many times
// a second), and every row costs the writer CPU time and the file space. So
// the writer collapses repeats: entries that are the same in everything
// but Time and Latency, close together in time and in the same batch,
// become one row with a count. The row's time is the earliest of its
// queries, its latency the largest (see README.md, "Collapsing").

// rowKey is what two entries must share to become one row: every field
// but Time and Latency, in the form it is stored in (the client truncated
// when anonymising, the name lower case without its dot).
type rowKey struct {
	client   netip.Addr
	device   string
	profile  string
	name     string
	proto    string
	decision string
	category string
	rule     string
	cache    string
	upstream string
	rcode    int
	qtype    uint16
}

// row is one row to be written.
type row struct {
	rowKey
	time    time.Time     // the earliest of its queries
	latency time.Duration // the largest of its queries'
	count   int           // queries it stands for
	first   time.Time     // Time of the query that started it: the window's anchor
}

// batch gathers the writer's rows until they are written. Only the writer
// goroutine uses it. Its slice and map are kept from batch to batch, so in
// steady state adding an entry allocates nothing.
//
// The map is keyed by a hash of the rowKey (of its fields that differ most,
// see hash), not by the rowKey itself: a key over 128 bytes is stored out
// of line, one allocation per new row. Two keys sharing a hash cost only
// collapsing: the second starts a row of its own.
type batch struct {
	rows    []row
	index   map[uint64]int32 // the row a key's next query joins, by key hash
	seed    maphash.Seed
	queries int // entries taken, len(rows) or more
	limit   int // rows before the batch is full
	// window is how far apart in time two queries of one row may be; 0
	// turns collapsing off.
	window    time.Duration
	anonymize bool
}

func newBatch(limit int, window time.Duration, anonymize bool) *batch {
	// The slice and map grow with the load, not to limit up front: a quiet
	// network's batches hold a few dozen rows.
	b := &batch{limit: limit, window: max(window, 0), anonymize: anonymize}
	if b.window > 0 {
		b.index = make(map[uint64]int32)
		b.seed = maphash.MakeSeed()
	}
	return b
}

// add takes e into the batch, as a new row or by joining the row of an
// identical query less than the window away from that row's first query.
// It reports whether the batch is now full.
func (b *batch) add(e *Entry) bool {
	b.queries++
	k := rowKey{
		client: storedAddr(e.Client, b.anonymize), device: e.Device, profile: e.Profile,
		name: normalName(e.Name), proto: e.Proto, decision: e.Decision, category: e.Category,
		rule: e.Rule, cache: e.Cache, upstream: e.Upstream, rcode: e.Rcode, qtype: e.Type,
	}
	if b.window == 0 {
		b.push(&k, e)
		return len(b.rows) >= b.limit
	}
	h := b.hash(&k)
	if i, ok := b.index[h]; ok {
		r := &b.rows[i]
		if d := e.Time.Sub(r.first); d < b.window && d > -b.window && r.rowKey == k {
			r.count++
			// Concurrent Adds may queue a query a little ahead of an
			// earlier one.
			if e.Time.Before(r.time) {
				r.time = e.Time
			}
			r.latency = max(r.latency, e.Latency)
			return false
		}
	}
	// New, or too far from the key's row: later queries join this one.
	b.index[h] = int32(len(b.rows))
	b.push(&k, e)
	return len(b.rows) >= b.limit
}

// hash hashes what tells most rows apart: name, client, device (DoH
// clients behind one address), type and rcode. Keys equal in those and
// different elsewhere (another decision for the same name when a pause
// starts) share a hash, which costs no more than a collision: add compares
// the whole key. Hashing the whole key, its ten strings mostly the same
// from row to row, took 180 ns a query against 120 (BenchmarkBatchAdd),
// more than the row it saved cost to write.
func (b *batch) hash(k *rowKey) uint64 {
	a := k.client.As16()
	h := maphash.String(b.seed, k.name)
	h ^= maphash.String(b.seed, k.device) * 0x94d049bb133111eb
	h ^= binary.LittleEndian.Uint64(a[:8]) * 0x9e3779b97f4a7c15
	h ^= binary.LittleEndian.Uint64(a[8:]) * 0xff51afd7ed558ccd
	h ^= (uint64(k.qtype)<<32 | uint64(uint32(k.rcode))) * 0xc4ceb9fe1a85ec53
	return h ^ h>>31
}

// push appends e, with key k, as a row of its own.
func (b *batch) push(k *rowKey, e *Entry) {
	b.rows = append(b.rows, row{rowKey: *k, time: e.Time, latency: e.Latency, count: 1, first: e.Time})
}

// reset empties the batch for the next one, dropping its references to the
// entries' strings but keeping its memory.
func (b *batch) reset() {
	clear(b.rows)
	b.rows = b.rows[:0]
	clear(b.index)
	b.queries = 0
}
