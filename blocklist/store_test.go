package blocklist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMatcherBeforeLoad(t *testing.T) {
	s := NewStore(StoreOptions{})
	m := s.Matcher()
	if m == nil {
		t.Fatal("Matcher() is nil before Load")
	}
	if v := m.Lookup("example.com", ^uint64(0)); v.Blocked {
		t.Errorf("empty matcher blocks: %+v", v)
	}
}

func TestFirstDownloadAndCache(t *testing.T) {
	ls := newListServer(t, testList)
	ls.etag = `"v1"`
	dir := t.TempDir()
	c := newTestClock()
	s := newTestStore(t, dir, c, nil)
	ctx := context.Background()
	if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
		t.Fatal(err)
	}
	s.Load(ctx)
	if storeBlocks(s, "ads.example.com", "ads") {
		t.Fatal("blocked before any download")
	}
	if got := s.Matcher().Categories(); len(got) != 1 || got[0] != "ads" {
		t.Errorf("Categories() = %v, want [ads] even without a copy", got)
	}
	if st := statusOf(t, s, ls.url()); st.HasCopy || st.Kind != SourceURL {
		t.Errorf("status before download = %+v", st)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	for _, name := range []string{"ads.example.com", "x.ads.example.com", "tracker.example.net"} {
		if !storeBlocks(s, name, "ads") {
			t.Errorf("%s not blocked after download", name)
		}
	}
	if storeBlocks(s, "example.com", "ads") {
		t.Error("example.com blocked")
	}
	st := statusOf(t, s, ls.url())
	if !st.HasCopy || st.Rules != 2 || st.LastError != "" || st.FromCache || !st.LastSuccess.Equal(c.Now()) {
		t.Errorf("status after download = %+v", st)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "lists", "*"))
	if len(files) != 2 {
		t.Fatalf("cache holds %v, want a copy and its sidecar", files)
	}
	key := "url:" + ls.url()
	cc := &diskCache{dir: filepath.Join(dir, "lists")}
	data, err := os.ReadFile(cc.dataPath(key))
	if err != nil || string(data) != testList {
		t.Errorf("cached copy = %q, %v", data, err)
	}
	m, ok, err := cc.load(key)
	if !ok || err != nil || m.ETag != `"v1"` || m.Size != int64(len(testList)) {
		t.Errorf("sidecar = %+v, %v, %v", m, ok, err)
	}
}

func TestConditionalGet(t *testing.T) {
	for _, tc := range []struct {
		name, etag, lastMod string
	}{
		{"etag", `W/"abc"`, ""},
		{"last-modified", "", "Tue, 30 Jun 2026 10:00:00 GMT"},
		{"no validators", "", ""}, // the same bytes again count as not modified
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range []string{t.TempDir(), ""} {
				ls := newListServer(t, testList)
				ls.etag, ls.lastMod = tc.etag, tc.lastMod
				c := newTestClock()
				s := newTestStore(t, dir, c, nil)
				ctx := context.Background()
				if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
					t.Fatal(err)
				}
				if err := s.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				before := s.Matcher()
				c.Advance(time.Hour)
				if err := s.Refresh(ctx); err != nil {
					t.Fatalf("second Refresh: %v", err)
				}
				ls.mu.Lock()
				inm, ims := ls.inm[1], ls.ims[1]
				ls.mu.Unlock()
				if inm != tc.etag || ims != tc.lastMod {
					t.Errorf("second request sent If-None-Match %q, If-Modified-Since %q", inm, ims)
				}
				if s.Matcher() != before {
					t.Error("a 304 rebuilt the matcher")
				}
				if !storeBlocks(s, "ads.example.com", "ads") {
					t.Error("copy lost after 304")
				}
				st := statusOf(t, s, ls.url())
				if st.LastError != "" || !st.LastSuccess.Equal(c.Now()) || st.Age != 0 {
					t.Errorf("status after 304 = %+v", st)
				}
			}
		})
	}
}

func TestRefreshSwapUnderConcurrentLookups(t *testing.T) {
	ls := newListServer(t, testList)
	s := newTestStore(t, t.TempDir(), newTestClock(), nil)
	ctx := context.Background()
	if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var failed, done atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				runtime.Gosched() // leave the refresh some CPU on small machines
				m := s.Matcher()
				if !m.Lookup("www.ads.example.com", m.Mask("ads")).Blocked {
					failed.Add(1)
				}
				done.Add(1)
			}
		})
	}
	const rounds = 10
	for i := range rounds {
		body := fmt.Sprintf("%sround%d.example.org\n", testList, i)
		ls.set(func(ls *listServer) { ls.body = []byte(body) })
		if err := s.Refresh(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d lookups failed during refreshes", n, done.Load())
	}
	if !storeBlocks(s, fmt.Sprintf("round%d.example.org", rounds-1), "ads") || storeBlocks(s, "round0.example.org", "ads") {
		t.Error("last refresh not in effect")
	}
}

