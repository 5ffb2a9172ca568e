package querylog

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestQueryPlans guards the indexes: each query for segments must be
// answered from the index it was written for, not by scanning the table.
func TestQueryPlans(t *testing.T) {
	l := openTest(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name  string
		query string
		args  []any
		index string
	}{
		{"search walks ids", segmentsBelowSQL, []any{500, 0, 1, 16}, "INTEGER PRIMARY KEY (rowid<?)"},
		{"stats by time", segmentsInSQL, []any{0, 1}, "segments_time_max (time_max>?)"},
		{"data by id", segmentDataSQL, []any{1}, "INTEGER PRIMARY KEY (rowid=?)"},
		{"prune by time", deleteOldSQL, []any{0}, "segments_time_max (time_max<?)"},
	}
	if !strings.Contains(deleteOldSQL, fmt.Sprintf("LIMIT %d)", deleteSegments)) {
		t.Errorf("deleteOldSQL does not delete deleteSegments (%d) at a time: %s", deleteSegments, deleteOldSQL)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := l.wdb.QueryContext(ctx, `EXPLAIN QUERY PLAN `+tt.query, tt.args...)
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
