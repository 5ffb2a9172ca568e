package blocklist

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRestartServesCache stops the list server, starts a new Store on the
// same DataDir and expects Load to serve the cached copy without network.
func TestRestartServesCache(t *testing.T) {
	ls := newListServer(t, testList)
	ls.etag = `"v1"`
	dir := t.TempDir()
	c := newTestClock()
	ctx := context.Background()
	src := []Source{{Category: "ads", URL: ls.url()}}

	first := newTestStore(t, dir, c, nil)
	if err := first.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	first.Load(ctx)
	if err := first.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	hits := ls.requests()

	c.Advance(3 * time.Hour)
	second := newTestStore(t, dir, c, nil)
	if err := second.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	second.Load(ctx)
	if ls.requests() != hits {
		t.Error("Load used the network")
	}
	if !storeBlocks(second, "ads.example.com", "ads") {
		t.Fatal("cached copy not served after restart")
	}
	st := statusOf(t, second, ls.url())
	if !st.FromCache || !st.HasCopy || st.Rules != 2 || st.Age != 3*time.Hour || !st.LastAttempt.IsZero() {
		t.Errorf("status after restart = %+v", st)
	}

	// The origin still has the same version: a 304 confirms the copy.
	if err := second.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ls.mu.Lock()
	inm := ls.inm[len(ls.inm)-1]
	ls.mu.Unlock()
	if inm != `"v1"` {
		t.Errorf("refresh after restart sent If-None-Match %q", inm)
	}
	if st := statusOf(t, second, ls.url()); st.FromCache || st.Age != 0 {
		t.Errorf("status after 304 = %+v", st)
	}

	// And with the server gone, the copy stays.
	ls.srv.Close()
	third := newTestStore(t, dir, c, nil)
	if err := third.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	third.Load(ctx)
	if err := third.Refresh(ctx); err == nil {
		t.Error("Refresh against a closed server succeeded")
	}
	if !storeBlocks(third, "tracker.example.net", "ads") {
		t.Error("cached copy not served with the server down")
	}
}

func TestCacheDamage(t *testing.T) {
	ls := newListServer(t, testList)
	ls.etag = `"v1"`
	dir := t.TempDir()
	ctx := context.Background()
	src := []Source{{Category: "ads", URL: ls.url()}}
	s := newTestStore(t, dir, newTestClock(), nil)
	if err := s.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	cc := &diskCache{dir: filepath.Join(dir, "lists")}
	key := "url:" + ls.url()
	if err := os.WriteFile(cc.metaPath(key), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(cc.dir, "fetch-12345.tmp")
	if err := os.WriteFile(stale, []byte("half a download"), 0o644); err != nil {
		t.Fatal(err)
	}

	s2 := newTestStore(t, dir, newTestClock(), nil)
	if err := s2.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	s2.Load(ctx)
	if !storeBlocks(s2, "ads.example.com", "ads") {
		t.Error("copy with a damaged sidecar not served")
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("temporary file of a crashed run not removed")
	}
	if err := s2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ls.mu.Lock()
	inm := ls.inm[len(ls.inm)-1]
	ls.mu.Unlock()
	if inm != "" {
		t.Errorf("validator %q sent from a damaged sidecar", inm)
	}
	if m, ok, _ := cc.load(key); !ok || m.ETag != `"v1"` {
		t.Errorf("sidecar not rewritten: %+v", m)
	}
}

// TestCacheCopyDeleted removes the cached copy behind a running store: the
// next refresh must download again rather than trust its validators.
func TestCacheCopyDeleted(t *testing.T) {
	ls := newListServer(t, testList)
	ls.etag = `"v1"`
	dir := t.TempDir()
	ctx := context.Background()
	s := newTestStore(t, dir, newTestClock(), nil)
	if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	cc := &diskCache{dir: filepath.Join(dir, "lists")}
	if err := os.Remove(cc.dataPath("url:" + ls.url())); err != nil {
		t.Fatal(err)
	}
	s.Load(ctx) // rebuilds from copies and notices the loss
	if st := statusOf(t, s, ls.url()); st.HasCopy || st.LastError == "" {
		t.Errorf("status with the copy gone = %+v", st)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ls.mu.Lock()
	inm := ls.inm[len(ls.inm)-1]
	ls.mu.Unlock()
	if inm != "" || !storeBlocks(s, "ads.example.com", "ads") {
		t.Errorf("refresh sent If-None-Match %q; blocked %v", inm, storeBlocks(s, "ads.example.com", "ads"))
	}
}
