package querylog

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// boomTrigger makes the insert of any segment holding "boom" (say, as a
// rule) fail, as a full disk would.
const boomTrigger = `CREATE TRIGGER boom BEFORE INSERT ON segments
	WHEN instr(NEW.data, CAST('boom' AS BLOB)) > 0 BEGIN SELECT RAISE(ABORT, 'boom'); END`

// strID is the SQL expression for the id of the string bound to the next
// parameter, for building old schema versions' rows.
const strID = `(SELECT id FROM strings WHERE s = ?)`

// storedRow is a row as it is on disk, with its segment's id.
type storedRow struct {
	seg    int64
	client netip.Addr
	rule   string
	segRow
}

// storedRows decodes every segment of l, oldest first.
func storedRows(tb testing.TB, l *Log) []storedRow {
	tb.Helper()
	ctx := context.Background()
	res, err := l.rdb.QueryContext(ctx, `SELECT id FROM segments ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []int64
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	res.Close()
	var out []storedRow
	for _, id := range ids {
		var s segment
		if ok, err := l.readSegment(ctx, l.rdb, id, &s); err != nil || !ok {
			tb.Fatalf("segment %d: %v, %v", id, ok, err)
		}
		for _, r := range s.rows {
			out = append(out, storedRow{seg: id, client: s.clientOf(r.client), rule: string(s.table[r.rule]), segRow: r})
		}
	}
	return out
}

// testRow is a row to encode: a segRow and the values behind its table
// positions.
type testRow struct {
	segRow
	client netip.Addr
	name   string
	rule   string
}

// encodeRows encodes rows as a segment.
func encodeRows(rows []testRow) []byte {
	e := newSegEncoder()
	e.reset()
	var addr []byte
	for i := range rows {
		addr = addrBytes(rows[i].client, addr)
		e.add(&rows[i].segRow, rows[i].name, addr, rows[i].rule)
	}
	return slices.Clone(e.data())
}

// checkRoundTrip decodes data and compares it with rows.
func checkRoundTrip(t *testing.T, rows []testRow, data []byte) {
	t.Helper()
	var s segment
	if err := decodeSegment(&s, data); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(s.rows) != len(rows) {
		t.Fatalf("decoded %d rows, want %d", len(s.rows), len(rows))
	}
	for i, got := range s.rows {
		want := rows[i]
		if s.clientOf(got.client) != want.client || string(got.name) != want.name ||
			string(s.table[got.rule]) != want.rule {
			t.Errorf("row %d: client %v name %q rule %q, want %v %q %q", i,
				s.clientOf(got.client), got.name, s.table[got.rule], want.client, want.name, want.rule)
		}
		got.client, got.rule, got.name = 0, 0, nil
		want.segRow.client, want.segRow.rule, want.segRow.name = 0, 0, nil
		if got.index != want.index || got.time != want.time || got.ids != want.ids || got.qtype != want.qtype ||
			got.rcode != want.rcode || got.latency != want.latency || got.count != want.count {
			t.Errorf("row %d = %+v, want %+v", i, got, want.segRow)
		}
	}
}

func TestSegmentRoundTrip(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.168.1.0"), netip.MustParseAddr("fe80::1%eth0")
	full := testRow{segRow: segRow{index: 0, time: 1741564800123, ids: [numDictCols]int64{1, 2, 3, 4, 5, 6, 7},
		qtype: 65535, rcode: 3, latency: 12000, count: 1}, client: v4, name: "ads.example.com", rule: "||example.com^"}
	at := func(r testRow, index int, time int64) testRow {
		r.index, r.time = index, time
		return r
	}
	tests := []struct {
		name string
		rows []testRow
	}{
		{"empty", nil},
		{"one row", []testRow{full}},
		{"no client, no name, no rule", []testRow{{segRow: segRow{count: 1}}}},
		{"IPv6 with zone and IPv4", []testRow{{client: v6, segRow: segRow{count: 2}}, at(full, 1, full.time)}},
		{"index gaps, as after a delete", []testRow{at(full, 3, 10), at(full, 4, 20), at(full, 900, 30), at(full, maxSegmentRows-1, 40)}},
		{"times out of order and before 1970", []testRow{at(full, 0, 5000), at(full, 1, 4000), at(full, 2, -86400000)}},
		{"extremes", []testRow{{segRow: segRow{ids: [numDictCols]int64{1 << 40}, rcode: -1, latency: -5,
			count: 1 << 40, time: 1 << 50}, name: strings.Repeat("a", 300), rule: strings.Repeat("r", 5000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRoundTrip(t, tt.rows, encodeRows(tt.rows))
		})
	}
}

func TestDecodeSegmentCorrupt(t *testing.T) {
	rows := []testRow{
		{segRow: segRow{index: 0, time: 1000, count: 1}, name: "a.example", rule: "r"},
		{segRow: segRow{index: 1, time: 2000, count: 3}, name: "b.example", client: netip.MustParseAddr("10.0.0.0")},
	}
	good := encodeRows(rows)
	var s segment
	// Every truncation of a good segment is an error, never a panic or a
	// shorter segment.
	for n := range len(good) {
		if err := decodeSegment(&s, good[:n]); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of the first %d of %d bytes = %v, want errCorrupt", n, len(good), err)
		}
	}
	for name, data := range map[string][]byte{
		"version 2":      append([]byte{2}, good[1:]...),
		"trailing byte":  append(slices.Clone(good), 0),
		"huge row count": {segVersion, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		// One row, an empty table, the row's client at position 5.
		"client past the table": {segVersion, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	} {
		if err := decodeSegment(&s, data); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v, want errCorrupt", name, err)
		}
	}
}

func FuzzDecodeSegment(f *testing.F) {
	f.Add(encodeRows(nil))
	f.Add(encodeRows([]testRow{{segRow: segRow{index: 2, time: 1 << 40, count: 5, ids: [numDictCols]int64{1, 2, 3}},
		name: "x.example", rule: "||x^", client: netip.MustParseAddr("2001:db8::")}}))
	f.Add([]byte{segVersion, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s segment
		if err := decodeSegment(&s, data); err != nil {
			return
		}
		// What decodes re-encodes to a segment that decodes the same.
		rows := make([]testRow, len(s.rows))
		for i, r := range s.rows {
			rows[i] = testRow{segRow: r, client: s.clientOf(r.client), name: string(r.name), rule: string(s.table[r.rule])}
		}
		var s2 segment
		if err := decodeSegment(&s2, encodeRows(rows)); err != nil || len(s2.rows) != len(s.rows) {
			t.Fatalf("re-encoded segment: %d rows, %v; want %d", len(s2.rows), err, len(s.rows))
		}
		for i := range s.rows {
			a, b := s.rows[i], s2.rows[i]
			if a.index != b.index || a.time != b.time || a.ids != b.ids || !bytes.Equal(a.name, b.name) ||
				a.count != b.count || string(s.table[a.rule]) != string(s2.table[b.rule]) {
				t.Fatalf("row %d: %+v, re-encoded %+v", i, a, b)
			}
		}
	})
}

func TestSummaryRoundTrip(t *testing.T) {
	s := newSummarizer()
	rows := []segRow{
		{time: 0, ids: [numDictCols]int64{colDevice: 1, colDecision: 2}, count: 3},
		{time: slotMS - 1, ids: [numDictCols]int64{colDevice: 1, colDecision: 2}, count: 1},                // same slot
		{time: -1, ids: [numDictCols]int64{colDevice: 1, colDecision: 2}, count: 1},                        // slot -1
		{time: 5 * slotMS, ids: [numDictCols]int64{colDevice: 9, colCategory: 4, colProfile: 5}, count: 2}, // later
	}
	for i := range rows {
		s.add(&rows[i])
	}
	got, err := decodeSummary(nil, s.data())
	if err != nil {
		t.Fatal(err)
	}
	want := []sumEntry{
		{sumKey{slot: 0, device: 1, decision: 2}, 4},
		{sumKey{slot: -1, device: 1, decision: 2}, 1},
		{sumKey{slot: 5, device: 9, profile: 5, category: 4}, 2},
	}
	if !slices.Equal(got, want) {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
	data := s.data()
	for n := range len(data) {
		if _, err := decodeSummary(nil, data[:n]); err == nil {
			t.Errorf("decode of the first %d of %d bytes: no error", n, len(data))
		}
	}
}

// BenchmarkDecodeSegment decodes a segment of DefaultBatchSize typical
// rows (benchEntry's); it reports the encoded size per row.
func BenchmarkDecodeSegment(b *testing.B) {
	rows := make([]testRow, DefaultBatchSize)
	for i := range rows {
		e := benchEntry(i)
		rows[i] = testRow{segRow: segRow{index: i, time: e.Time.UnixMilli(), qtype: e.Type,
			ids:     [numDictCols]int64{int64(i%5 + 1), 6, 7, int64(i%7%3 + 8), 11, 12, 13},
			latency: e.Latency.Microseconds(), count: 1}, client: e.Client, name: e.Name, rule: e.Rule}
	}
	data := encodeRows(rows)
	var s segment
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeSegment(&s, data); err != nil || len(s.rows) != len(rows) {
			b.Fatalf("decode: %d rows, %v", len(s.rows), err)
		}
	}
	b.ReportMetric(float64(len(data))/float64(len(rows)), "bytes/row")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rows)), "ns/row")
}
