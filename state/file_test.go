package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFilePersists(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "sub", "state.json") // the directory is created
	f := openFile(t, path, c)
	fixture(t, f, c)
	if _, err := f.Delete(context.Background(), Filter{ID: "a2"}); err != nil {
		t.Fatal(err)
	}
	want := list(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	g := openFile(t, path, c)
	if got := list(t, g); !slices.Equal(got, want) {
		t.Errorf("after reopen\n got %+v\nwant %+v", got, want)
	}
	if g.Recovered() != nil {
		t.Errorf("Recovered = %v", g.Recovered())
	}

	// Entries that ended while the store was closed are not loaded.
	g.Close()
	c.Advance(time.Hour)
	h := openFile(t, path, c)
	if got := ids(list(t, h)); !slices.Equal(got, []string{"p2", "a3"}) {
		t.Errorf("an hour later, loaded %v, want [p2 a3]", got)
	}
}

func TestFileFormat(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFile(t, path, c)
	put(t, f, Entry{ID: "x", Target: "kid-ipad", Kind: Allow, What: "youtube", Until: t0.Add(30 * time.Minute), By: "cli"})
	put(t, f, Entry{ID: "y", Target: "kids", Kind: Pause, Until: t0.Add(time.Hour), Created: t0.Add(time.Second)})

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("file is not JSON: %v\n%s", err, data)
	}
	want := map[string]any{
		"version": 1.0,
		"entries": []any{
			map[string]any{"id": "x", "target": "kid-ipad", "kind": "allow", "what": "youtube",
				"until": "2026-03-14T15:30:00Z", "created": "2026-03-14T15:00:00Z", "by": "cli"},
			map[string]any{"id": "y", "target": "kids", "kind": "pause",
				"until": "2026-03-14T16:00:00Z", "created": "2026-03-14T15:00:01Z"},
		},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("file\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
}

func TestFileCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name, content, reason string
	}{
		{"bad json", `{"version":1,"entries":[{"id":"x",`, "unexpected end of JSON input"},
		{"empty", ``, "unexpected end of JSON input"},
		{"not an object", `[1,2,3]`, "cannot unmarshal array"},
		{"trailing garbage", `{"version":1,"entries":[]} x`, "invalid character 'x' after top-level value"},
		{"no version", `{"entries":[]}`, "unsupported version 0"},
		{"newer version", `{"version":2,"entries":[]}`, "unsupported version 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c := newClock()
			f, err := OpenFile(path, FileOptions{Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("OpenFile = %v; a corrupt file must not stop the daemon", err)
			}
			defer f.Close()

			var ce *CorruptError
			if !errors.As(f.Recovered(), &ce) {
				t.Fatalf("Recovered = %v, want a *CorruptError", f.Recovered())
			}
			aside := path + ".corrupt-20260314T150000Z"
			msg := ce.Error()
			for _, want := range []string{path, tc.reason, aside} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), tc.reason) {
				t.Errorf("not logged as an error: %s", logs.String())
			}
			if kept, err := os.ReadFile(aside); err != nil || string(kept) != tc.content {
				t.Errorf("kept aside: %q, %v; want the original content", kept, err)
			}
			if got := list(t, f); len(got) != 0 {
				t.Errorf("started with %v, want nothing", got)
			}
			put(t, f, Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)})
			f.Close()
			g := openFile(t, path, c)
			if g.Recovered() != nil || len(list(t, g)) != 1 {
				t.Errorf("after recovery and a write: Recovered = %v, %d entries; want nil, 1", g.Recovered(), len(list(t, g)))
			}
		})
	}
}

func TestFileCorruptTwiceKeepsBoth(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	c := newClock()
	for i, content := range []string{"first", "second"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		f := openFile(t, path, c)
		var ce *CorruptError
		if !errors.As(f.Recovered(), &ce) {
			t.Fatalf("round %d: Recovered = %v", i, f.Recovered())
		}
		if kept, _ := os.ReadFile(ce.Aside); string(kept) != content {
			t.Errorf("round %d: %s holds %q, want %q", i, ce.Aside, kept, content)
		}
		f.Close()
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 2 {
		t.Errorf("kept aside: %v, want two files", matches)
	}
}

// TestFileInvalidEntries: entries a hand edit broke are dropped one by one;
// the rest survive.
func TestFileInvalidEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	content := `{"version":1,"entries":[
		{"id":"ok","target":"kids","kind":"pause","until":"2026-03-14T16:00:00Z","created":"2026-03-14T15:00:00Z"},
		{"id":"nokind","target":"kids","until":"2026-03-14T16:00:00Z"},
		{"target":"kids","kind":"pause","until":"2026-03-14T16:00:00Z"},
		{"id":"bad/id","target":"kids","kind":"pause","until":"2026-03-14T16:00:00Z"},
		{"id":"ended","target":"kids","kind":"pause","until":"2026-03-14T14:00:00Z"},
		{"id":"dup","target":"kids","kind":"allow","what":"a","until":"2026-03-14T16:00:00Z"},
		{"id":"dup","target":"kids","kind":"allow","what":"b","until":"2026-03-14T16:00:00Z"}
	],"comment":"unknown keys are ignored"}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f := openFile(t, path, newClock())
	if f.Recovered() != nil {
		t.Fatalf("Recovered = %v", f.Recovered())
	}
	got := list(t, f)
	if !slices.Equal(ids(got), []string{"dup", "ok"}) || got[0].What != "b" {
		t.Errorf("loaded %+v, want dup (what b) and ok", got)
	}
}

func TestFileRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, name := range []string{"state.json.tmp-123", "state.json.tmp-x", "other.tmp-1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"version":1,"entr`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	openFile(t, path, newClock())
	var left []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		left = append(left, de.Name())
	}
	if want := []string{"other.tmp-1", "state.json.lock"}; !slices.Equal(left, want) {
		t.Errorf("directory holds %v, want %v", left, want)
	}
}

func TestFileLocked(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFile(t, path, newClock())
	if g, err := OpenFile(path, FileOptions{}); err == nil || !strings.Contains(err.Error(), "in use") {
		if g != nil {
			g.Close()
		}
		t.Fatalf("second OpenFile = %v, want an in-use error", err)
	}
	f.Close()
	g, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatalf("OpenFile after Close: %v", err)
	}
	g.Close()
}

// TestFileWriteFails: when the file cannot be replaced, Put and Delete
// report it and the set stays as it was.
func TestFileWriteFails(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFile(t, path, c)
	fixture(t, f, c)
	before := list(t, f)
	// A non-empty directory in the file's place: the rename fails, as
	// root too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Put(context.Background(), Entry{Target: "kids", Kind: Pause, Until: t0.Add(time.Hour)}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Put = %v, want an error naming %s", err, path)
	}
	if n, err := f.Delete(context.Background(), Filter{Target: "kids"}); err == nil || n != 0 {
		t.Errorf("Delete = %d, %v; want 0 and an error", n, err)
	}
	if got := list(t, f); !slices.Equal(got, before) {
		t.Errorf("after failed writes\n got %+v\nwant %+v", got, before)
	}
	matches, _ := filepath.Glob(path + ".tmp-*")
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestFileUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.Mkdir(path, 0o755); err != nil { // a directory cannot be read as a file
		t.Fatal(err)
	}
	if f, err := OpenFile(path, FileOptions{}); err == nil {
		f.Close()
		t.Fatal("OpenFile of a directory succeeded")
	}
	// The failed open released its lock.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatalf("OpenFile after a failed one: %v", err)
	}
	f.Close()
}
