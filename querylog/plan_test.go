package querylog

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestQueryPlans guards the indexes: each selective filter must be answered
// from its index, not by scanning the table.
func TestQueryPlans(t *testing.T) {
	l := openTest(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name  string
		f     Filter
		index string
	}{
		{"device", Filter{Device: "tv"}, "queries_device"},
		{"profile", Filter{Profile: "kids"}, "queries_profile"},
		{"decision", Filter{Decision: "blocked"}, "queries_decision"},
		{"time", Filter{From: t0, To: t0.Add(time.Hour)}, "queries_time"},
		{"cursor", Filter{Before: 500}, "PRIMARY KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			where, args, err := l.where(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := l.rdb.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT id FROM queries`+where+` ORDER BY id DESC LIMIT ?`, append(args, 101)...)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			var plan []string
			for rs.Next() {
				var id, parent, unused int
				var detail string
				if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if p := strings.Join(plan, "; "); !strings.Contains(p, tt.index) {
				t.Errorf("plan %q does not use %s", p, tt.index)
			}
		})
	}
}
