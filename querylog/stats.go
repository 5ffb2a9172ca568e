package querylog

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Bucket is the width of a statistics interval.
type Bucket string

// Buckets Stats can group by.
const (
	Hour Bucket = "hour"
	Day  Bucket = "day"
)

// Stat counts the queries (not rows: a row counts as many queries as it
// stands for) of one bucket, for one value of the grouping
// column (Key; "" when not grouped, or for rows with no value).
type Stat struct {
	Start   time.Time // the bucket's start, in the location of Stats' from
	Key     string
	Total   int
	Blocked int
}

// Count is how often a name was asked: queries, not rows.
type Count struct {
	Name string
	N    int
}

// groupCol maps Stats' by argument to the column to group by and the
// expression of its text; only these ever reach the SQL text.
func groupCol(by string) (col, text string, ok bool) {
	switch by {
	case "":
		return "0", "''", true
	case "device", "profile", "category":
		return by, strOf("k"), true
	}
	return "", "", false
}

// isBlocked is true (1) for the rows decided "blocked", false (0) for the
// others, never NULL: IS, not =, for when nothing was ever blocked.
const isBlocked = `decision IS (SELECT id FROM strings WHERE s = 'blocked')`

// slotMS is the granularity SQLite groups by before buckets are formed in
// Go. Every time zone in use is offset from UTC by a multiple of 15 minutes,
// so a slot never straddles a local hour or day boundary.
const slotMS = 15 * 60 * 1000

// Stats counts the queries in [from, to) per bucket and, when by is
// "device", "profile" or "category", per value of that column. Buckets are
// hours or days on the wall clock of from's location (so a day starts at
// local midnight and DST days have 23 or 25 hours). Only buckets with
// queries are returned, ordered by start, then key.
func (l *Log) Stats(ctx context.Context, from, to time.Time, bucket Bucket, by string) ([]Stat, error) {
	col, text, ok := groupCol(by)
	if !ok {
		return nil, fmt.Errorf("querylog: stats: cannot group by %q", by)
	}
	if bucket != Hour && bucket != Day {
		return nil, fmt.Errorf("querylog: stats: unknown bucket %q", bucket)
	}
	// Grouped by id; only the groups' ids are turned into text.
	q := `SELECT slot, ` + text + `, n, b FROM (
		SELECT time / ` + fmt.Sprint(slotMS) + ` AS slot, ` + col + ` AS k,
		SUM(count) AS n, SUM((` + isBlocked + `) * count) AS b FROM queries
		WHERE time >= ? AND time < ? GROUP BY slot, k)`
	res, err := l.rdb.QueryContext(ctx, q, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("querylog: stats: %w", err)
	}
	defer res.Close()

	type key struct {
		start int64 // unix ms
		k     string
	}
	sums := map[key]*Stat{}
	loc := from.Location()
	var lastSlot, lastStart int64 = -1, 0
	for res.Next() {
		var slot int64
		var k string
		var total, blocked int
		if err := res.Scan(&slot, &k, &total, &blocked); err != nil {
			return nil, fmt.Errorf("querylog: stats: %w", err)
		}
		// Rows come grouped by slot; compute each slot's bucket once.
		if slot != lastSlot {
			lastSlot = slot
			lastStart = bucketStart(time.UnixMilli(slot*slotMS).In(loc), bucket).UnixMilli()
		}
		s := sums[key{lastStart, k}]
		if s == nil {
			s = &Stat{Start: time.UnixMilli(lastStart).In(loc), Key: k}
			sums[key{lastStart, k}] = s
		}
		s.Total += total
		s.Blocked += blocked
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("querylog: stats: %w", err)
	}
	out := make([]Stat, 0, len(sums))
	for _, s := range sums {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// bucketStart is the start of t's hour or day on t's wall clock.
func bucketStart(t time.Time, b Bucket) time.Time {
	if b == Day {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	}
	// Subtracting the wall-clock minutes keeps half-hour zones and DST's
	// repeated hour right, which time.Date(…, h, 0, …) would not.
	return t.Add(-time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second -
		time.Duration(t.Nanosecond()))
}

// Top returns the n most asked names in [from, to) (default 10, at most
// MaxLimit), most asked first: those blocked when blocked is set, otherwise
// those not blocked; for one device, or all when device is "".
func (l *Log) Top(ctx context.Context, from, to time.Time, blocked bool, device string, n int) ([]Count, error) {
	if n <= 0 {
		n = 10
	}
	n = min(n, MaxLimit)
	cond := "NOT " + isBlocked
	if blocked {
		cond = isBlocked
	}
	q := `SELECT name, SUM(count) AS n FROM queries
		WHERE time >= ? AND time < ? AND ` + cond
	args := []any{from.UnixMilli(), to.UnixMilli()}
	if device != "" {
		q += ` AND device = ` + strID
		args = append(args, device)
	}
	q += ` GROUP BY name ORDER BY n DESC, name LIMIT ?`
	res, err := l.rdb.QueryContext(ctx, q, append(args, n)...)
	if err != nil {
		return nil, fmt.Errorf("querylog: top: %w", err)
	}
	defer res.Close()
	var out []Count
	for res.Next() {
		var c Count
		if err := res.Scan(&c.Name, &c.N); err != nil {
			return nil, fmt.Errorf("querylog: top: %w", err)
		}
		out = append(out, c)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("querylog: top: %w", err)
	}
	return out, nil
}
