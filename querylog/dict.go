package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The few-valued text columns (device, profile, proto, decision, category,
// cache, upstream) hold ids into the strings table, which holds each
// distinct value once. An id costs the writer a map lookup where a string
// cost a C copy to bind, and makes rows and index entries a fraction of the
// size. Readers turn ids back into text with a copy of the table (names.go).
//
// Values come from the configuration (devices, profiles, upstreams,
// blocklist categories) and a handful of constants, so the table stays
// small; a value nobody uses any more keeps its row, which costs nothing.

// maxDictCache bounds the writer's cache of ids. Only a caller logging
// unbounded values (say, client addresses as device names) could reach it;
// the cache then starts over and refills from the table.
const maxDictCache = 10000

// dict is the writer's cache of string ids. Only the writer goroutine uses
// it, inside its transactions.
type dict struct {
	ids    map[string]int64
	upsert *sql.Stmt // returns the id of its string, adding it if new
}

func newDict(db *sql.DB) (*dict, error) {
	// DO UPDATE rather than DO NOTHING so that RETURNING also answers for
	// an existing row.
	st, err := db.Prepare(`INSERT INTO strings (s) VALUES (?)
		ON CONFLICT (s) DO UPDATE SET s = excluded.s RETURNING id`)
	if err != nil {
		return nil, fmt.Errorf("querylog: prepare dictionary: %w", err)
	}
	return &dict{ids: make(map[string]int64), upsert: st}, nil
}

// id returns the id of s, adding s to the table within tx if it is new.
// An id learnt in a transaction that then fails may not exist: after a
// failed write the caller must forget them all with reset.
func (d *dict) id(ctx context.Context, tx *sql.Tx, s string) (int64, error) {
	if id, ok := d.ids[s]; ok {
		return id, nil
	}
	var id int64
	if err := tx.StmtContext(ctx, d.upsert).QueryRowContext(ctx, s).Scan(&id); err != nil {
		return 0, fmt.Errorf("querylog: dictionary: %w", err)
	}
	if len(d.ids) >= maxDictCache {
		d.reset()
	}
	// A copy: s may be a slice of a larger string the cache must not pin.
	d.ids[strings.Clone(s)] = id
	return id, nil
}

// reset forgets every cached id.
func (d *dict) reset() { clear(d.ids) }

// Close releases the prepared statement.
func (d *dict) Close() error { return d.upsert.Close() }
