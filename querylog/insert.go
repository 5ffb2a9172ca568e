package querylog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

// insertSegmentSQL writes one segment. OR ROLLBACK: a failed batch is
// dropped whole, so no statement journal is needed to undo half a
// statement.
const insertSegmentSQL = `INSERT OR ROLLBACK INTO segments (time_min, time_max, rows, queries, summary, data)
	VALUES (?, ?, ?, ?, ?, ?)`

// inserter writes a batch as one segment: its rows encoded into one blob
// (segment.go) with a summary (summary.go), one INSERT per batch. Only the
// writer goroutine uses it.
type inserter struct {
	stmt *sql.Stmt
	dict *dict
	enc  *segEncoder
	sum  *summarizer
	addr []byte // scratch for a client's binary form
	// The last string and id of each dictionary column: consecutive rows
	// mostly share them, and comparing a string to itself is cheaper than
	// a map lookup.
	lastStr [numDictCols]string
	lastID  [numDictCols]int64
}

func newInserter(db *sql.DB) (*inserter, error) {
	d, err := newDict(db)
	if err != nil {
		return nil, err
	}
	st, err := db.Prepare(insertSegmentSQL)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("querylog: prepare insert: %w", err)
	}
	ins := &inserter{stmt: st, dict: d, enc: newSegEncoder(), sum: newSummarizer()}
	ins.forget()
	return ins, nil
}

// forget drops every cached id: after a failed transaction, ids it added
// no longer exist.
func (ins *inserter) forget() {
	ins.dict.reset()
	for i := range ins.lastID {
		ins.lastStr[i], ins.lastID[i] = "", -1
	}
}

// Close closes the prepared statements.
func (ins *inserter) Close() error {
	return errors.Join(ins.dict.Close(), ins.stmt.Close())
}

// insert writes batch's rows in one transaction. Only the writer goroutine
// calls it: the encoder and the dictionary cache are its own.
func (l *Log) insert(batch []row) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("querylog: begin: %w", err)
	}
	if err := l.insertTx(ctx, tx, batch); err != nil {
		tx.Rollback()
		l.ins.forget()
		return err
	}
	if err := tx.Commit(); err != nil {
		l.ins.forget()
		return fmt.Errorf("querylog: commit: %w", err)
	}
	return nil
}

// insertTx encodes batch as a segment and inserts it.
func (l *Log) insertTx(ctx context.Context, tx *sql.Tx, batch []row) error {
	ins := l.ins
	ins.enc.reset()
	ins.sum.reset()
	var queries int64
	tmin, tmax := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range batch {
		r := &batch[i]
		sr := segRow{index: i, time: r.time.UnixMilli(), qtype: r.qtype,
			rcode: int64(r.rcode), latency: r.latency.Microseconds(), count: int64(r.count)}
		for c, s := range [numDictCols]string{r.device, r.profile, r.proto, r.decision, r.category, r.cache, r.upstream} {
			if s == ins.lastStr[c] && ins.lastID[c] >= 0 {
				sr.ids[c] = ins.lastID[c]
				continue
			}
			id, err := ins.dict.id(ctx, tx, s)
			if err != nil {
				return err
			}
			sr.ids[c] = id
			ins.lastStr[c], ins.lastID[c] = s, id
		}
		ins.addr = addrBytes(r.client, ins.addr)
		ins.enc.add(&sr, r.name, ins.addr, r.rule)
		ins.sum.add(&sr)
		queries += sr.count
		tmin, tmax = min(tmin, sr.time), max(tmax, sr.time)
	}
	// The cached strings may be slices of the batch's entries; hold on to
	// none of them past the batch.
	ins.lastStr = [numDictCols]string{}
	for i := range ins.lastID {
		ins.lastID[i] = -1
	}
	if len(batch) == 0 {
		return nil
	}
	if _, err := tx.StmtContext(ctx, ins.stmt).ExecContext(ctx,
		tmin, tmax, int64(len(batch)), queries, ins.sum.data(), ins.enc.data()); err != nil {
		return fmt.Errorf("querylog: insert: %w", err)
	}
	return nil
}
