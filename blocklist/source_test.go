package blocklist

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestSourceValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     Source
		wantErr string // "" = valid
	}{
		{"url", Source{Category: "a", URL: "https://lists.example/x.txt"}, ""},
		{"path", Source{Category: "a", Path: "/etc/haven/deny.txt"}, ""},
		{"builtin", Source{Category: "a", Builtin: "adult"}, ""},
		{"inline", Source{Category: "a", Inline: []string{"x.example"}}, ""},
		{"empty inline", Source{Category: "a", Inline: []string{}}, ""},
		{"nothing", Source{Category: "a"}, "exactly one"},
		{"two", Source{Category: "a", URL: "https://x.example/", Path: "/x"}, "exactly one"},
		{"no category", Source{URL: "https://x.example/"}, "no category"},
		{"ftp", Source{Category: "a", URL: "ftp://x.example/list"}, "scheme"},
		{"no host", Source{Category: "a", URL: "https:///list"}, "no host"},
		{"bad url", Source{Category: "a", URL: "http://x.example/%zz"}, "bad URL"},
		{"unknown builtin", Source{Category: "a", Builtin: "gambling"}, "unknown builtin"},
		{"builtin path", Source{Category: "a", Builtin: "../builtin/adult"}, "unknown builtin"},
		{"inline newline", Source{Category: "a", Inline: []string{"a.example\nb.example"}}, "line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateSources([]Source{tc.src})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("valid source refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSourceNames(t *testing.T) {
	for _, tc := range []struct {
		src  Source
		want string
	}{
		{Source{Category: "a", URL: "https://x.example/l"}, "https://x.example/l"},
		{Source{Category: "a", Path: "/l.txt"}, "/l.txt"},
		{Source{Category: "a", Builtin: "adult"}, "builtin:adult"},
		{Source{Category: "custom", Inline: []string{}}, "inline:custom"},
		{Source{Category: "a", Builtin: "adult", Name: "starter"}, "starter"},
	} {
		if got := tc.src.name(); got != tc.want {
			t.Errorf("name of %+v = %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestTooManyCategories(t *testing.T) {
	var src []Source
	for i := range 65 {
		src = append(src, Source{Category: fmt.Sprintf("c%d", i), Inline: []string{"x.example"}})
	}
	s := NewStore(StoreOptions{})
	if err := s.SetSources(context.Background(), src); err == nil || !strings.Contains(err.Error(), "64") {
		t.Errorf("65 categories: error %v", err)
	}
	if err := s.SetSources(context.Background(), src[:64]); err != nil {
		t.Errorf("64 categories: %v", err)
	}
}
