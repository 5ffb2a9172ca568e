package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestParsePolicyBad checks every rule of the family policy keys, with its
// exact "file:line: reason" message. Line 1 is always up.
func TestParsePolicyBad(t *testing.T) {
	const name = "(want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)"
	lists := "lists: {gaming: [g.txt], social: [s.txt]}\n" // line 2
	kids := "profiles:\n  kids:\n"                         // the profile's keys start at line 4
	sched := func(s string) string { return up + kids + "    schedules:\n      - " + s + "\n" }
	const overlap = ": an address without a host, 0.0.0.0 or [::] listens on every address, IPv4 and IPv6, so list it alone for its port"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		// profiles.
		{"profiles list", up + "profiles: [kids]\n", []string{"t.yaml:2: profiles: expected a mapping, got a list"}},
		{"profile name", up + "profiles: {Kids: }\n", []string{`t.yaml:2: profiles: invalid profile name "Kids" ` + name}},
		{"profile scalar", up + "profiles: {kids: strict}\n", []string{`t.yaml:2: profile "kids": expected a mapping, got a string`}},
		{"profile unknown key", up + kids + "    blok: [tiktok]\n", []string{`t.yaml:4: profile "kids": unknown key "blok"; did you mean "block"?`}},
		{"profile duplicate", up + "profiles:\n  kids: {}\n  kids: {}\n", []string{`t.yaml:4: profiles: duplicate key "kids" (first at line 3)`}},
		{"block typo", up + lists + "profiles:\n  kids:\n    block: [social, gamng]\n", []string{`t.yaml:5: profile "kids": unknown category or service "gamng" (did you mean "gaming"?)`}},
		{"block typo service", up + kids + "    block: [tiktk]\n", []string{`t.yaml:4: profile "kids": unknown category or service "tiktk" (did you mean "tiktok"?)`}},
		{"block unknown far", up + kids + "    block: [gambling]\n", []string{`t.yaml:4: profile "kids": unknown category or service "gambling" (not defined under lists or services)`}},
		{"block all", up + kids + "    block: [all]\n", []string{`t.yaml:4: profile "kids": "all" is only allowed in a schedule's block`}},
		{"block mapping", up + kids + "    block: {a: b}\n", []string{`t.yaml:4: profile "kids": block: expected a string, got a mapping`}},
		{"top-level block all", up + "block: [all]\n", []string{`t.yaml:2: block: "all" is only allowed in a schedule's block`}},
		{"top-level block typo", up + "block: [youtub]\n", []string{`t.yaml:2: block: unknown category or service "youtub" (did you mean "youtube"?)`}},
		{"allow", up + kids + "    allow: [\"exa mple.com\"]\n", []string{`t.yaml:4: profile "kids": allow: "exa mple.com": invalid character ' '`}},
		{"deny ip", up + kids + "    deny: [10.0.0.1]\n", []string{`t.yaml:4: profile "kids": deny: "10.0.0.1": an IP address, not a domain name`}},
		{"block_ips", up + kids + "    block_ips: [\"203.0.113.5/24\", nope, \"fe80::1%eth0\", \"::ffff:1.2.3.4\"]\n", []string{
			`t.yaml:4: profile "kids": block_ips: "203.0.113.5/24": host bits set (want 203.0.113.0/24)`,
			`t.yaml:4: profile "kids": block_ips: "nope": not an IP address or CIDR`,
			`t.yaml:4: profile "kids": block_ips: "fe80::1%eth0": a zone is not allowed`,
			`t.yaml:4: profile "kids": block_ips: "::ffff:1.2.3.4": write IPv4-mapped addresses as IPv4`}},
		{"safesearch list", up + kids + "    safesearch: [google]\n", []string{`t.yaml:4: profile "kids": safesearch: expected true, false or a mapping of engines, got a list`}},
		{"safesearch string", up + kids + "    safesearch: yes\n", []string{`t.yaml:4: profile "kids": safesearch: expected true, false or a mapping of engines, got a string`}},
		{"safesearch engine", up + kids + "    safesearch: {gogle: true, bing: 1}\n", []string{
			`t.yaml:4: profile "kids": safesearch: unknown key "gogle"; did you mean "google"?`,
			`t.yaml:4: profile "kids": safesearch.bing: expected true or false, got a number`}},
		{"safesearch youtube", up + kids + "    safesearch: {youtube: loose}\n", []string{`t.yaml:4: profile "kids": safesearch.youtube: unknown mode "loose" (want strict, moderate or false)`}},
		{"bypass", up + kids + "    bypass_prevention: on\n", []string{`t.yaml:4: profile "kids": bypass_prevention: expected true or false, got a string`}},
		{"timezone", up + kids + "    timezone: Europe/Lndon\n", []string{`t.yaml:4: profile "kids": timezone: unknown time zone "Europe/Lndon" (want an IANA name such as Europe/London)`}},
		{"timezone path", up + kids + "    timezone: ../../etc/passwd\n", []string{`t.yaml:4: profile "kids": timezone: unknown time zone "../../etc/passwd" (want an IANA name such as Europe/London)`}},
		{"answer", up + kids + "    answer: block\n", []string{`t.yaml:4: profile "kids": answer: unknown answer "block" (want nxdomain, null, refused, an IP address or a mapping)`}},
		{"answer mapping", up + kids + "    answer:\n      mode: address\n", []string{`t.yaml:5: profile "kids": answer: mode address needs ipv4, ipv6 or both`}},
		{"log", up + kids + "    log: some\n", []string{`t.yaml:4: profile "kids": log: unknown level "some" (want all, blocked or none)`}},

		// inherit and default_profile.
		{"inherit unknown", up + "profiles:\n  base: {}\n  kids: {inherit: bse}\ndefault_profile: base\n", []string{`t.yaml:4: profile "kids": inherit: unknown profile "bse" (did you mean "base"?)`}},
		{"inherit unknown far", up + kids + "    inherit: parents\n", []string{`t.yaml:4: profile "kids": inherit: unknown profile "parents"`}},
		{"inherit cycle", up + "profiles:\n  a: {inherit: b}\n  b: {inherit: a}\ndefault_profile: a\n", []string{
			`t.yaml:3: profile "a": inherit: cycle a -> b -> a`,
			`t.yaml:4: profile "b": inherit: cycle b -> a -> b`}},
		{"inherit self", up + "profiles:\n  a: {inherit: a}\n", []string{`t.yaml:3: profile "a": inherit: cycle a -> a`}},
		{"inherit into cycle", up + "profiles:\n  c: {inherit: a}\n  a: {inherit: b}\n  b: {inherit: a}\n  d: {inherit: c}\ndefault_profile: d\n", []string{
			`t.yaml:4: profile "a": inherit: cycle a -> b -> a`,
			`t.yaml:5: profile "b": inherit: cycle b -> a -> b`}},
		{"default required", up + "profiles:\n  a: {}\n  b: {}\n", []string{"t.yaml:2: default_profile: required when more than one profile is defined"}},
		{"default typo", up + "profiles:\n  kids: {}\n  adults: {}\ndefault_profile: adlts\n", []string{`t.yaml:5: default_profile: unknown profile "adlts" (did you mean "adults"?)`}},
		{"default without profiles", up + "default_profile: kids\n", []string{`t.yaml:2: default_profile: unknown profile "kids"`}},
		{"default list", up + "default_profile: [kids]\n", []string{"t.yaml:2: default_profile: expected a string, got a list"}},

		// schedules.
		{"schedules scalar", up + kids + "    schedules: bedtime\n", []string{`t.yaml:4: profile "kids": schedules: expected a mapping, got a string`}},
		{"schedule unknown key", sched(`{name: s, days: sun, from: "1:00", to: "2:00", block: all, until: "3:00"}`), []string{`t.yaml:5: profile "kids": schedule "s": unknown key "until" (want name, days, from, to, block, allow)`}},
		{"schedule required", sched(`{block: [tiktok]}`), []string{
			`t.yaml:5: profile "kids": schedule: name is required`,
			`t.yaml:5: profile "kids": schedule: days is required`,
			`t.yaml:5: profile "kids": schedule: from is required`,
			`t.yaml:5: profile "kids": schedule: to is required`}},
		{"schedule name", sched(`{name: Bed Time, days: sun, from: "1:00", to: "2:00", block: all}`), []string{`t.yaml:5: profile "kids": schedule "Bed Time": invalid name ` + name}},
		{"schedule duplicate", up + kids + "    schedules:\n      - {name: s, days: sun, from: \"1:00\", to: \"2:00\", block: all}\n      - {name: s, days: mon, from: \"1:00\", to: \"2:00\", block: all}\n",
			[]string{`t.yaml:6: profile "kids": schedule "s": duplicate name (also at line 5)`}},
		{"schedule days", sched(`{name: s, days: [sun, funday], from: "1:00", to: "2:00", block: all}`), []string{`t.yaml:5: profile "kids": schedule "s": days: unknown day "funday" (want mon to sun, weekdays, weekends or daily)`}},
		{"schedule no days", sched(`{name: s, days: [], from: "1:00", to: "2:00", block: all}`), []string{`t.yaml:5: profile "kids": schedule "s": days: none given`}},
		{"schedule from 24", sched(`{name: s, days: sun, from: "24:00", to: "2:00", block: all}`), []string{`t.yaml:5: profile "kids": schedule "s": from: "24:00": out of range 00:00 to 23:59`}},
		{"schedule to 24:01", sched(`{name: s, days: sun, from: "1:00", to: "24:01", block: all}`), []string{`t.yaml:5: profile "kids": schedule "s": to: "24:01": out of range 00:00 to 24:00`}},
		{"schedule clock format", sched(`{name: s, days: sun, from: 9pm, to: "2:00", block: all}`), []string{`t.yaml:5: profile "kids": schedule "s": from: "9pm": want HH:MM (24-hour clock)`}},
		{"schedule clock list", sched(`{name: s, days: sun, from: ["1:00"], to: "2:00", block: all}`), []string{`t.yaml:5: profile "kids": schedule "s": from: expected a string, got a list`}},
		{"schedule nothing", sched(`{name: s, days: sun, from: "1:00", to: "2:00"}`), []string{`t.yaml:5: profile "kids": schedule "s": needs block or allow (what changes while it is active)`}},
		{"schedule empty lists", sched(`{name: s, days: sun, from: "1:00", to: "2:00", block: [], allow: []}`), []string{`t.yaml:5: profile "kids": schedule "s": needs block or allow (what changes while it is active)`}},
		{"schedule unknown block", up + lists + "profiles:\n  kids:\n    schedules:\n      - {name: homework, days: weekdays, from: \"16:00\", to: \"18:00\", block: [social, gamng]}\n",
			[]string{`t.yaml:6: profile "kids": schedule "homework": unknown category or service "gamng" (did you mean "gaming"?)`}},
		{"schedule allow all", sched(`{name: s, days: sun, from: "1:00", to: "2:00", allow: [all]}`), []string{`t.yaml:5: profile "kids": schedule "s": "all" is only allowed in a schedule's block`}},
		{"schedule not mapping", sched(`bedtime`), []string{`t.yaml:5: profile "kids": schedules: expected a mapping, got a string`}},
		{"schedules too many", up + kids + "    schedules:\n" + manySchedules(65), []string{`t.yaml:69: profile "kids": schedules: too many (at most 64)`}},

		// devices.
		{"devices scalar", up + "devices: tablet\n", []string{"t.yaml:2: devices: expected a mapping, got a string"}},
		{"device no name", up + "devices:\n  - {match: [10.0.0.1]}\n", []string{"t.yaml:3: devices: a device needs a name"}},
		{"device name", up + "devices:\n  - {name: Kid Tablet, match: [10.0.0.1]}\n", []string{`t.yaml:3: devices: invalid device name "Kid Tablet" ` + name}},
		{"device duplicate", up + "devices:\n  - {name: tab, match: [10.0.0.1]}\n  - {name: tab, match: [10.0.0.2]}\n", []string{`t.yaml:4: device "tab": duplicate name (also at line 3)`}},
		{"device is profile", up + "profiles: {kids: }\ndevices:\n  - {name: kids, match: [10.0.0.1]}\n", []string{`t.yaml:4: device "kids": same name as a profile (devices and profiles share one namespace)`}},
		{"device is implicit profile", up + "devices:\n  - {name: default, match: [10.0.0.1]}\n", []string{`t.yaml:3: device "default": same name as a profile (devices and profiles share one namespace)`}},
		{"device no match", up + "devices:\n  - {name: tab}\n", []string{`t.yaml:3: device "tab": match: at least one IP address, CIDR, MAC address or client id is required`}},
		{"device bad match", up + "devices:\n  - {name: tab, match: [\"Kid Tablet\", \"10.0.0.1/8\", \"02:42:ac:11:00:02:00\"]}\n", []string{
			`t.yaml:3: device "tab": match: "Kid Tablet": want an IP address, a CIDR, a MAC address or a client id (lower-case letters, digits and -)`,
			`t.yaml:3: device "tab": match: "10.0.0.1/8": host bits set (want 10.0.0.0/8)`,
			`t.yaml:3: device "tab": match: "02:42:ac:11:00:02:00": want an IP address, a CIDR, a MAC address or a client id (lower-case letters, digits and -)`}},
		{"device same key", up + "devices:\n  - {name: a, match: [\"02:42:ac:11:00:02\"]}\n  - {name: b, match: [\"02-42-AC-11-00-02\"]}\n", []string{`t.yaml:4: device "b": match: "02-42-AC-11-00-02" is also in device "a" (line 3)`}},
		{"device same cidr", up + "devices:\n  - {name: a, match: [10.0.0.0/8]}\n  - name: b\n    match: [10.0.0.0/8]\n", []string{`t.yaml:5: device "b": match: "10.0.0.0/8" is also in device "a" (line 3)`}},
		{"device same ip as /32", up + "devices:\n  - {name: a, match: [10.0.0.1]}\n  - {name: b, match: [10.0.0.1/32]}\n", []string{`t.yaml:4: device "b": match: "10.0.0.1/32" is also in device "a" (line 3)`}},
		{"device profile", up + "profiles: {kids: }\ndevices:\n  - {name: tab, match: [10.0.0.1], profile: kds}\n", []string{`t.yaml:4: device "tab": unknown profile "kds" (did you mean "kids"?)`}},
		{"device unknown key", up + "devices:\n  - {name: tab, match: [10.0.0.1], mac: x}\n", []string{`t.yaml:3: device "tab": unknown key "mac"; did you mean "match"?`}},

		// services.
		{"services list", up + "services: [x]\n", []string{"t.yaml:2: services: expected a mapping, got a list"}},
		{"service name", up + "services: {School App: [a.example]}\n", []string{`t.yaml:2: services: invalid service name "School App" ` + name}},
		{"service reserved", up + "services: {custom: [a.example]}\n", []string{`t.yaml:2: services: "custom" is a reserved name (all, bypass and custom mean something of their own in block lists)`}},
		{"service is category", up + "lists: {social: [s.txt]}\nservices:\n  social: [a.example]\n", []string{`t.yaml:4: services: "social": same name as a category under lists`}},
		{"service domain", up + "services:\n  app: [\"*.app.example\"]\n", []string{`t.yaml:3: services.app: "*.app.example": wildcards are not supported`}},
		{"service no domains", up + "services:\n  app: []\n", []string{"t.yaml:3: services.app: no domains"}},
		{"service null", up + "services:\n  app:\n", []string{"t.yaml:3: services.app: no domains"}},
		{"category all", up + "lists:\n  all: [a.txt]\n", []string{`t.yaml:3: lists: "all" is a reserved name (in a schedule, block: [all] blocks everything)`}},

		// mac_from and neighbors.
		{"mac_from", up + "mac_from: [router, \"192.168.1.1/24\"]\n", []string{
			`t.yaml:2: mac_from: "router": not an IP address or CIDR`,
			`t.yaml:2: mac_from: "192.168.1.1/24": host bits set (want 192.168.1.0/24)`}},
		{"neighbors", up + "neighbors: yes\n", []string{"t.yaml:2: neighbors: expected true or false, got a string"}},

		// tls, https, cert, http.
		{"tls scalar", up + "tls: \":853\"\n", []string{"t.yaml:2: tls: expected a mapping, got a string"}},
		{"tls unknown key", up + "tls: {listn: \":853\"}\n", []string{`t.yaml:2: tls: unknown key "listn"; did you mean "listen"?`}},
		{"tls listen", up + "data_dir: d\ntls:\n  listen: [\"localhost:853\", \":853\", \"[::]:853\", \":0853\"]\n", []string{
			`t.yaml:4: tls.listen: "localhost:853": host "localhost" is not an IP address (leave it empty to listen on all addresses)`,
			`t.yaml:4: tls.listen: ":0853": duplicate address (also at line 4)`,
			`t.yaml:4: tls.listen: "[::]:853": overlaps tls.listen ":853" (line 4)` + overlap}},
		{"tls server name", up + "tls: {server_name: \"dns example\"}\n", []string{`t.yaml:2: tls.server_name: "dns example": invalid character ' '`}},
		{"tls needs data_dir", up + "tls:\n  listen: \":853\"\n", []string{"t.yaml:2: tls: a generated certificate needs data_dir"}},
		{"https needs data_dir", up + "https: {listen: \":443\"}\n", []string{"t.yaml:2: https: a generated certificate needs data_dir"}},
		{"https listen", up + "https: {listen: [443]}\ncert: {cert: c, key: k}\n", []string{`t.yaml:2: https.listen: "443": want host:port, e.g. ":53" or "192.168.1.2:53"`}},
		{"cert no key", up + "cert: {cert: c.pem}\n", []string{"t.yaml:2: cert: key is missing (give both cert and key, or neither for a generated certificate)"}},
		{"cert no cert", up + "cert:\n  key: k.pem\n", []string{"t.yaml:3: cert: cert is missing (give both cert and key, or neither for a generated certificate)"}},
		{"cert unknown key", up + "cert: {crt: c, key: k}\n", []string{
			`t.yaml:2: cert: unknown key "crt"; did you mean "cert"?`,
			"t.yaml:2: cert: cert is missing (give both cert and key, or neither for a generated certificate)"}},
		{"http", up + "http: \"localhost:8053\"\n", []string{`t.yaml:2: http: "localhost:8053": host "localhost" is not an IP address (leave it empty to listen on all addresses)`}},
		{"http list", up + "http: [\"127.0.0.1:8053\"]\n", []string{"t.yaml:2: http: expected a string, got a list"}},
		{"address shared", up + "listen: [\"127.0.0.1:53\"]\nhttp: \"127.0.0.1:53\"\n", []string{`t.yaml:3: http: "127.0.0.1:53": also used by listen (line 2)`}},
		{"address shared default", up + "data_dir: d\ntls: {listen: \":53\"}\nhttps: {listen: \"[::]:53\"}\n", []string{
			`t.yaml:3: tls.listen: ":53": also used by listen (the default)`,
			`t.yaml:4: https.listen: "[::]:53": overlaps listen ":53" (the default)` + overlap}},
		{"wildcards of both families", up + "listen: [\"0.0.0.0:53\", \"[::]:53\"]\n", []string{
			`t.yaml:2: listen: "[::]:53": overlaps listen "0.0.0.0:53" (line 2)` + overlap}},
		{"wildcard and a loopback", up + "listen: [\"127.0.0.1:5353\"]\nhttp: \":5353\"\n", []string{
			`t.yaml:3: http: ":5353": overlaps listen "127.0.0.1:5353" (line 2)` + overlap}},
		{"wildcard on port 0 is no clash", up + "listen: [\"0.0.0.0:0\", \"[::]:0\"]\nhttp: \"bad\"\n", []string{
			`t.yaml:3: http: "bad": want host:port, e.g. ":53" or "192.168.1.2:53"`}},
		{"address shared tls https", up + "data_dir: d\ntls: {listen: \":853\"}\nhttps: {listen: \":853\"}\n", []string{`t.yaml:4: https.listen: ":853": also used by tls.listen (line 3)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q; got %+v", tt.want, c)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T %q is not Errors", err, err)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestParsePolicyManyErrors checks that policy mistakes all over a file are
// reported in one run.
func TestParsePolicyManyErrors(t *testing.T) {
	y := up + `lists: {gaming: [g.txt]}
profiles:
  kids:
    inherit: bse
    block: [gamng]
    schedules:
      - {name: s, days: [funday], from: "25:00", to: "1:00", block: all}
  teens: {log: loud}
devices:
  - {name: kids, match: [nope!]}
services: {gaming: [g.example]}
`
	_, err := Parse("t.yaml", []byte(y))
	want := []string{
		"t.yaml:3: default_profile: required when more than one profile is defined",
		`t.yaml:5: profile "kids": inherit: unknown profile "bse"`,
		`t.yaml:6: profile "kids": unknown category or service "gamng" (did you mean "gaming"?)`,
		`t.yaml:8: profile "kids": schedule "s": days: unknown day "funday" (want mon to sun, weekdays, weekends or daily)`,
		`t.yaml:8: profile "kids": schedule "s": from: "25:00": out of range 00:00 to 23:59`,
		`t.yaml:9: profile "teens": log: unknown level "loud" (want all, blocked or none)`,
		`t.yaml:11: device "kids": same name as a profile (devices and profiles share one namespace)`,
		`t.yaml:11: device "kids": match: "nope!": want an IP address, a CIDR, a MAC address or a client id (lower-case letters, digits and -)`,
		`t.yaml:12: services: "gaming": same name as a category under lists`,
	}
	if err == nil {
		t.Fatalf("Parse succeeded, want %q", want)
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

// TestDefaultProfileCount pins which files need default_profile.
func TestDefaultProfileCount(t *testing.T) {
	for n := 1; n <= 3; n++ {
		var b strings.Builder
		b.WriteString(up + "profiles:\n")
		for i := range n {
			fmt.Fprintf(&b, "  p%d: {}\n", i)
		}
		_, err := Parse("t.yaml", []byte(b.String()))
		if (err == nil) != (n == 1) {
			t.Errorf("%d profiles without default_profile: error %v", n, err)
		}
	}
}
