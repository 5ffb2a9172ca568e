package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic or hang, that a failure
// is always a non-empty Errors naming the file, and that a success is a
// usable Config.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range append(files, "default.yaml") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "[]", "upstreams: 9.9.9.9\nanswer: null", "a: &a [*a]",
		"upstreams: [&u 1.1.1.1, *u]\nlists: {a: &s {inline: *u}, b: *s}",
		"upstreams: 9.9.9.9\nlists: {a: {inline: \"x\\n\\ny\"}}\nblock: a",
		"upstreams: 9.9.9.9\nprofiles: {a: {inherit: b}, b: {inherit: a}}\ndefault_profile: a",
		"upstreams: 9.9.9.9\nprofiles: &p {a: {schedules: [{name: s, days: sun, from: \"1:00\", to: \"24:00\", block: all}]}}\ndevices: [{name: d, match: [\"aabb.ccdd.eeff\", 10.0.0.0/8], profile: a}]",
		"upstreams: 9.9.9.9\nservices: {x: [x.example]}\nblock: [x, bypass]\nmac_from: 10.0.0.1\ntls: {listen: \":853\"}\ncert: {cert: c, key: k}\nhttp: \":8053\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %q is not a non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.File != "f.yaml" || e.Msg == "" {
					t.Fatalf("bad error %+v", e)
				}
			}
			if c != nil {
				t.Fatalf("Config returned with an error")
			}
			return
		}
		if len(c.Upstreams) == 0 || len(c.Listen) == 0 {
			t.Fatalf("accepted config without upstreams or listen addresses")
		}
		known := map[string]bool{"custom": true, "bypass": true}
		for _, l := range c.Lists {
			known[l.Category] = true
		}
		for _, s := range c.Services {
			if len(s.Domains) == 0 {
				t.Fatalf("service %q has no domains", s.Name)
			}
			known[s.Name] = true
		}
		for _, b := range c.Block {
			if !known[b] {
				t.Fatalf("blocked %q is neither a category nor a service", b)
			}
		}
		profiles := make(map[string]bool)
		for _, p := range c.Profiles {
			profiles[p.Name] = true
			if p.Location == nil || len(p.Schedules) > maxSchedules {
				t.Fatalf("profile %q: Location %v, %d schedules", p.Name, p.Location, len(p.Schedules))
			}
			for _, b := range p.Block {
				if !known[b] {
					t.Fatalf("profile %q blocks unknown %q", p.Name, b)
				}
			}
		}
		if !profiles[c.DefaultProfile] {
			t.Fatalf("default profile %q is not a profile", c.DefaultProfile)
		}
		for _, d := range c.Devices {
			if !profiles[d.Profile] || profiles[d.Name] || len(d.Match) == 0 {
				t.Fatalf("bad device %+v", d)
			}
		}
		if !strings.HasPrefix(c.Summary(), "config: f.yaml\n") {
			t.Fatalf("summary does not start with the file")
		}
	})
}
