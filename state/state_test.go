package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

// t0 is the tests' "now"; the fake clock starts there.
var t0 = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)

// newClock returns a test clock at t0.
func newClock() *dnstest.Clock { return dnstest.NewClock(t0) }

func TestEntryActive(t *testing.T) {
	e := Entry{Until: t0}
	for _, tc := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"long before", t0.Add(-time.Hour), true},
		{"just before", t0.Add(-time.Nanosecond), true},
		{"at until", t0, false},
		{"just after", t0.Add(time.Nanosecond), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.Active(tc.now); got != tc.want {
				t.Errorf("Active(%v) = %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	until := t0.Add(30 * time.Minute)
	ok := Entry{Target: "kid-ipad", Kind: Allow, What: "youtube", Until: until, By: "cli"}
	with := func(f func(*Entry)) Entry { e := ok; f(&e); return e }
	for _, tc := range []struct {
		name    string
		e       Entry
		wantErr string // "" = valid
	}{
		{"allow", ok, ""},
		{"pause", Entry{Target: "kids", Kind: Pause, Until: until}, ""},
		{"own id", with(func(e *Entry) { e.ID = "pause.kid-ipad~1" }), ""},
		{"unicode target", with(func(e *Entry) { e.Target = "Zoë's phone" }), ""},
		{"no target", with(func(e *Entry) { e.Target = "" }), "target is empty"},
		{"no kind", with(func(e *Entry) { e.Kind = "" }), `kind ""`},
		{"bad kind", with(func(e *Entry) { e.Kind = "block" }), `kind "block"`},
		{"allow without what", with(func(e *Entry) { e.What = "" }), "what is empty"},
		{"pause with what", Entry{Target: "kids", Kind: Pause, What: "x", Until: until}, "a pause has no what"},
		{"no until", with(func(e *Entry) { e.Until = time.Time{} }), "until is not set"},
		{"until passed", with(func(e *Entry) { e.Until = t0.Add(-time.Second) }), "has already passed"},
		{"until now", with(func(e *Entry) { e.Until = t0 }), "has already passed"},
		{"id with slash", with(func(e *Entry) { e.ID = "a/b" }), "id"},
		{"id too long", with(func(e *Entry) { e.ID = strings.Repeat("a", 65) }), "id"},
		{"target too long", with(func(e *Entry) { e.Target = strings.Repeat("a", 257) }), "longer than"},
		{"control character", with(func(e *Entry) { e.By = "cli\n" }), "control character"},
		{"not utf-8", with(func(e *Entry) { e.What = "\xff" }), "not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalize(tc.e, t0)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("normalize = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			if !validID(got.ID) || (tc.e.ID != "" && got.ID != tc.e.ID) {
				t.Errorf("ID = %q (given %q)", got.ID, tc.e.ID)
			}
			if !got.Created.Equal(t0) || got.Created.Location() != time.UTC {
				t.Errorf("Created = %v, want %v in UTC", got.Created, t0)
			}
		})
	}
}

func TestNormalizeKeepsCreatedAndUTC(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	now := time.Now() // carries a monotonic reading, which must not be kept
	created := now.Add(-time.Hour).In(paris)
	e, err := normalize(Entry{Target: "kids", Kind: Pause, Until: now.Add(time.Hour).In(paris), Created: created}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Created.Equal(created) || e.Created.Location() != time.UTC || e.Until.Location() != time.UTC {
		t.Errorf("got Created %v Until %v; want the given instants in UTC", e.Created, e.Until)
	}
	if e.Until != e.Until.Round(0) || e.Created != e.Created.Round(0) {
		t.Error("a time keeps its monotonic clock reading")
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := newID()
		if len(id) != 16 || !validID(id) || seen[id] {
			t.Fatalf("newID = %q (len %d, seen %v)", id, len(id), seen[id])
		}
		seen[id] = true
	}
}

func TestFilterMatch(t *testing.T) {
	e := Entry{ID: "a", Target: "kid-ipad", Kind: Allow, What: "youtube"}
	for _, tc := range []struct {
		f    Filter
		want bool
	}{
		{Filter{ID: "a"}, true},
		{Filter{ID: "b"}, false},
		{Filter{Target: "kid-ipad"}, true},
		{Filter{Target: "kids"}, false},
		{Filter{Kind: Allow}, true},
		{Filter{Kind: Pause}, false},
		{Filter{What: "youtube"}, true},
		{Filter{What: "tiktok"}, false},
		{Filter{Target: "kid-ipad", Kind: Allow, What: "youtube"}, true},
		{Filter{Target: "kid-ipad", Kind: Pause}, false},
	} {
		if got := tc.f.Match(e); got != tc.want {
			t.Errorf("%+v.Match = %v, want %v", tc.f, got, tc.want)
		}
	}
}
