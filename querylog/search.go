package querylog

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
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
	Before   int64     // cursor: only rows with ID < Before (0 = from the newest)
}

// where builds the WHERE clause (starting with " WHERE", or empty) for the
// filter; values always travel as arguments, never as SQL text.
func (l *Log) where(f Filter) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	for _, c := range []struct{ col, v string }{
		{"device", f.Device}, {"profile", f.Profile},
		{"decision", f.Decision}, {"category", f.Category},
	} {
		if c.v != "" {
			add(c.col+" = "+strID, c.v)
		}
	}
	if f.Client != "" {
		a, err := netip.ParseAddr(f.Client)
		if err != nil {
			return "", nil, fmt.Errorf("querylog: client filter: %w", err)
		}
		add("client = ?", l.clientText(a))
	}
	if f.Name != "" {
		add("instr(name, ?) > 0", normalName(f.Name))
	}
	if !f.From.IsZero() {
		add("time >= ?", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("time < ?", f.To.UnixMilli())
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// Search returns the rows matching f, newest first, and the cursor for the
// next page (pass it as Filter.Before), 0 when there are no more.
func (l *Log) Search(ctx context.Context, f Filter) (rows []Row, next int64, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	where, args, err := l.where(f)
	if err != nil {
		return nil, 0, err
	}
	// Ids become text in the outer query, so only for the page's rows, not
	// for every row a sort by id goes through. (LEFT JOIN keeps the page as
	// the outer loop.)
	q := `SELECT q.id, q.time, q.client, d.s, p.s, q.name, q.qtype, pr.s, de.s,
		ca.s, q.rule, c.s, u.s, q.rcode, q.latency_us, q.count
		FROM (SELECT * FROM queries` + where + ` ORDER BY id DESC LIMIT ?) q
		LEFT JOIN strings d ON d.id = q.device LEFT JOIN strings p ON p.id = q.profile
		LEFT JOIN strings pr ON pr.id = q.proto LEFT JOIN strings de ON de.id = q.decision
		LEFT JOIN strings ca ON ca.id = q.category LEFT JOIN strings c ON c.id = q.cache
		LEFT JOIN strings u ON u.id = q.upstream
		ORDER BY q.id DESC`
	// One row more than asked says whether another page exists.
	res, err := l.rdb.QueryContext(ctx, q, append(args, limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("querylog: search: %w", err)
	}
	defer res.Close()
	rows = make([]Row, 0, min(limit+1, 64))
	for res.Next() {
		var r Row
		var ms, lat, qtype, rcode int64
		var client string
		if err := res.Scan(&r.ID, &ms, &client, &r.Device, &r.Profile, &r.Name,
			&qtype, &r.Proto, &r.Decision, &r.Category, &r.Rule, &r.Cache,
			&r.Upstream, &rcode, &lat, &r.Count); err != nil {
			return nil, 0, fmt.Errorf("querylog: search: %w", err)
		}
		r.Time = time.UnixMilli(ms)
		if client != "" {
			// Written by us from a netip.Addr; a bad value reads as none.
			r.Client, _ = netip.ParseAddr(client)
		}
		r.Type, r.Rcode = uint16(qtype), int(rcode)
		r.Latency = time.Duration(lat) * time.Microsecond
		rows = append(rows, r)
	}
	if err := res.Err(); err != nil {
		return nil, 0, fmt.Errorf("querylog: search: %w", err)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	return rows, next, nil
}
