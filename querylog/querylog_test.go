package querylog

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/havendns/haven/resolver"
)

// t0 is the base of the test data: a Monday, midnight UTC.
var t0 = time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)

// openTest opens a log in a fresh directory (unless opt.Path is set) and
// closes it when the test ends.
func openTest(tb testing.TB, opt Options) *Log {
	tb.Helper()
	if opt.Path == "" {
		opt.Path = filepath.Join(tb.TempDir(), "queries.db")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := Open(opt)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// flush waits for l's queue to reach the database and fails on an error.
func flush(tb testing.TB, l *Log) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		tb.Fatalf("Flush: %v", err)
	}
}

// addAll adds es, failing if any is dropped, and flushes.
func addAll(tb testing.TB, l *Log, es ...Entry) {
	tb.Helper()
	for i, e := range es {
		if !l.Add(e) {
			tb.Fatalf("Add #%d dropped", i)
		}
	}
	flush(tb, l)
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open with no path: want error")
	}
	if _, err := Open(Options{Path: filepath.Join(t.TempDir(), "missing", "dir", "q.db")}); err == nil {
		t.Error("Open in a missing directory: want error")
	}
}

func TestDefaults(t *testing.T) {
	l := openTest(t, Options{})
	o := l.opt
	if o.Buffer != DefaultBuffer || o.BatchSize != DefaultBatchSize ||
		o.FlushEvery != DefaultFlushEvery || o.Retention != DefaultRetention {
		t.Errorf("defaults = %d %d %v %v", o.Buffer, o.BatchSize, o.FlushEvery, o.Retention)
	}
	if ok, msg := l.Healthy(); !ok || msg != "" {
		t.Errorf("new log Healthy() = %v, %q", ok, msg)
	}
}

func TestRoundTrip(t *testing.T) {
	l := openTest(t, Options{})
	in := Entry{
		Time:     t0.Add(1234567 * time.Millisecond),
		Client:   netip.MustParseAddr("192.0.2.7"),
		Device:   "tablet",
		Profile:  "kids",
		Name:     "Ads.Example.COM.", // stored lower case, without the dot
		Type:     dns.TypeAAAA,
		Proto:    "doh",
		Decision: "blocked",
		Category: "ads",
		Rule:     "||example.com^",
		Cache:    "none",
		Upstream: "",
		Rcode:    dns.RcodeNameError,
		Latency:  1500 * time.Microsecond,
	}
	addAll(t, l, in)
	rows, next, err := l.Search(context.Background(), Filter{})
	if err != nil || len(rows) != 1 || next != 0 {
		t.Fatalf("Search = %d rows, next %d, %v", len(rows), next, err)
	}
	got := rows[0].Entry
	want := in
	want.Name = "ads.example.com"
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("row = %+v\nwant  %+v", got, want)
	}
	if rows[0].ID <= 0 {
		t.Errorf("ID = %d", rows[0].ID)
	}
}

func TestEntryOf(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	q := &resolver.Query{
		Msg:    m,
		Client: netip.MustParseAddr("2001:db8::1"),
		Proto:  resolver.DoT,
		Trace: resolver.Trace{
			Device: "phone", Profile: "teen", Decision: resolver.Rewritten,
			Rule: "safesearch", Cache: resolver.CacheHit, Upstream: "9.9.9.9:53",
		},
	}
	e := EntryOf(q, dns.RcodeSuccess, t0, time.Millisecond)
	want := Entry{
		Time: t0, Client: q.Client, Device: "phone", Profile: "teen",
		Name: "www.example.org", Type: dns.TypeA, Proto: "dot", Decision: "rewritten",
		Rule: "safesearch", Cache: "hit", Upstream: "9.9.9.9:53", Latency: time.Millisecond,
	}
	if e != want {
		t.Errorf("EntryOf = %+v\nwant      %+v", e, want)
	}
	if n := testing.AllocsPerRun(100, func() { e = EntryOf(q, 0, t0, 0) }); n != 0 {
		t.Errorf("EntryOf allocates %v times", n)
	}
	if e := EntryOf(&resolver.Query{}, 0, t0, 0); e.Name != "" {
		t.Errorf("EntryOf without a question: Name = %q", e.Name)
	}
}

func TestCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	// Nothing would be written for an hour but for Close.
	l := openTest(t, Options{Path: path, FlushEvery: time.Hour, BatchSize: 1000})
	for i := range 10 {
		l.Add(Entry{Time: t0.Add(time.Duration(i) * time.Second), Name: "x.example"})
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if l.Written() != 10 {
		t.Errorf("Written() after Close = %d, want 10", l.Written())
	}
	if l.Add(Entry{}) {
		t.Error("Add after Close accepted")
	}
	if err := l.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}

	l2 := openTest(t, Options{Path: path})
	rows, _, err := l2.Search(context.Background(), Filter{})
	if err != nil || len(rows) != 10 {
		t.Errorf("reopened: %d rows, %v; want 10", len(rows), err)
	}
}

func TestFlushContext(t *testing.T) {
	l := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Add(Entry{Name: "a.example"})
	// Either the writer was quick or the context ended: never a hang.
	if err := l.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Flush(cancelled) = %v", err)
	}
}
