package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// names is the readers' copy of the strings table (dict.go): segments
// hold ids, Search returns text, and filters look ids up. The table only
// grows and rows never change, so the copy is refreshed with the rows it
// has not seen, when it meets an id or string it does not know.
type names struct {
	mu   sync.Mutex
	text map[int64]string
	ids  map[string]int64
	max  int64 // the largest id loaded
}

func newNames() *names {
	return &names{text: make(map[int64]string), ids: make(map[string]int64)}
}

// load reads the rows added since the last load. n.mu is held.
func (n *names) load(ctx context.Context, db *sql.DB) error {
	res, err := db.QueryContext(ctx, `SELECT id, s FROM strings WHERE id > ? ORDER BY id`, n.max)
	if err != nil {
		return fmt.Errorf("querylog: strings: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var id int64
		var s string
		if err := res.Scan(&id, &s); err != nil {
			return fmt.Errorf("querylog: strings: %w", err)
		}
		n.text[id], n.ids[s] = s, id
		n.max = max(n.max, id)
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("querylog: strings: %w", err)
	}
	return nil
}

// id returns the id of s, and false if s was never logged.
func (n *names) id(ctx context.Context, db *sql.DB, s string) (int64, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if id, ok := n.ids[s]; ok {
		return id, true, nil
	}
	if err := n.load(ctx, db); err != nil {
		return 0, false, err
	}
	id, ok := n.ids[s]
	return id, ok, nil
}

// texts sets out[i] to the text of ids[i]: "" for an id the table does not
// hold (only a corrupt segment has one).
func (n *names) texts(ctx context.Context, db *sql.DB, ids []int64, out []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	loaded := false
	for i, id := range ids {
		s, ok := n.text[id]
		if !ok && !loaded {
			if err := n.load(ctx, db); err != nil {
				return err
			}
			loaded = true
			s = n.text[id]
		}
		out[i] = s
	}
	return nil
}
