// Package querylog records answered queries in an embedded SQLite database,
// asynchronously, a batch of rows per SQLite row (a segment, segment.go),
// and answers searches and statistics over them. A slow or full disk never
// slows or blocks a query.
//
// The package owns the query log file (schema, migrations, retention) and
// the one goroutine that writes to it. Callers hand entries to Add, which
// never waits; what cannot be queued or written is dropped and counted.
package querylog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// KeepForever, as Options.Retention, turns pruning off.
const KeepForever time.Duration = -1

// Defaults for the zero values in Options.
const (
	DefaultBuffer     = 10000
	DefaultBatchSize  = 8192
	DefaultFlushEvery = time.Second
	DefaultRetention  = 30 * 24 * time.Hour
	DefaultCollapse   = time.Second
)

// NoCollapse, as Options.Collapse, gives every query a row of its own.
const NoCollapse time.Duration = -1

// ErrClosed is returned by the methods of a closed Log.
var ErrClosed = errors.New("querylog: closed")

// Options configure a Log. Zero values take the defaults.
type Options struct {
	Path       string        // the SQLite file; required
	Buffer     int           // entries queued before Add drops (default 10000)
	BatchSize  int           // rows per transaction (a segment), after collapsing (default 8192, at most Buffer and 65536)
	FlushEvery time.Duration // longest an entry waits in a partial batch (default 1s)
	// Retention is how long rows are kept (default 30 days; KeepForever
	// keeps them forever). Older rows are pruned hourly and on Prune.
	Retention time.Duration
	// Anonymize stores client addresses truncated to their IPv4 /24 or
	// IPv6 /48, and matches Filter.Client the same way.
	Anonymize bool
	// Collapse is how far apart in time identical queries (equal in every
	// Entry field but Time and Latency) may be and still be written as one
	// row with a count, if they reach the writer in the same batch
	// (default DefaultCollapse, 1s; NoCollapse turns collapsing off).
	Collapse time.Duration
	Logger   *slog.Logger     // default slog.Default()
	Now      func() time.Time // the clock retention is measured by (default time.Now)

	// The writer's backoff after a failed write, doubling from min to max
	// (1s and 30s); tests shorten them.
	minBackoff, maxBackoff time.Duration
}

// Log is an open query log. Its methods are safe for concurrent use.
type Log struct {
	opt Options
	wdb *sql.DB // one connection: the writer goroutine and maintenance take turns
	rdb *sql.DB // read-only pool for searches and statistics
	ins *inserter
	// names is the readers' copy of the strings table.
	names *names
	segs  sync.Pool // of *segment: decoding memory for reads
	q     queue
	// taken is what the writer took off q, taken[next:] not yet batched.
	// Only the writer goroutine uses them.
	taken []Entry
	next  int
	kick  chan struct{} // asks the writer to write what is queued now
	wake  chan struct{} // asks the writer to take the queue now (Add, past half full)
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the writer has finished
	// maintDone is closed when the retention goroutine has finished.
	maintDone   chan struct{}
	maintCancel context.CancelFunc
	closeOnce   sync.Once
	closeErr    error
	closed      atomic.Bool

	queued      atomic.Uint64 // entries that made it into q
	processed   atomic.Uint64 // entries the writer wrote or dropped
	written     atomic.Uint64
	writtenRows atomic.Uint64
	dropped     atomic.Uint64

	mu       sync.Mutex
	progress chan struct{} // closed and replaced whenever processed grows
	healthy  bool
	lastErr  string
}

// Open opens (creating or migrating) the log at opt.Path and starts its
// writer.
func Open(opt Options) (*Log, error) {
	if opt.Path == "" {
		return nil, errors.New("querylog: no path")
	}
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	if opt.BatchSize <= 0 {
		// While the writer writes a batch the queue takes the queries; a
		// batch larger than the queue could make it overflow below the
		// rate the writer keeps up with.
		opt.BatchSize = min(DefaultBatchSize, opt.Buffer)
	}
	// A row's index in its segment is 16 bits of its id (segment.go).
	opt.BatchSize = min(opt.BatchSize, maxSegmentRows)
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = DefaultFlushEvery
	}
	if opt.Retention == 0 {
		opt.Retention = DefaultRetention
	}
	if opt.Collapse == 0 {
		opt.Collapse = DefaultCollapse
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.minBackoff <= 0 {
		opt.minBackoff = time.Second
	}
	if opt.maxBackoff < opt.minBackoff {
		opt.maxBackoff = max(30*time.Second, opt.minBackoff)
	}

	wdb, rdb, err := openDBs(opt.Path)
	if err != nil {
		return nil, err
	}
	ins, err := newInserter(wdb)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Log{
		opt:         opt,
		wdb:         wdb,
		rdb:         rdb,
		ins:         ins,
		names:       newNames(),
		q:           queue{max: opt.Buffer},
		kick:        make(chan struct{}, 1),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		maintDone:   make(chan struct{}),
		maintCancel: cancel,
		progress:    make(chan struct{}),
		healthy:     true,
	}
	go l.run()
	go l.maintain(ctx)
	return l, nil
}

// Add queues e for writing. It never blocks: when the queue is full (the
// disk is slower than the queries) or the log is closed, e is dropped,
// counted, and Add returns false.
func (l *Log) Add(e Entry) bool {
	if l.closed.Load() {
		l.dropped.Add(1)
		return false
	}
	n, ok := l.q.push(&e)
	if !ok {
		l.dropped.Add(1)
		return false
	}
	l.queued.Add(1)
	if n > l.opt.Buffer/2 {
		l.wakeWriter()
	}
	return true
}

// Dropped returns how many entries were lost because the queue was full,
// the log was closed, or their batch could not be written.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written returns how many entries (queries) were committed to the
// database; collapsed into rows, they are the sum of the rows' counts.
func (l *Log) Written() uint64 { return l.written.Load() }

// WrittenRows returns how many rows the written entries took: Written
// divided by WrittenRows is how many queries a row stands for on average.
func (l *Log) WrittenRows() uint64 { return l.writtenRows.Load() }

// Healthy reports whether the last write succeeded, and the most recent
// write error (a full or read-only disk; kept after a recovery, "" if there
// never was one). An unhealthy log keeps taking entries, drops those it
// cannot write, and retries with backoff.
func (l *Log) Healthy() (ok bool, lastErr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.healthy, l.lastErr
}

// Flush waits until every entry queued before the call has been written or
// dropped. It returns an error if the log is closed, ctx ends first, or the
// log is unhealthy (some of those entries were dropped).
func (l *Log) Flush(ctx context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	target := l.queued.Load()
	select {
	case l.kick <- struct{}{}:
	default: // a kick is already pending
	}
	for {
		l.mu.Lock()
		progress, healthy, lastErr := l.progress, l.healthy, l.lastErr
		processed := l.processed.Load()
		l.mu.Unlock()
		if processed >= target {
			if !healthy {
				return fmt.Errorf("querylog: degraded: %s", lastErr)
			}
			return nil
		}
		select {
		case <-progress:
		case <-l.done:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("querylog: flush: %w", ctx.Err())
		}
	}
}

// Close writes what is queued (dropping it if the disk refuses), stops the
// background work and closes the database.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.stop)
		l.maintCancel()
		<-l.done
		<-l.maintDone
		// An Add that raced with Close may have queued after the writer's
		// last look; count it rather than lose track of it.
		l.dropped.Add(uint64(len(l.q.swap(nil))))
		l.closeErr = errors.Join(l.ins.Close(), l.rdb.Close(), l.wdb.Close())
	})
	return l.closeErr
}
