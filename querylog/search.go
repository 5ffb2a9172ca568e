package querylog

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Page sizes for Search.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects rows for Search. Empty fields match everything; set fields
// must all match.
type Filter struct {
	Device   string
	Profile  string
	Client   string // an address; with Options.Anonymize, matches its truncated form
	Name     string // substring of the question name
	Decision string
	Category string
	From, To time.Time // From inclusive, To exclusive; zero means open
	Limit    int       // rows per page: default DefaultLimit, at most MaxLimit
	// Before is the cursor: only rows with ID < Before (0 = from the
	// newest). A row's ID is its segment's id << 16 | its index in the
	// segment, so IDs follow insertion and stay valid while segments are
	// added, rewritten or deleted.
	Before int64
}

// matcher is a Filter resolved against the dictionary and the stored
// forms: ids instead of strings (-1 for a field not set), the client's
// binary form, the name's stored form, times as unix ms.
type matcher struct {
	ids      [numDictCols]int64
	client   []byte
	anyAddr  bool // client not set
	name     []byte
	from, to int64
	before   int64 // 0: none
}

// matcher resolves f. none is true when f names a value never logged, so
// that nothing can match.
func (l *Log) matcher(ctx context.Context, f Filter) (m matcher, none bool, err error) {
	for i := range m.ids {
		m.ids[i] = -1
	}
	for _, c := range []struct {
		col int
		v   string
	}{{colDevice, f.Device}, {colProfile, f.Profile}, {colDecision, f.Decision}, {colCategory, f.Category}} {
		if c.v == "" {
			continue
		}
		id, ok, err := l.names.id(ctx, l.rdb, c.v)
		if err != nil || !ok {
			return m, true, err
		}
		m.ids[c.col] = id
	}
	m.anyAddr = f.Client == ""
	if !m.anyAddr {
		a, err := netip.ParseAddr(f.Client)
		if err != nil {
			return m, true, fmt.Errorf("querylog: client filter: %w", err)
		}
		m.client = addrBytes(storedAddr(a, l.opt.Anonymize), nil)
	}
	if f.Name != "" {
		m.name = []byte(normalName(f.Name))
	}
	m.from, m.to = math.MinInt64, math.MaxInt64
	if !f.From.IsZero() {
		m.from = f.From.UnixMilli()
	}
	if !f.To.IsZero() {
		m.to = f.To.UnixMilli()
	}
	m.before = max(f.Before, 0)
	return m, false, nil
}

// maybe reports whether a segment with summary entries es may hold a
// matching row.
func (m *matcher) maybe(es []sumEntry) bool {
	for i := range es {
		e := &es[i]
		if (m.ids[colDevice] < 0 || e.device == m.ids[colDevice]) &&
			(m.ids[colProfile] < 0 || e.profile == m.ids[colProfile]) &&
			(m.ids[colDecision] < 0 || e.decision == m.ids[colDecision]) &&
			(m.ids[colCategory] < 0 || e.category == m.ids[colCategory]) &&
			e.slot >= slotOf(m.from) && e.slot <= slotOf(m.to) {
			return true
		}
	}
	return false
}

// match reports whether row r of s matches.
func (m *matcher) match(s *segment, r *segRow) bool {
	if r.time < m.from || r.time >= m.to {
		return false
	}
	for c, id := range m.ids {
		if id >= 0 && r.ids[c] != id {
			return false
		}
	}
	if !m.anyAddr && !bytes.Equal(s.table[r.client], m.client) {
		return false
	}
	return m.name == nil || bytes.Contains(r.name, m.name)
}

