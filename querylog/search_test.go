package querylog

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// searchData is ten queries, one a minute from t0; a row's minute is its
// index here.
func searchData() []Entry {
	mk := func(dev, prof, client, name, dec, cat string) Entry {
		return Entry{Device: dev, Profile: prof, Client: netip.MustParseAddr(client),
			Name: name, Decision: dec, Category: cat, Proto: "udp", Cache: "none"}
	}
	es := []Entry{
		mk("tablet", "kids", "192.168.1.10", "www.youtube.com", "allowed", ""),
		mk("tablet", "kids", "192.168.1.10", "ads.doubleclick.net", "blocked", "ads"),
		mk("laptop", "adults", "192.168.1.20", "mail.example.org", "allowed", ""),
		mk("tablet", "kids", "192.168.1.10", "porn.example", "blocked", "adult"),
		mk("phone", "kids", "2001:db8:1:2::5", "youtube.com", "rewritten", ""),
		mk("laptop", "adults", "192.168.1.20", "ads.doubleclick.net", "blocked", "ads"),
		mk("phone", "kids", "2001:db8:1:2::5", "tiktok.com", "blocked", "social"),
		mk("tablet", "kids", "192.168.1.10", "api.example.org", "allowed", ""),
		mk("laptop", "adults", "192.168.1.20", "www.youtube.com", "allowed", ""),
		mk("phone", "kids", "2001:db8:1:2::5", "failing.test", "failed", ""),
	}
	for i := range es {
		es[i].Time = t0.Add(time.Duration(i) * time.Minute)
	}
	return es
}

// minutes maps rows to their minute after t0, i.e. their searchData index.
func minutes(rows []Row) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = int(r.Time.Sub(t0) / time.Minute)
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	l := openTest(t, Options{})
	addAll(t, l, searchData()...)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name string
		f    Filter
		want []int // newest first
	}{
		{"all", Filter{}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"device", Filter{Device: "tablet"}, []int{7, 3, 1, 0}},
		{"profile", Filter{Profile: "adults"}, []int{8, 5, 2}},
		{"client v4", Filter{Client: "192.168.1.20"}, []int{8, 5, 2}},
		{"client v6", Filter{Client: "2001:db8:1:2::5"}, []int{9, 6, 4}},
		{"client v6 other spelling", Filter{Client: "2001:0db8:0001:0002:0:0:0:5"}, []int{9, 6, 4}},
		{"name substring", Filter{Name: "youtube"}, []int{8, 4, 0}},
		{"name case and dot", Filter{Name: "YouTube.COM."}, []int{8, 4, 0}},
		{"name is not a pattern", Filter{Name: "%"}, nil},
		{"decision", Filter{Decision: "blocked"}, []int{6, 5, 3, 1}},
		{"category", Filter{Category: "ads"}, []int{5, 1}},
		{"from", Filter{From: at(7)}, []int{9, 8, 7}},
		{"to is exclusive", Filter{To: at(2)}, []int{1, 0}},
		{"range", Filter{From: at(3), To: at(6)}, []int{5, 4, 3}},
		{"device and decision", Filter{Device: "tablet", Decision: "blocked"}, []int{3, 1}},
		{"profile, name and range", Filter{Profile: "kids", Name: "youtube", From: at(1)}, []int{4}},
		{"no match", Filter{Device: "toaster"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, next, err := l.Search(context.Background(), tt.f)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if got := minutes(rows); !slices.Equal(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
			if next != 0 {
				t.Errorf("next = %d, want 0", next)
			}
		})
	}
}

func TestSearchBadClient(t *testing.T) {
	l := openTest(t, Options{})
	if _, _, err := l.Search(context.Background(), Filter{Client: "tablet"}); err == nil {
		t.Error("Search with a client that is no address: want error")
	}
}

func TestSearchPaging(t *testing.T) {
	l := openTest(t, Options{})
	var es []Entry
	for i := range 25 {
		dev := "tablet"
		if i%5 == 0 {
			dev = "laptop"
		}
		es = append(es, Entry{Time: t0.Add(time.Duration(i) * time.Minute), Device: dev, Name: "a.example"})
	}
	addAll(t, l, es...)

	tests := []struct {
		name  string
		f     Filter
		pages []int // rows per page
	}{
		{"all by 10", Filter{Limit: 10}, []int{10, 10, 5}},
		{"exact pages", Filter{Limit: 5}, []int{5, 5, 5, 5, 5}},
		{"filtered", Filter{Device: "tablet", Limit: 7}, []int{7, 7, 6}},
		{"one page", Filter{Device: "laptop"}, []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			var pages []int
			var seen []int
			for {
				rows, next, err := l.Search(context.Background(), f)
				if err != nil {
					t.Fatalf("Search: %v", err)
				}
				pages = append(pages, len(rows))
				seen = append(seen, minutes(rows)...)
				if next == 0 {
					break
				}
				if next != rows[len(rows)-1].ID {
					t.Fatalf("next = %d, want the last row's ID %d", next, rows[len(rows)-1].ID)
				}
				if len(pages) > 10 {
					t.Fatal("paging does not end")
				}
				f.Before = next
			}
			if !slices.Equal(pages, tt.pages) {
				t.Errorf("pages = %v, want %v", pages, tt.pages)
			}
			if !slices.IsSortedFunc(seen, func(a, b int) int { return b - a }) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
				t.Errorf("rows over all pages not strictly newest first: %v", seen)
			}
		})
	}
}

func TestSearchLimitCapped(t *testing.T) {
	l := openTest(t, Options{})
	es := make([]Entry, MaxLimit+5)
	for i := range es {
		es[i] = Entry{Time: t0, Name: fmt.Sprintf("a%d.example", i)} // not collapsed
	}
	addAll(t, l, es...)
	rows, next, err := l.Search(context.Background(), Filter{Limit: 5000})
	if err != nil || len(rows) != MaxLimit || next == 0 {
		t.Errorf("Search(Limit 5000) = %d rows, next %d, %v; want %d and a next page", len(rows), next, err, MaxLimit)
	}
	rows, _, _ = l.Search(context.Background(), Filter{})
	if len(rows) != DefaultLimit {
		t.Errorf("Search(no limit) = %d rows, want %d", len(rows), DefaultLimit)
	}
}
