package querylog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// deleteSegments bounds one DELETE statement (deleteOldSQL's LIMIT), so
// that a large prune shares the writer connection with the query writer in
// short turns instead of holding it (and letting the queue overflow) for
// seconds.
const deleteSegments = 64

// Prune deletes the rows older than Options.Retention and returns how many
// queries they held. It does nothing when the log keeps rows forever.
//
// Segments wholly older than the cutoff are deleted, deleteSegments at a
// time; a segment straddling it is rewritten without its old rows, so no
// row outlives the retention.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	if l.opt.Retention < 0 {
		return 0, nil
	}
	cutoff := l.opt.Now().Add(-l.opt.Retention).UnixMilli()
	var total int64
	for {
		segs, queries, err := l.deleteOld(ctx, cutoff)
		total += queries
		if err != nil {
			return total, fmt.Errorf("querylog: prune: %w", err)
		}
		if segs < deleteSegments {
			break
		}
	}
	metas, err := scanMetas(l.wdb.QueryContext(ctx, segmentsInSQL, cutoff, cutoff))
	if err != nil {
		return total, fmt.Errorf("querylog: prune: %w", err)
	}
	for _, m := range metas {
		n, err := l.rewrite(ctx, m.id, func(r *segRow) bool { return r.time < cutoff })
		total += n
		if err != nil {
			return total, fmt.Errorf("querylog: prune: %w", err)
		}
	}
	return total, nil
}

// deleteOld deletes up to deleteSegments segments wholly older than cutoff
// and returns how many, and the queries they held.
func (l *Log) deleteOld(ctx context.Context, cutoff int64) (segs, queries int64, err error) {
	res, err := l.wdb.QueryContext(ctx, deleteOldSQL, cutoff)
	if err != nil {
		return 0, 0, err
	}
	defer res.Close()
	for res.Next() {
		var n int64
		if err := res.Scan(&n); err != nil {
			return segs, queries, err
		}
		segs++
		queries += n
	}
	return segs, queries, res.Err()
}

// DeleteDevice deletes every row of device, including those still queued
// when it is called, and returns how many queries they held. It rewrites
// the segments whose summaries name the device, one transaction each.
func (l *Log) DeleteDevice(ctx context.Context, device string) (int64, error) {
	if device == "" {
		return 0, errors.New("querylog: delete device: no device named")
	}
	// Queued rows would otherwise be written after the delete. A degraded
	// log has dropped what it could not write, which is as good as deleted.
	if err := l.Flush(ctx); err != nil && (ctx.Err() != nil || errors.Is(err, ErrClosed)) {
		return 0, fmt.Errorf("querylog: delete device: %w", err)
	}
	dev, ok, err := l.names.id(ctx, l.rdb, device)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("querylog: delete device %q: %w", device, err)
		}
		return 0, err
	}
	var ids []int64
	var sums []sumEntry
	for below := int64(math.MaxInt64); ; {
		metas, err := l.segmentsBelow(ctx, below, math.MinInt64, math.MaxInt64, 1024)
		if err != nil {
			return 0, fmt.Errorf("querylog: delete device %q: %w", device, err)
		}
		if len(metas) == 0 {
			break
		}
		for _, m := range metas {
			below = m.id
			if sums, err = decodeSummary(sums[:0], m.summary); err != nil {
				return 0, fmt.Errorf("querylog: delete device %q: segment %d: %w", device, m.id, err)
			}
			if slices.ContainsFunc(sums, func(e sumEntry) bool { return e.device == dev }) {
				ids = append(ids, m.id)
			}
		}
	}
	var total int64
	for _, id := range ids {
		n, err := l.rewrite(ctx, id, func(r *segRow) bool { return r.ids[colDevice] == dev })
		total += n
		if err != nil {
			return total, fmt.Errorf("querylog: delete device %q: %w", device, err)
		}
	}
	return total, nil
}

// rewrite rewrites segment id without the rows drop selects, keeping the
// others' indexes (and so their ids), or deletes it if none are left. It
// returns the queries the dropped rows held.
func (l *Log) rewrite(ctx context.Context, id int64, drop func(r *segRow) bool) (int64, error) {
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("segment %d: begin: %w", id, err)
	}
	defer tx.Rollback()
	var s segment
	ok, err := l.readSegment(ctx, tx, id, &s)
	if err != nil || !ok {
		return 0, err
	}
	enc, sum := newSegEncoder(), newSummarizer()
	enc.reset()
	var dropped, queries, kept int64
	tmin, tmax := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range s.rows {
		r := &s.rows[i]
		if drop(r) {
			dropped += r.count
			continue
		}
		enc.add(r, string(r.name), s.table[r.client], string(s.table[r.rule]))
		sum.add(r)
		kept++
		queries += r.count
		tmin, tmax = min(tmin, r.time), max(tmax, r.time)
	}
	switch {
	case kept == int64(len(s.rows)):
		return 0, nil
	case kept == 0:
		_, err = tx.ExecContext(ctx, `DELETE FROM segments WHERE id = ?`, id)
	default:
		_, err = tx.ExecContext(ctx, `UPDATE segments SET time_min = ?, time_max = ?, rows = ?,
			queries = ?, summary = ?, data = ? WHERE id = ?`,
			tmin, tmax, kept, queries, sum.data(), enc.data(), id)
	}
	if err != nil {
		return 0, fmt.Errorf("segment %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("segment %d: commit: %w", id, err)
	}
	return dropped, nil
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
