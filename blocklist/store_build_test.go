package blocklist

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStoreBadfilter checks the streaming build of a list with $badfilter
// rules, which parses the copy twice: the rules disabled above the
// $badfilter line must not reach the Matcher, the status must count what
// Parse counts, and a copy whose every rule is disabled is refused.
func TestStoreBadfilter(t *testing.T) {
	list := strings.Join([]string{
		"||a.example^", // 1
		"||b.example^",
		"@@||c.b.example^",
		"||a.example^$badfilter", // 4
		"||c.example^",
		"||a.example^$important",
	}, "\n")
	ls := newListServer(t, list)
	s := newTestStore(t, t.TempDir(), newTestClock(), nil)
	ctx := context.Background()
	if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url(), Name: "bf"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m := s.Matcher()
	ads := m.Mask("ads")
	for name, blocked := range map[string]bool{"b.example": true, "c.b.example": false, "c.example": true} {
		if got := m.Lookup(name, ads).Blocked; got != blocked {
			t.Errorf("Lookup(%s).Blocked = %v, want %v", name, got, blocked)
		}
	}
	if v := m.Lookup("x.a.example", ads); !v.Blocked || s.Line(v.Rule) != 6 {
		t.Errorf("Lookup(x.a.example) = %+v (line %d), want the $important rule of line 6", v, s.Line(v.Rule))
	}
	if got := s.Line(Ref{Source: "bf", Name: "c.example"}); got != 5 {
		t.Errorf("Line(c.example) = %d, want 5", got)
	}
	want := mustParse(t, list, ParseOptions{}).Stats
	st := statusOf(t, s, "bf")
	if st.Rules != want.Kept || !maps.Equal(st.Skipped, want.Skipped) {
		t.Errorf("status rules %d, skipped %v; want %d, %v", st.Rules, st.Skipped, want.Kept, want.Skipped)
	}

	ls.set(func(ls *listServer) { ls.body = []byte("||a.example^\n||a.example^$badfilter\n") })
	if err := s.Refresh(ctx); !errors.Is(err, errNoRules) {
		t.Errorf("Refresh of a list without a rule left = %v, want %v", err, errNoRules)
	}
	if !storeBlocks(s, "b.example", "ads") {
		t.Error("last good copy dropped")
	}
}

