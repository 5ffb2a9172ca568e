package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

// storeKinds are the Store implementations every store test runs against.
var storeKinds = []struct {
	name string
	open func(tb testing.TB, c *dnstest.Clock) Store
}{
	{"memory", func(tb testing.TB, c *dnstest.Clock) Store { return NewMemoryClock(c.Now) }},
	{"file", func(tb testing.TB, c *dnstest.Clock) Store {
		return openFile(tb, filepath.Join(tb.TempDir(), "state.json"), c)
	}},
}

func openFile(tb testing.TB, path string, c *dnstest.Clock) *File {
	tb.Helper()
	f, err := OpenFile(path, FileOptions{Now: c.Now})
	if err != nil {
		tb.Fatalf("OpenFile: %v", err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func coreOf(s Store) *core {
	switch s := s.(type) {
	case *Memory:
		return &s.c
	case *File:
		return &s.c
	}
	panic(fmt.Sprintf("unknown store %T", s))
}

func put(tb testing.TB, s Store, e Entry) Entry {
	tb.Helper()
	got, err := s.Put(context.Background(), e)
	if err != nil {
		tb.Fatalf("Put(%+v): %v", e, err)
	}
	return got
}

func list(tb testing.TB, s Store) []Entry {
	tb.Helper()
	es, err := s.List(context.Background())
	if err != nil {
		tb.Fatalf("List: %v", err)
	}
	return es
}

func ids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// fixture is a small household: a paused device, a paused profile and
// three grants. IDs are fixed so tests can name them.
func fixture(tb testing.TB, s Store, c *dnstest.Clock) {
	tb.Helper()
	for i, e := range []Entry{
		{ID: "p1", Target: "kid-ipad", Kind: Pause, Until: t0.Add(time.Hour), By: "cli"},
		{ID: "p2", Target: "kids", Kind: Pause, Until: t0.Add(2 * time.Hour), By: "api:mum"},
		{ID: "a1", Target: "kid-ipad", Kind: Allow, What: "youtube", Until: t0.Add(30 * time.Minute)},
		{ID: "a2", Target: "kids", Kind: Allow, What: "youtube", Until: t0.Add(time.Hour)},
		{ID: "a3", Target: "kids", Kind: Allow, What: "khanacademy.org", Until: t0.Add(3 * time.Hour)},
	} {
		e.Created = t0.Add(time.Duration(i) * time.Second) // fixes the List order
		put(tb, s, e)
	}
}

func TestStorePutList(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			c := newClock()
			s := sk.open(t, c)
			if got := list(t, s); len(got) != 0 {
				t.Fatalf("new store lists %v", got)
			}
			a := put(t, s, Entry{Target: "kid-ipad", Kind: Allow, What: "youtube", Until: t0.Add(30 * time.Minute), By: "cli"})
			c.Advance(time.Second)
			p := put(t, s, Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)})
			if a.ID == "" || p.ID == "" || a.ID == p.ID {
				t.Fatalf("IDs %q, %q: want distinct, non-empty", a.ID, p.ID)
			}
			if !a.Created.Equal(t0) || !p.Created.Equal(t0.Add(time.Second)) {
				t.Errorf("Created = %v, %v; want the clock's time", a.Created, p.Created)
			}
			if got, want := list(t, s), []Entry{a, p}; !slices.Equal(got, want) {
				t.Fatalf("List = %+v\nwant %+v", got, want)
			}

			// Replace by ID: same ID, new content, no second entry.
			a.Until, a.Created = t0.Add(time.Hour), time.Time{}
			a2 := put(t, s, a)
			got := list(t, s)
			if len(got) != 2 || a2.ID != a.ID || !a2.Until.Equal(t0.Add(time.Hour)) {
				t.Fatalf("after replace: Put = %+v, List = %+v", a2, got)
			}
			if i := slices.IndexFunc(got, func(e Entry) bool { return e.ID == a.ID }); i < 0 || got[i] != a2 {
				t.Errorf("List does not hold the replacement %+v: %+v", a2, got)
			}

			// A rejected entry changes nothing.
			if _, err := s.Put(context.Background(), Entry{Target: "kids", Kind: Pause}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Put without Until = %v, want ErrInvalid", err)
			}
			if n := len(list(t, s)); n != 2 {
				t.Errorf("after a rejected Put, %d entries, want 2", n)
			}

			// List returns a copy.
			l := list(t, s)
			l[0].Target = "changed"
			if list(t, s)[0].Target == "changed" {
				t.Error("List shares its slice with the store")
			}
		})
	}
}

