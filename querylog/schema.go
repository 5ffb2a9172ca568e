package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// step is one schema migration: SQL, then (if set) Go code, in one
// transaction.
type step struct {
	sql string
	fn  func(ctx context.Context, tx *sql.Tx) error
}

// migrations returns the schema steps: step i takes the schema from version
// i to i+1; the version lives in PRAGMA user_version. Append only: a
// released step is never edited.
func migrations() []step {
	return []step{
		// 1: the query table. Times are unix milliseconds, latency microseconds.
		// The single-column indexes are (column, rowid) in SQLite, so each also
		// serves "newest first" paging within its value.
		{sql: `CREATE TABLE queries (
		id         INTEGER PRIMARY KEY,
		time       INTEGER NOT NULL,
		client     TEXT    NOT NULL,
		device     TEXT    NOT NULL,
		profile    TEXT    NOT NULL,
		name       TEXT    NOT NULL,
		qtype      INTEGER NOT NULL,
		proto      TEXT    NOT NULL,
		decision   TEXT    NOT NULL,
		category   TEXT    NOT NULL,
		rule       TEXT    NOT NULL,
		cache      TEXT    NOT NULL,
		upstream   TEXT    NOT NULL,
		rcode      INTEGER NOT NULL,
		latency_us INTEGER NOT NULL
	);
	CREATE INDEX queries_time     ON queries(time);
	CREATE INDEX queries_device   ON queries(device);
	CREATE INDEX queries_profile  ON queries(profile);
	CREATE INDEX queries_decision ON queries(decision);`},

		// 2: the few-valued text columns become ids into a dictionary of
		// strings (see dict.go): smaller rows and index entries, and integers
		// instead of text to bind, which cut the writer's cost per row.
		{sql: `CREATE TABLE strings (
		id INTEGER PRIMARY KEY,
		s  TEXT NOT NULL UNIQUE
	);
	INSERT INTO strings (s)
		SELECT device FROM queries UNION SELECT profile FROM queries
		UNION SELECT proto FROM queries UNION SELECT decision FROM queries
		UNION SELECT category FROM queries UNION SELECT cache FROM queries
		UNION SELECT upstream FROM queries;
	CREATE TABLE queries_v2 (
		id         INTEGER PRIMARY KEY,
		time       INTEGER NOT NULL,
		client     TEXT    NOT NULL,
		device     INTEGER NOT NULL, -- strings.id, as are profile, proto,
		profile    INTEGER NOT NULL, -- decision, category, cache and upstream
		name       TEXT    NOT NULL,
		qtype      INTEGER NOT NULL,
		proto      INTEGER NOT NULL,
		decision   INTEGER NOT NULL,
		category   INTEGER NOT NULL,
		rule       TEXT    NOT NULL,
		cache      INTEGER NOT NULL,
		upstream   INTEGER NOT NULL,
		rcode      INTEGER NOT NULL,
		latency_us INTEGER NOT NULL
	);
	INSERT INTO queries_v2
		SELECT id, time, client, (SELECT id FROM strings WHERE s = device),
			(SELECT id FROM strings WHERE s = profile), name, qtype,
			(SELECT id FROM strings WHERE s = proto),
			(SELECT id FROM strings WHERE s = decision),
			(SELECT id FROM strings WHERE s = category), rule,
			(SELECT id FROM strings WHERE s = cache),
			(SELECT id FROM strings WHERE s = upstream), rcode, latency_us
		FROM queries ORDER BY id;
	DROP TABLE queries;
	ALTER TABLE queries_v2 RENAME TO queries;
	CREATE INDEX queries_time     ON queries(time);
	CREATE INDEX queries_device   ON queries(device);
	CREATE INDEX queries_profile  ON queries(profile);
	CREATE INDEX queries_decision ON queries(decision);`},

		// 3: a row stands for count identical queries close together in
		// time (see collapse.go). Adding a column with a constant default
		// rewrites nothing: older rows read as one query each.
		{sql: `ALTER TABLE queries ADD COLUMN count INTEGER NOT NULL DEFAULT 1;`},

		// 4: rows are stored a batch at a time, as segments (segment.go):
		// one INSERT per batch instead of per row. time_max is indexed for
		// retention and for Stats and Top over recent ranges; data is the
		// last column, so reading a segment's other columns never reads
		// its rows. The v3 rows are converted (migrate4.go).
		{sql: `CREATE TABLE segments (
		id       INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: part of row ids
		time_min INTEGER NOT NULL, -- unix ms, the earliest and latest row time
		time_max INTEGER NOT NULL,
		rows     INTEGER NOT NULL,
		queries  INTEGER NOT NULL, -- the sum of the rows' counts
		summary  BLOB    NOT NULL, -- summary.go
		data     BLOB    NOT NULL  -- segment.go
	);
	CREATE INDEX segments_time_max ON segments(time_max);`, fn: migrateSegments},
	}
}

// openDBs opens the writer (one connection, immediate transactions so a
// write never fails half-way on a lock upgrade) and a read-only pool, and
// brings the schema up to date. The writer checkpoints every 4000 pages,
// not 1000: the pages every commit touches (the tables' last pages) are
// copied to the file once per checkpoint, so fewer checkpoints copy less.
// Its page cache is SQLite's default, 2 MiB: a commit appends one segment
// and touches a few index pages, and 8 MiB (chosen when every row was an
// indexed row of its own) cost 10 MB of RSS at 250k queries a second for
// no CPU saved (BenchmarkWriterRows within noise).
func openDBs(path string) (w, r *sql.DB, err error) {
	// "file:" makes SQLite read the name as a URI, so a path holding ? or #
	// must have them escaped.
	name := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	common := "_pragma=busy_timeout(5000)"
	w, err = sql.Open("sqlite", name+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		"&_pragma=journal_size_limit(16777216)&_pragma=wal_autocheckpoint(4000)"+
		"&_pragma=cache_size(-2048)"+
		"&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("querylog: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(context.Background(), w, migrations()); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("querylog: %s: %w", path, err)
	}
	r, err = sql.Open("sqlite", name+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("querylog: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return w, r, nil
}

// migrate applies the steps the database has not seen, each in its own
// transaction together with the version bump.
func migrate(ctx context.Context, db *sql.DB, steps []step) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(steps) {
		return fmt.Errorf("schema version %d is newer than this program's %d", v, len(steps))
	}
	for ; v < len(steps); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, steps[v].sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", v+1, err)
		}
		if fn := steps[v].fn; fn != nil {
			if err := fn(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate to %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no parameters; v+1 is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to %d: %w", v+1, err)
		}
	}
	return nil
}
