package querylog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// insertSizes is how many multi-row INSERT statements are prepared: one
// for each power of two up to maxInsertRows rows.
const (
	insertSizes   = 8
	maxInsertRows = 1 << (insertSizes - 1)
	insertCols    = 15
)

// inserter writes a batch as a few multi-row INSERT statements: the driver
// and SQLite do their per-statement work (the call through database/sql,
// the driver's cancellation watcher, starting and halting the VM) once per
// up to 128 rows instead of once per row, which was about half of the
// writer's cost. A batch of n rows takes the largest prepared size that
// fits, then the next, so at most n/128 + 7 statements and only eight are
// ever prepared.
type inserter struct {
	stmts [insertSizes]*sql.Stmt // stmts[k] inserts 1<<k rows
	args  []any                  // reused by every statement
	dict  *dict
}

// insertSQL is the INSERT of n rows.
func insertSQL(n int) string {
	var b strings.Builder
	// OR ROLLBACK: a statement that may abort half-way needs a statement
	// journal to undo its own rows, and for a multi-row INSERT SQLite writes
	// one (a copy of every page it touches). A failed batch is dropped
	// whole, so rolling back the transaction is what the writer does anyway.
	b.WriteString(`INSERT OR ROLLBACK INTO queries (time, client, device, profile, name, qtype,
	proto, decision, category, rule, cache, upstream, rcode, latency_us, count) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

func newInserter(db *sql.DB) (*inserter, error) {
	d, err := newDict(db)
	if err != nil {
		return nil, err
	}
	ins := &inserter{args: make([]any, 0, maxInsertRows*insertCols), dict: d}
	for k := range ins.stmts {
		s, err := db.Prepare(insertSQL(1 << k))
		if err != nil {
			ins.Close()
			return nil, fmt.Errorf("querylog: prepare insert of %d rows: %w", 1<<k, err)
		}
		ins.stmts[k] = s
	}
	return ins, nil
}

// Close closes the prepared statements.
func (ins *inserter) Close() error {
	errs := []error{ins.dict.Close()}
	for _, s := range ins.stmts {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// insert writes batch's rows in one transaction. Only the writer goroutine
// calls it: the argument slice and the dictionary cache are its own.
func (l *Log) insert(batch []row) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("querylog: begin: %w", err)
	}
	if err := l.insertTx(ctx, tx, batch); err != nil {
		tx.Rollback()
		l.ins.dict.reset() // ids added by this transaction are gone
		return err
	}
	if err := tx.Commit(); err != nil {
		l.ins.dict.reset()
		return fmt.Errorf("querylog: commit: %w", err)
	}
	return nil
}

// insertTx inserts batch with as few statements as the prepared sizes allow.
func (l *Log) insertTx(ctx context.Context, tx *sql.Tx, batch []row) error {
	for rest := batch; len(rest) > 0; {
		k := bits.Len(uint(min(len(rest), maxInsertRows))) - 1
		args := l.ins.args[:0]
		for i := range rest[:1<<k] {
			var err error
			if args, err = l.appendArgs(ctx, tx, args, &rest[i]); err != nil {
				clear(args)
				return err
			}
		}
		_, err := tx.StmtContext(ctx, l.ins.stmts[k]).ExecContext(ctx, args...)
		clear(args) // hold on to no entry's strings until the next batch
		if err != nil {
			return fmt.Errorf("querylog: insert: %w", err)
		}
		rest = rest[1<<k:]
	}
	return nil
}

// appendArgs appends r's column values in insertSQL's order.
func (l *Log) appendArgs(ctx context.Context, tx *sql.Tx, args []any, r *row) ([]any, error) {
	var ids [7]int64
	for i, s := range [...]string{r.device, r.profile, r.proto, r.decision, r.category, r.cache, r.upstream} {
		id, err := l.ins.dict.id(ctx, tx, s)
		if err != nil {
			return args, err
		}
		ids[i] = id
	}
	return append(args,
		r.time.UnixMilli(), addrText(r.client), ids[0], ids[1],
		r.name, int64(r.qtype), ids[2], ids[3], ids[4],
		r.rule, ids[5], ids[6], int64(r.rcode), r.latency.Microseconds(), int64(r.count)), nil
}