func TestFileSource(t *testing.T) {
	for _, dir := range []string{"disk", "memory"} {
		t.Run(dir, func(t *testing.T) {
			data := ""
			if dir == "disk" {
				data = t.TempDir()
			}
			path := filepath.Join(t.TempDir(), "deny.txt")
			mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			write := func(content string) {
				t.Helper()
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				mtime = mtime.Add(time.Minute) // a new mtime even on coarse file systems
				if err := os.Chtimes(path, mtime, mtime); err != nil {
					t.Fatal(err)
				}
			}
			write("first.example.com\n")
			s := newTestStore(t, data, newTestClock(), nil)
			ctx := context.Background()
			if err := s.SetSources(ctx, []Source{{Category: "custom", Path: path}}); err != nil {
				t.Fatal(err)
			}
			s.Load(ctx)
			if !storeBlocks(s, "first.example.com", "custom") {
				t.Fatal("file not loaded")
			}
			steps := []struct {
				name      string
				change    func()
				wantErr   bool
				blocks    string
				notBlocks string
			}{
				{"unchanged", func() {}, false, "first.example.com", ""},
				{"touched", func() { write("first.example.com\n") }, false, "first.example.com", ""},
				{"changed", func() { write("second.example.com\n") }, false, "second.example.com", "first.example.com"},
				{"all invalid", func() { write("%%%\n-x-\n") }, true, "second.example.com", ""},
				{"removed", func() { os.Remove(path) }, true, "second.example.com", ""},
				{"back", func() { write("third.example.com\n") }, false, "third.example.com", "second.example.com"},
				{"deliberately empty", func() { write("# nothing for now\n\n") }, false, "", "third.example.com"},
			}
			for _, st := range steps {
				st.change()
				before := s.Matcher()
				err := s.Refresh(ctx)
				if (st.name == "unchanged" || st.name == "touched") && s.Matcher() != before {
					t.Errorf("%s: matcher rebuilt", st.name)
				}
				if (err != nil) != st.wantErr {
					t.Errorf("%s: Refresh error = %v, want error %v", st.name, err, st.wantErr)
				}
				if st.blocks != "" && !storeBlocks(s, st.blocks, "custom") {
					t.Errorf("%s: %s not blocked", st.name, st.blocks)
				}
				if st.notBlocks != "" && storeBlocks(s, st.notBlocks, "custom") {
					t.Errorf("%s: %s still blocked", st.name, st.notBlocks)
				}
				if got := statusOf(t, s, path).LastError != ""; got != st.wantErr {
					t.Errorf("%s: status error = %q", st.name, statusOf(t, s, path).LastError)
				}
			}
		})
	}
}