// TestStoreBuildDropsUnreadableCopy breaks a cached copy behind the store:
// the build fails half-way through it, and none of its rules may stay in
// the Matcher, while the other sources load.
func TestStoreBuildDropsUnreadableCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deny.txt")
	if err := os.WriteFile(path, []byte("one.example\ntwo.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestStore(t, t.TempDir(), newTestClock(), nil)
	ctx := context.Background()
	src := []Source{{Category: "file", Path: path}, {Category: "inline", Inline: []string{"inline.example"}}}
	if err := s.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	s.Load(ctx)
	if !storeBlocks(s, "one.example", "file") {
		t.Fatal("file not loaded")
	}
	broken := "one.example\nbroken.example\n" + strings.Repeat("x", maxLineLen+1) + "\n"
	if err := os.WriteFile(s.cache.dataPath("file:"+path), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	src[1].Name = "renamed" // forces a build from the copies
	if err := s.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	for name, blocked := range map[string]bool{"one.example": false, "broken.example": false, "inline.example": true} {
		if got := storeBlocks(s, name, "file", "inline"); got != blocked {
			t.Errorf("%s blocked = %v, want %v", name, got, blocked)
		}
	}
	if st := statusOf(t, s, path); !strings.Contains(st.LastError, "longer than") || st.Rules != 0 {
		t.Errorf("status = %+v, want the parse error and no rules", st)
	}
}

// TestStoreDeltaBuild changes the sources of a loaded Store in every way
// a refresh or a config reload can, and checks after each build that the
// Store's Matcher answers exactly as NewMatcher over the parsed copies, and
// that its status counts what Parse counts. Only the first build is full;
// the others start from the Matcher in use.
func TestStoreDeltaBuild(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var big strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&big, "h%d.example%d.com\n", r.IntN(1<<20), i%50)
	}
	adblock := []string{
		"||ads.example^", "@@||ok.ads.example^", "||track.example^$important",
		"||aax-*.amazon.*^", "/^ad[0-9]+\\./", "*.wild.example", "||gone.example^",
	}
	lsBig := newListServer(t, big.String())
	lsAd := newListServer(t, strings.Join(adblock, "\n"))
	dir := t.TempDir()
	path := filepath.Join(dir, "deny.txt")
	if err := os.WriteFile(path, []byte("deny.example\nads.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bodies := map[string]func() string{
		lsBig.url(): func() string { lsBig.mu.Lock(); defer lsBig.mu.Unlock(); return string(lsBig.body) },
		lsAd.url():  func() string { lsAd.mu.Lock(); defer lsAd.mu.Unlock(); return string(lsAd.body) },
		path: func() string {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		},
	}
	ctx := context.Background()
	check := func(t *testing.T, s *Store, src []Source) {
		t.Helper()
		var in []Input
		for _, sc := range src {
			var body string
			switch {
			case sc.URL != "":
				body = bodies[sc.URL]()
			case sc.Path != "":
				body = bodies[sc.Path]()
			default:
				body = strings.Join(sc.Inline, "\n")
			}
			l := mustParse(t, body, sc.parseOptions())
			in = append(in, Input{Category: sc.Category, Source: sc.name(), List: l})
			if st := statusOf(t, s, sc.name()); st.Rules != l.Stats.Kept || !maps.Equal(st.Skipped, l.Stats.Skipped) {
				t.Errorf("%s: status rules %d, skipped %v; want %d, %v", sc.name(), st.Rules, st.Skipped, l.Stats.Kept, l.Stats.Skipped)
			}
		}
		want, err := NewMatcher(in)
		if err != nil {
			t.Fatal(err)
		}
		m := s.Matcher()
		if m.over != nil {
			t.Error("Matcher in use has an overlay")
		}
		if !slices.Equal(m.Categories(), want.Categories()) {
			t.Fatalf("Categories() = %v, want %v", m.Categories(), want.Categories())
		}
		sameAnswers(t, m, want)
		for _, q := range []string{"ad12.example.org", "aax-1.amazon.de", "x.wild.example", "wild.example"} {
			if g, w := m.Lookup(q, ^uint64(0)), want.Lookup(q, ^uint64(0)); g != w {
				t.Errorf("Lookup(%s) = %+v, want %+v", q, g, w)
			}
		}
	}
	for _, disk := range []bool{true, false} {
		t.Run(map[bool]string{true: "disk", false: "memory"}[disk], func(t *testing.T) {
			cache := ""
			if disk {
				cache = t.TempDir()
			}
			s := newTestStore(t, cache, newTestClock(), func(o *StoreOptions) { o.Logger = nil })
			src := []Source{
				{Category: "big", URL: lsBig.url()},
				{Category: "ads", URL: lsAd.url()},
				{Category: "ads", URL: lsAd.url(), Exact: true}, // the same origin again
				{Category: "deny", Path: path},
				{Category: "deny", Inline: []string{"inline.example", "ads.example"}},
			}
			if err := s.SetSources(ctx, src); err != nil {
				t.Fatal(err)
			}
			s.Load(ctx)
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, s, src)
			before := s.Matcher()

			lsAd.set(func(ls *listServer) {
				ls.body = []byte(strings.Join(append(adblock[:6:6], "||new.example^", "/^x[0-9]+\\./"), "\n"))
			})
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, s, src)
			if m := s.Matcher(); len(m.names.segs) < 2 || &m.names.segs[0].data[0] != &before.names.segs[0].data[0] {
				t.Error("a refresh of a small list did not keep the big list's segments")
			}

			lsBig.set(func(ls *listServer) { ls.body = []byte(big.String()[1000:] + "more.example.net\n") })
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, s, src)

			for _, change := range []func([]Source) []Source{
				func(s []Source) []Source { s[3].Name = "renamed"; return s },
				func(s []Source) []Source { s[0], s[3] = s[3], s[0]; return s },
				func(s []Source) []Source { s[4].Inline = []string{"other.example"}; return s },
				func(s []Source) []Source { s[1].Exact = true; return s },
				func(s []Source) []Source {
					return append(s, Source{Category: "late", Inline: []string{"late.example"}})
				},
				func(s []Source) []Source { return s[1:] },
				func(s []Source) []Source { s[0].Category = "recat"; return s },
			} {
				src = change(slices.Clone(src))
				if err := s.SetSources(ctx, src); err != nil {
					t.Fatal(err)
				}
				check(t, s, src)
			}
			if err := os.WriteFile(path, []byte("file.example\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(path, time.Now(), time.Now().Add(time.Hour))
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, s, src)
			lsBig.set(func(ls *listServer) { ls.body = []byte(big.String()) })
			lsAd.set(func(ls *listServer) { ls.body = []byte(strings.Join(adblock, "\n")) })
			os.WriteFile(path, []byte("deny.example\nads.example\n"), 0o644)
		})
	}
}
