package querylog

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// deleteChunk bounds one DELETE statement, so that a large prune or device
// delete shares the writer connection with the query writer in short turns
// instead of holding it (and letting the queue overflow) for seconds.
const deleteChunk = 5000

// Prune deletes the rows older than Options.Retention and returns how many
// queries they held. It does nothing when the log keeps rows forever.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	if l.opt.Retention < 0 {
		return 0, nil
	}
	cutoff := l.opt.Now().Add(-l.opt.Retention).UnixMilli()
	n, err := l.deleteWhere(ctx, "time < ?", cutoff)
	if err != nil {
		return n, fmt.Errorf("querylog: prune: %w", err)
	}
	return n, nil
}

// DeleteDevice deletes every row of device, including those still queued
// when it is called, and returns how many queries they held.
func (l *Log) DeleteDevice(ctx context.Context, device string) (int64, error) {
	if device == "" {
		return 0, errors.New("querylog: delete device: no device named")
	}
	// Queued rows would otherwise be written after the delete. A degraded
	// log has dropped what it could not write, which is as good as deleted.
	if err := l.Flush(ctx); err != nil && (ctx.Err() != nil || errors.Is(err, ErrClosed)) {
		return 0, fmt.Errorf("querylog: delete device: %w", err)
	}
	n, err := l.deleteWhere(ctx, "device = "+strID, device)
	if err != nil {
		return n, fmt.Errorf("querylog: delete device %q: %w", device, err)
	}
	return n, nil
}

// deleteWhere deletes the rows matching cond in chunks of deleteChunk and
// returns how many queries they held.
func (l *Log) deleteWhere(ctx context.Context, cond string, arg any) (int64, error) {
	q := `DELETE FROM queries WHERE id IN (SELECT id FROM queries WHERE ` + cond +
		` LIMIT ` + fmt.Sprint(deleteChunk) + `) RETURNING count`
	var total int64
	for {
		rows, queries, err := l.deleteSome(ctx, q, arg)
		total += queries
		if err != nil || rows < deleteChunk {
			return total, err
		}
	}
}

// deleteSome runs one of deleteWhere's statements, returning the rows it
// deleted and the queries they held.
func (l *Log) deleteSome(ctx context.Context, q string, arg any) (rows, queries int64, err error) {
	res, err := l.wdb.QueryContext(ctx, q, arg)
	if err != nil {
		return 0, 0, err
	}
	defer res.Close()
	for res.Next() {
		var n int64
		if err := res.Scan(&n); err != nil {
			return rows, queries, err
		}
		rows++
		queries += n
	}
	return rows, queries, res.Err()
}

// maintain prunes a minute after Open and hourly after that, and keeps the
// query planner's statistics fresh, until ctx ends.
func (l *Log) maintain(ctx context.Context) {
	defer close(l.maintDone)
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := l.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			l.opt.Logger.Warn("query log prune failed", "path", l.opt.Path, "err", err)
		case n > 0:
			l.opt.Logger.Debug("query log pruned", "path", l.opt.Path, "rows", n)
		}
		if _, err := l.wdb.ExecContext(ctx, "PRAGMA optimize"); err != nil && ctx.Err() == nil {
			l.opt.Logger.Warn("query log optimize failed", "path", l.opt.Path, "err", err)
		}
		t.Reset(time.Hour)
	}
}