// Search returns the rows matching f, newest first, and the cursor for the
// next page (pass it as Filter.Before), 0 when there are no more.
//
// It walks the segments newest first, skips those whose summary rules
// them out (device, profile, decision, category, time), decodes the others
// and filters their rows, until it has a page.
func (l *Log) Search(ctx context.Context, f Filter) (rows []Row, next int64, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	m, none, err := l.matcher(ctx, f)
	if err != nil || none {
		return nil, 0, err
	}
	below := int64(math.MaxInt64) // segments with a smaller id are left
	if m.before > 0 {
		seg, i := splitID(m.before)
		below = seg
		if i > 0 {
			below++ // the cursor's segment still has rows before it
		}
	}
	rows = make([]Row, 0, min(limit+1, 64))
	var (
		metas []segMeta
		sums  []sumEntry
	)
	s := l.getSegment()
	defer l.putSegment(s)
	// One row more than asked says whether another page exists.
	for chunk := 16; len(rows) <= limit; chunk = min(2*chunk, 1024) {
		metas, err = l.segmentsBelow(ctx, below, m.from, m.to, chunk)
		if err != nil {
			return nil, 0, fmt.Errorf("querylog: search: %w", err)
		}
		if len(metas) == 0 {
			break
		}
		for _, meta := range metas {
			below = meta.id
			if len(rows) > limit {
				break
			}
			if sums, err = decodeSummary(sums[:0], meta.summary); err != nil {
				return nil, 0, fmt.Errorf("querylog: search: segment %d: %w", meta.id, err)
			}
			if !m.maybe(sums) {
				continue
			}
			ok, err := l.readSegmentIf(ctx, l.rdb, meta.id, s, m.mayHold)
			if err != nil {
				return nil, 0, fmt.Errorf("querylog: search: %w", err)
			}
			if !ok {
				continue // deleted since, or ruled out by mayHold
			}
			if rows, err = l.appendMatches(ctx, rows, s, &m, limit+1); err != nil {
				return nil, 0, err
			}
		}
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	return rows, next, nil
}

// appendMatches appends s's matching rows, newest first, until rows holds
// n.
func (l *Log) appendMatches(ctx context.Context, rows []Row, s *segment, m *matcher, n int) ([]Row, error) {
	var texts [numDictCols]string
	for i := len(s.rows) - 1; i >= 0 && len(rows) < n; i-- {
		r := &s.rows[i]
		id := rowID(s.id, r.index)
		if m.before > 0 && id >= m.before || !m.match(s, r) {
			continue
		}
		if err := l.names.texts(ctx, l.rdb, r.ids[:], texts[:]); err != nil {
			return rows, fmt.Errorf("querylog: search: %w", err)
		}
		rows = append(rows, Row{ID: id, Count: int(r.count), Entry: Entry{
			Time: time.UnixMilli(r.time), Client: s.clientOf(r.client),
			Device: texts[colDevice], Profile: texts[colProfile], Name: string(r.name),
			Type: r.qtype, Proto: texts[colProto], Decision: texts[colDecision],
			Category: texts[colCategory], Rule: string(s.table[r.rule]), Cache: texts[colCache],
			Upstream: texts[colUpstream], Rcode: int(r.rcode),
			Latency: time.Duration(r.latency) * time.Microsecond,
		}})
	}
	return rows, nil
}

// segMeta is a segment's row without its data.
type segMeta struct {
	id, tmin, tmax, queries int64
	summary                 []byte
}

// segmentsBelow returns the (at most n) segments with an id below
// below that may hold rows in [from, to), by id descending. It walks the
// primary key: the time bounds only filter (+ keeps SQLite from using the
// time index, which would lose the order).
func (l *Log) segmentsBelow(ctx context.Context, below, from, to int64, n int) ([]segMeta, error) {
	return scanMetas(l.rdb.QueryContext(ctx, segmentsBelowSQL, below, from, to, n))
}

// The queries for segments (plan_test.go checks which index each uses).
const (
	segmentsBelowSQL = `SELECT id, time_min, time_max, queries, summary
		FROM segments WHERE id < ? AND +time_max >= ? AND +time_min < ? ORDER BY id DESC LIMIT ?`
	segmentsInSQL = `SELECT id, time_min, time_max, queries, summary
		FROM segments WHERE time_max >= ? AND time_min < ?`
	segmentDataSQL = `SELECT data FROM segments WHERE id = ?`
	deleteOldSQL   = `DELETE FROM segments WHERE id IN
		(SELECT id FROM segments WHERE time_max < ? LIMIT 64) RETURNING queries`
)

// scanMetas reads the rows of a query for segMeta's columns.
func scanMetas(res *sql.Rows, err error) ([]segMeta, error) {
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []segMeta
	for res.Next() {
		var m segMeta
		if err := res.Scan(&m.id, &m.tmin, &m.tmax, &m.queries, &m.summary); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, res.Err()
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// mayHold reports whether segment data may hold a matching row, before
// it is decoded. A name and a client address are stored as their bytes
// (segment.go), so a segment whose data does not contain the bytes sought
// holds no match: a search for a rare name skips most segments at the
// speed of bytes.Contains instead of decoding them.
func (m *matcher) mayHold(data []byte) bool {
	return (m.name == nil || bytes.Contains(data, m.name)) &&
		(m.anyAddr || len(m.client) == 0 || bytes.Contains(data, m.client))
}

// readSegment reads and decodes segment id into s, reusing s's memory;
// false if there is none.
func (l *Log) readSegment(ctx context.Context, q querier, id int64, s *segment) (bool, error) {
	return l.readSegmentIf(ctx, q, id, s, nil)
}

// readSegmentIf is readSegment, but reports false without decoding when
// want (if set) rules the segment's data out.
func (l *Log) readSegmentIf(ctx context.Context, q querier, id int64, s *segment, want func([]byte) bool) (bool, error) {
	res, err := q.QueryContext(ctx, segmentDataSQL, id)
	if err != nil {
		return false, fmt.Errorf("segment %d: %w", id, err)
	}
	defer res.Close()
	if !res.Next() {
		if err := res.Err(); err != nil {
			return false, fmt.Errorf("segment %d: %w", id, err)
		}
		return false, nil // deleted since
	}
	// RawBytes is the driver's memory, valid until Next: copied into the
	// segment's buffer rather than allocated anew for each segment.
	var raw sql.RawBytes
	if err := res.Scan(&raw); err != nil {
		return false, fmt.Errorf("segment %d: %w", id, err)
	}
	if want != nil && !want(raw) {
		return false, nil
	}
	s.data = append(s.data[:0], raw...)
	if err := decodeSegment(s, s.data); err != nil {
		return false, fmt.Errorf("segment %d: %w", id, err)
	}
	s.id = id
	return true, nil
}

// getSegment takes a segment from the pool of decoded segments: a segment
// of 8192 rows decodes into about 1.5 MB, which would otherwise be
// garbage after every search.
func (l *Log) getSegment() *segment {
	if s, ok := l.segs.Get().(*segment); ok {
		return s
	}
	return new(segment)
}

// putSegment returns s to the pool.
func (l *Log) putSegment(s *segment) {
	clear(s.rows) // drop no references, but keep the memory
	l.segs.Put(s)
}