func TestInlineAndLine(t *testing.T) {
	list := strings.Join([]string{
		"! adblock list", // 1
		"",               // 2
		"||ads.example.com^",
		"0.0.0.0 tracker.example.net",
		"@@||ok.ads.example.com^",
		`/^banner[0-9]+\.example\.org$/`, // 6
	}, "\n")
	ls := newListServer(t, list)
	s := newTestStore(t, t.TempDir(), newTestClock(), nil)
	ctx := context.Background()
	err := s.SetSources(ctx, []Source{
		{Category: "ads", URL: ls.url(), Name: "testlist"},
		{Category: "custom", Inline: []string{"one.example", "two.example", "three.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Load(ctx)
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m := s.Matcher()
	all := m.Mask("ads", "custom")
	for _, tc := range []struct {
		name        string
		blocked     bool
		source      string
		line        int
		allow, patt bool
	}{
		{"www.ads.example.com", true, "testlist", 3, false, false},
		{"tracker.example.net", true, "testlist", 4, false, false},
		{"ok.ads.example.com", false, "testlist", 5, true, false},
		{"banner12.example.org", true, "testlist", 6, false, true},
		{"two.example", true, "inline:custom", 2, false, false},
		{"a.three.example", true, "inline:custom", 3, false, false},
	} {
		v := m.Lookup(tc.name, all)
		if v.Blocked != tc.blocked || v.Rule.Source != tc.source || v.Rule.Allow != tc.allow || v.Rule.Pattern != tc.patt {
			t.Errorf("Lookup(%s) = %+v", tc.name, v)
			continue
		}
		if got := s.Line(v.Rule); got != tc.line {
			t.Errorf("Line(%+v) = %d, want %d", v.Rule, got, tc.line)
		}
	}
	if got := s.Line(Ref{Source: "nope", Name: "ads.example.com"}); got != 0 {
		t.Errorf("Line of an unknown source = %d", got)
	}
	if got := s.Line(Ref{Source: "testlist", Name: "absent.example.com"}); got != 0 {
		t.Errorf("Line of an unknown rule = %d", got)
	}
}

func TestSetSourcesReusesCopies(t *testing.T) {
	a := newListServer(t, "a.example.com\n")
	b := newListServer(t, "b.example.com\n")
	dir := t.TempDir()
	ctx := context.Background()

	// A previous run left a cached copy of b.
	prev := newTestStore(t, dir, newTestClock(), nil)
	if err := prev.SetSources(ctx, []Source{{Category: "x", URL: b.url()}}); err != nil {
		t.Fatal(err)
	}
	if err := prev.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	s := newTestStore(t, dir, newTestClock(), nil)
	if err := s.SetSources(ctx, []Source{{Category: "ads", URL: a.url()}}); err != nil {
		t.Fatal(err)
	}
	s.Load(ctx)
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ha, hb := a.requests(), b.requests()
	err := s.SetSources(ctx, []Source{
		{Category: "ads", URL: a.url()},
		{Category: "other", URL: b.url()},
		{Category: "custom", Inline: []string{"c.example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.requests() != ha || b.requests() != hb {
		t.Error("SetSources downloaded")
	}
	for _, tc := range []struct{ name, cat string }{
		{"a.example.com", "ads"}, {"b.example.com", "other"}, {"c.example.com", "custom"},
	} {
		if !storeBlocks(s, tc.name, tc.cat) {
			t.Errorf("%s not blocked in %s after SetSources", tc.name, tc.cat)
		}
	}
	if !statusOf(t, s, b.url()).FromCache {
		t.Error("new source with a cached copy not reported FromCache")
	}

	// An invalid set changes nothing.
	if err := s.SetSources(ctx, []Source{{Category: "ads"}}); err == nil {
		t.Fatal("SetSources accepted a source without location")
	}
	if len(s.Status()) != 3 || !storeBlocks(s, "c.example.com", "custom") {
		t.Error("a rejected SetSources changed the store")
	}
}

func TestSharedOrigin(t *testing.T) {
	ls := newListServer(t, testList)
	s := newTestStore(t, "", newTestClock(), nil)
	ctx := context.Background()
	err := s.SetSources(ctx, []Source{
		{Category: "ads", URL: ls.url()},
		{Category: "tracking", URL: ls.url(), Exact: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ls.requests(); n != 1 {
		t.Errorf("%d downloads of one URL used twice", n)
	}
	if !storeBlocks(s, "x.ads.example.com", "ads") || storeBlocks(s, "x.ads.example.com", "tracking") || !storeBlocks(s, "ads.example.com", "tracking") {
		t.Error("per-source parse options not applied")
	}
}

func TestRun(t *testing.T) {
	t.Run("period 0 fills missing copies once", func(t *testing.T) {
		ls := newListServer(t, testList)
		s := newTestStore(t, "", newTestClock(), nil)
		ctx := context.Background()
		if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
			t.Fatal(err)
		}
		s.Run(ctx, 0)
		s.Run(ctx, 0)
		if n := ls.requests(); n != 1 || !storeBlocks(s, "ads.example.com", "ads") {
			t.Errorf("after Run(0) twice: %d requests, blocked %v", n, storeBlocks(s, "ads.example.com", "ads"))
		}
	})
	t.Run("ends with ctx", func(t *testing.T) {
		s := newTestStore(t, "", newTestClock(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Run(ctx, time.Hour) // must return
	})
	t.Run("first refresh", func(t *testing.T) {
		ls := newListServer(t, testList)
		c := newTestClock()
		s := newTestStore(t, "", c, nil)
		ctx := context.Background()
		if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}, {Category: "c", Inline: []string{"x.y"}}}); err != nil {
			t.Fatal(err)
		}
		if wait, need := s.firstRefresh(24 * time.Hour); wait != 0 || !need {
			t.Errorf("without copy: wait %v need %v", wait, need)
		}
		if err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
		if wait, need := s.firstRefresh(24 * time.Hour); wait != 23*time.Hour || need {
			t.Errorf("copy 1h old: wait %v need %v, want 23h", wait, need)
		}
		c.Advance(48 * time.Hour)
		if wait, _ := s.firstRefresh(24 * time.Hour); wait != 0 {
			t.Errorf("copy 49h old: wait %v, want 0", wait)
		}
	})
}
