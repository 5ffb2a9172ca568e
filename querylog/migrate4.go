package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/netip"
)

// migrateSegments converts the version 3 queries table into segments of
// DefaultBatchSize rows, in id order, and drops it. It reads and writes a
// chunk at a time, so its memory stays that of one segment; it runs inside
// the migration's transaction, so a failure leaves the file at version 3.
func migrateSegments(ctx context.Context, tx *sql.Tx) error {
	st, err := tx.PrepareContext(ctx, insertSegmentSQL)
	if err != nil {
		return fmt.Errorf("segments: %w", err)
	}
	defer st.Close()
	enc, sum := newSegEncoder(), newSummarizer()
	var chunk []v3Row
	for last := int64(0); ; {
		chunk, err = readV3(ctx, tx, last, chunk[:0])
		if err != nil {
			return fmt.Errorf("segments: read rows after %d: %w", last, err)
		}
		if len(chunk) == 0 {
			break
		}
		last = chunk[len(chunk)-1].id
		enc.reset()
		sum.reset()
		var queries int64
		tmin, tmax := int64(math.MaxInt64), int64(math.MinInt64)
		var addr []byte
		for i := range chunk {
			r := &chunk[i]
			r.index = i
			a, err := netip.ParseAddr(r.clientText)
			if err != nil {
				a = netip.Addr{} // "" or not an address: none
			}
			addr = addrBytes(a, addr)
			enc.add(&r.segRow, r.nameText, addr, r.ruleText)
			sum.add(&r.segRow)
			queries += r.count
			tmin, tmax = min(tmin, r.time), max(tmax, r.time)
		}
		if _, err := st.ExecContext(ctx, tmin, tmax, int64(len(chunk)), queries, sum.data(), enc.data()); err != nil {
			return fmt.Errorf("segments: insert: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE queries`); err != nil {
		return fmt.Errorf("segments: %w", err)
	}
	return nil
}

// v3Row is a version 3 row on its way into a segment.
type v3Row struct {
	id int64
	segRow
	clientText, nameText, ruleText string
}

// readV3 appends the (at most DefaultBatchSize) rows after id last to out.
func readV3(ctx context.Context, tx *sql.Tx, last int64, out []v3Row) ([]v3Row, error) {
	res, err := tx.QueryContext(ctx, `SELECT id, time, client, device, profile, name, qtype,
		proto, decision, category, rule, cache, upstream, rcode, latency_us, count
		FROM queries WHERE id > ? ORDER BY id LIMIT ?`, last, DefaultBatchSize)
	if err != nil {
		return out, err
	}
	defer res.Close()
	for res.Next() {
		var r v3Row
		var qtype int64
		if err := res.Scan(&r.id, &r.time, &r.clientText, &r.ids[colDevice], &r.ids[colProfile],
			&r.nameText, &qtype, &r.ids[colProto], &r.ids[colDecision], &r.ids[colCategory],
			&r.ruleText, &r.ids[colCache], &r.ids[colUpstream], &r.rcode, &r.latency, &r.count); err != nil {
			return out, err
		}
		r.qtype = uint16(qtype)
		out = append(out, r)
	}
	return out, res.Err()
}
