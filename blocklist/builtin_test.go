package blocklist

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"slices"
	"testing"
)

func TestBuiltins(t *testing.T) {
	if got := Builtins(); !slices.Equal(got, []string{"adult", "bypass", "malware"}) {
		t.Fatalf("Builtins() = %v", got)
	}
	// The starter lists are sized to block something out of the box; the
	// bypass list is whatever its publisher ships.
	size := map[string][2]int{"adult": {2500, 3500}, "malware": {2500, 3500}, "bypass": {700, 720}}
	total := 0
	for _, name := range Builtins() {
		t.Run(name, func(t *testing.T) {
			rc, err := openBuiltin(name)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			total += len(data)
			l, err := parseCopy(bytes.NewReader(data), ParseOptions{}, DefaultMaxBytes, true)
			if err != nil {
				t.Fatal(err)
			}
			if r := size[name]; l.Stats.Kept < r[0] || l.Stats.Kept > r[1] {
				t.Errorf("%d rules, want %d to %d", l.Stats.Kept, r[0], r[1])
			}
			// Every line is either a comment or a clean name.
			if len(l.Stats.Skipped) != 0 || l.Stats.Kept+l.Stats.Comments != l.Stats.Lines {
				t.Errorf("stats %+v: every line must be kept or a comment", l.Stats)
			}
		})
	}
	if total > 200<<10 {
		t.Errorf("built-in lists take %d bytes, budget 200 KiB", total)
	}
	if _, err := fs.Stat(builtinFS, "builtin/LICENSES.md"); err == nil {
		t.Error("LICENSES.md should not be embedded")
	}
}

func TestBuiltinLists(t *testing.T) {
	s := newTestStore(t, "", newTestClock(), nil)
	ctx := context.Background()
	err := s.SetSources(ctx, []Source{
		{Category: "adult", Builtin: "adult"},
		{Category: "malware", Builtin: "malware"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Load(ctx)
	for _, tc := range []struct {
		name string
		cat  string // "" = not blocked in any category
	}{
		{"pornhub.com", "adult"},
		{"www.xvideos.com", "adult"},
		{"cdn.xhamster.com", "adult"},
		{"onlyfans.com", "adult"},
		{"25z5g623wpqpdwis.onion.to", "malware"}, // ransomware list, first entry
		{"100038.azurewebsites.net", "malware"},  // phishing sample
		{"example.com", ""},
		{"wikipedia.org", ""},
		{"google.com", ""},
		{"refinery29.com", ""}, // left out: a general-interest site
		{"yandex.by", ""},
	} {
		m := s.Matcher()
		v := m.Lookup(tc.name, m.Mask("adult", "malware"))
		if v.Blocked != (tc.cat != "") || v.Category != tc.cat {
			t.Errorf("Lookup(%s) = %+v, want category %q", tc.name, v, tc.cat)
		}
	}
	for _, st := range s.Status() {
		if st.Rules < 2500 || st.LastError != "" || !st.HasCopy || st.Kind != SourceBuiltin {
			t.Errorf("status %+v", st)
		}
	}
}