func TestStoreDelete(t *testing.T) {
	for _, sk := range storeKinds {
		for _, tc := range []struct {
			name string
			f    Filter
			want []string // IDs left, in List order
		}{
			{"by id", Filter{ID: "a2"}, []string{"p1", "p2", "a1", "a3"}},
			{"by unknown id", Filter{ID: "zz"}, []string{"p1", "p2", "a1", "a2", "a3"}},
			{"by target", Filter{Target: "kids"}, []string{"p1", "a1"}},
			{"by kind", Filter{Kind: Pause}, []string{"a1", "a2", "a3"}},
			{"by what", Filter{What: "youtube"}, []string{"p1", "p2", "a3"}},
			{"by target and kind", Filter{Target: "kid-ipad", Kind: Allow}, []string{"p1", "p2", "a2", "a3"}},
			{"by target, kind and what", Filter{Target: "kids", Kind: Allow, What: "youtube"}, []string{"p1", "p2", "a1", "a3"}},
		} {
			t.Run(sk.name+"/"+tc.name, func(t *testing.T) {
				c := newClock()
				s := sk.open(t, c)
				fixture(t, s, c)
				n, err := s.Delete(context.Background(), tc.f)
				if err != nil {
					t.Fatalf("Delete: %v", err)
				}
				got := ids(list(t, s))
				if !slices.Equal(got, tc.want) {
					t.Errorf("left %v, want %v", got, tc.want)
				}
				if n != 5-len(tc.want) {
					t.Errorf("Delete = %d, want %d", n, 5-len(tc.want))
				}
			})
		}
		t.Run(sk.name+"/empty filter", func(t *testing.T) {
			c := newClock()
			s := sk.open(t, c)
			fixture(t, s, c)
			if n, err := s.Delete(context.Background(), Filter{}); !errors.Is(err, ErrInvalid) || n != 0 {
				t.Errorf("Delete(Filter{}) = %d, %v; want 0, ErrInvalid", n, err)
			}
			if n := len(list(t, s)); n != 5 {
				t.Errorf("%d entries left, want 5", n)
			}
		})
	}
}

func TestStorePrune(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			c := newClock()
			s := sk.open(t, c)
			ctx := context.Background()
			fixture(t, s, c)
			if n, err := s.Prune(ctx); n != 0 || err != nil {
				t.Fatalf("Prune with nothing expired = %d, %v", n, err)
			}
			c.Advance(time.Hour) // a1 (30m), p1 and a2 (1h, ending exactly now) are over
			if n, err := s.Prune(ctx); n != 3 || err != nil {
				t.Fatalf("Prune = %d, %v; want 3", n, err)
			}
			if got := ids(list(t, s)); !slices.Equal(got, []string{"p2", "a3"}) {
				t.Errorf("left %v, want [p2 a3]", got)
			}

			// A write prunes too, and Delete counts only what it was asked for.
			c.Advance(time.Hour) // p2 is over
			put(t, s, Entry{ID: "n", Target: "kids", Kind: Pause, Until: c.Now().Add(time.Minute)})
			if got := ids(list(t, s)); !slices.Equal(got, []string{"a3", "n"}) {
				t.Errorf("after Put, left %v, want [a3 n]", got)
			}
			c.Advance(time.Hour) // a3 and n are over
			if n, err := s.Delete(ctx, Filter{ID: "n"}); n != 1 || err != nil {
				t.Errorf("Delete(n) = %d, %v; want 1", n, err)
			}
			if got := list(t, s); len(got) != 0 {
				t.Errorf("left %v, want nothing", ids(got))
			}
		})
	}
}

func TestStoreFull(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			c := newClock()
			s := sk.open(t, c)
			coreOf(s).max = 3
			for i := range 3 {
				put(t, s, Entry{ID: fmt.Sprint(i), Target: "kids", Kind: Pause, Until: t0.Add(time.Duration(i+1) * time.Minute)})
			}
			if _, err := s.Put(context.Background(), Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)}); !errors.Is(err, ErrFull) {
				t.Fatalf("Put beyond the limit = %v, want ErrFull", err)
			}
			put(t, s, Entry{ID: "0", Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)}) // a replacement fits
			c.Advance(2 * time.Minute)                                                       // "1" ends ("0" was extended)
			put(t, s, Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)})
			if n := len(list(t, s)); n != 3 {
				t.Errorf("%d entries, want 3", n)
			}
		})
	}
}

func TestStoreClosed(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			c := newClock()
			s := sk.open(t, c)
			fixture(t, s, c)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			ctx := context.Background()
			if _, err := s.List(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("List = %v, want ErrClosed", err)
			}
			if _, err := s.Put(ctx, Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)}); !errors.Is(err, ErrClosed) {
				t.Errorf("Put = %v, want ErrClosed", err)
			}
			if _, err := s.Delete(ctx, Filter{ID: "p1"}); !errors.Is(err, ErrClosed) {
				t.Errorf("Delete = %v, want ErrClosed", err)
			}
			if _, err := s.Prune(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("Prune = %v, want ErrClosed", err)
			}
		})
	}
}

func TestStoreCanceled(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			s := sk.open(t, newClock())
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := s.Put(ctx, Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)}); !errors.Is(err, context.Canceled) {
				t.Errorf("Put = %v, want context.Canceled", err)
			}
			if got := list(t, s); len(got) != 0 {
				t.Errorf("a canceled Put stored %v", got)
			}
		})
	}
}

// TestStoreConcurrent is for the race detector: writers, deleters and
// readers at once, and every write counted.
func TestStoreConcurrent(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			c := newClock()
			s := sk.open(t, c)
			ctx := context.Background()
			const writers, each = 4, 25
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						target := fmt.Sprintf("dev%d", w)
						if _, err := s.Put(ctx, Entry{Target: target, Kind: Allow, What: fmt.Sprint(i), Until: t0.Add(time.Hour)}); err != nil {
							t.Error(err)
						}
						if i%5 == 4 { // remove this writer's previous grant
							if n, err := s.Delete(ctx, Filter{Target: target, What: fmt.Sprint(i - 1)}); n != 1 || err != nil {
								t.Errorf("Delete = %d, %v", n, err)
							}
						}
					}
				})
				wg.Go(func() {
					for range each {
						es, err := s.List(ctx)
						if err != nil {
							t.Error(err)
						}
						NewSnapshot(es, c.Now()).Paused("dev0", c.Now())
					}
				})
			}
			wg.Wait()
			if got, want := len(list(t, s)), writers*(each-each/5); got != want {
				t.Errorf("%d entries, want %d", got, want)
			}
		})
	}
}
