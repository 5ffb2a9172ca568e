package blocklist

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
