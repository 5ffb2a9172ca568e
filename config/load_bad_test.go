package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// up is a valid upstreams line, so that cases about other keys do not also
// report the missing upstreams. It is line 1 of every case that uses it.
const up = "upstreams: 9.9.9.9\n"

// TestParseBad checks every rule's exact "file:line: reason" message.
func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		// Structure.
		{"syntax", up + "listen: [\n", []string{"t.yaml:2: YAML syntax: did not find expected node content"}},
		{"tab indent", up + "cache:\n\tsize: 1\n", []string{"t.yaml:3: YAML syntax: found character that cannot start any token"}},
		{"empty file", "", []string{"t.yaml: upstreams: at least one upstream is required"}},
		{"comment only", "# nothing\n", []string{"t.yaml: upstreams: at least one upstream is required"}},
		{"top level list", "- 9.9.9.9\n", []string{"t.yaml:1: expected a mapping of keys at the top level, got a list"}},
		{"top level scalar", "hello\n", []string{"t.yaml:1: expected a mapping of keys at the top level, got a string"}},
		{"two documents", up + "---\n" + up, []string{"t.yaml:2: only one YAML document is allowed"}},
		{"unknown key close", up + "lisen: [\":53\"]\n", []string{`t.yaml:2: unknown key "lisen"; did you mean "listen"?`}},
		{"unknown key case", up + "Listen: [\":53\"]\n", []string{`t.yaml:2: unknown key "Listen"; did you mean "listen"?`}},
		{"unknown key far", up + "frobnicate: 1\n", []string{`t.yaml:2: unknown key "frobnicate" (want listen, udp_batch, udp_readers, upstreams, upstream, conditional, cache, answer, data_dir, refresh, lists, allow, deny, block, log, profiles, default_profile, devices, services, mac_from, neighbors, tls, https, cert, http, access, rate_limit, querylog, console)`}},
		{"unknown nested key", up + "cache:\n  sise: 10\n", []string{`t.yaml:3: cache: unknown key "sise"; did you mean "size"?`}},
		{"duplicate key", up + "refresh: 1h\nrefresh: 2h\n", []string{`t.yaml:3: duplicate key "refresh" (first at line 2)`}},
		{"duplicate nested key", up + "log: {level: info, level: debug}\n", []string{`t.yaml:2: log: duplicate key "level" (first at line 2)`}},
		{"merge key", up + "base: &b {size: 1}\n", []string{`t.yaml:2: unknown key "base" (want listen, udp_batch, udp_readers, upstreams, upstream, conditional, cache, answer, data_dir, refresh, lists, allow, deny, block, log, profiles, default_profile, devices, services, mac_from, neighbors, tls, https, cert, http, access, rate_limit, querylog, console)`}},
		{"merge key in cache", up + "cache: {<<: {size: 1}}\n", []string{"t.yaml:2: cache: merge keys (<<) are not supported"}},
		{"non-string key", up + "cache: {[a]: 1}\n", []string{"t.yaml:2: cache: keys must be strings, got a list"}},
		{"custom tag", up + "data_dir: !env HOME\n", []string{"t.yaml:2: data_dir: expected a string, got a value tagged !env"}},

		// listen.
		{"listen hostname", up + "listen: [\"localhost:53\"]\n", []string{`t.yaml:2: listen: "localhost:53": host "localhost" is not an IP address (leave it empty to listen on all addresses)`}},
		{"listen no port", up + "listen: [127.0.0.1]\n", []string{`t.yaml:2: listen: "127.0.0.1": want host:port, e.g. ":53" or "192.168.1.2:53"`}},
		{"listen bad port", up + "listen: [\"127.0.0.1:65536\"]\n", []string{`t.yaml:2: listen: "127.0.0.1:65536": invalid port "65536"`}},
		{"listen named port", up + "listen: [\"127.0.0.1:domain\"]\n", []string{`t.yaml:2: listen: "127.0.0.1:domain": invalid port "domain"`}},
		{"listen duplicate", up + "listen:\n  - \"[::]:53\"\n  - \"[0::0]:53\"\n", []string{`t.yaml:4: listen: "[0::0]:53": duplicate address (also at line 3)`}},
		{"listen empty", up + "listen: []\n", []string{"t.yaml:2: listen: at least one address is required (leave the key out for the default)"}},
		{"listen mapping", up + "listen: {a: b}\n", []string{"t.yaml:2: listen: expected a string, got a mapping"}},
		{"listen number", up + "listen: [53]\n", []string{`t.yaml:2: listen: "53": want host:port, e.g. ":53" or "192.168.1.2:53"`}},

		// upstreams.
		{"no upstreams", "listen: [\":53\"]\n", []string{"t.yaml:1: upstreams: at least one upstream is required"}},
		{"upstreams null", "upstreams:\n", []string{"t.yaml:1: upstreams: at least one upstream is required"}},
		{"upstreams empty", "upstreams: []\n", []string{"t.yaml:1: upstreams: at least one upstream is required"}},
		{"upstream scheme", "upstreams: [\"quic://1.1.1.1\"]\n", []string{`t.yaml:1: upstreams: "quic://1.1.1.1": unsupported scheme "quic" (want udp, tcp, tls or https)`}},
		{"upstream path on tls", "upstreams: [\"tls://1.1.1.1/dns\"]\n", []string{`t.yaml:1: upstreams: "tls://1.1.1.1/dns": a path is only allowed for https, not tls`}},
		{"upstream port 0", "upstreams: [\"udp://1.1.1.1:0\"]\n", []string{`t.yaml:1: upstreams: "udp://1.1.1.1:0": invalid port "0"`}},
		{"upstream empty port", "upstreams: [\"udp://1.1.1.1:\"]\n", []string{`t.yaml:1: upstreams: "udp://1.1.1.1:": empty port`}},
		{"upstream user", "upstreams: [\"https://u:p@dns.example/dns-query\"]\n", []string{`t.yaml:1: upstreams: "https://u:p@dns.example/dns-query": user info is not allowed`}},
		{"upstream query", "upstreams: [\"https://dns.example/dns-query?dns=x\"]\n", []string{`t.yaml:1: upstreams: "https://dns.example/dns-query?dns=x": a query is not allowed`}},
		{"upstream fragment", "upstreams: [\"tls://1.1.1.1#name\"]\n", []string{`t.yaml:1: upstreams: "tls://1.1.1.1#name": a fragment is not allowed`}},
		{"upstream no host", "upstreams: [\"tls://:853\"]\n", []string{`t.yaml:1: upstreams: "tls://:853": missing host`}},
		{"upstream bad host", "upstreams: [\"tls://dns!.example\"]\n", []string{`t.yaml:1: upstreams: "tls://dns!.example": host: invalid character '!'`}},
		{"upstream opaque", "upstreams: [\"udp:1.1.1.1\"]\n", []string{`t.yaml:1: upstreams: "udp:1.1.1.1": not a URL (want e.g. tls://1.1.1.1:853)`}},
		{"upstream duplicate", "upstreams: [9.9.9.9, \"udp://9.9.9.9:53\"]\n", []string{`t.yaml:1: upstreams: "udp://9.9.9.9:53": duplicate upstream (also at line 1)`}},
		{"upstream timeout zero", up + "upstream: {timeout: 0}\n", []string{"t.yaml:2: upstream.timeout: must be positive"}},
		{"upstream timeout unit", up + "upstream: {timeout: 2}\n", []string{`t.yaml:2: upstream.timeout: duration "2" has no unit (want e.g. 90s, 15m, 4h or 7d)`}},

		// conditional.
		{"conditional wildcard", up + "conditional: {\"*.lan\": 192.168.1.1}\n", []string{`t.yaml:2: conditional: "*.lan": wildcards are not supported`}},
		{"conditional root", up + "conditional: {.: 192.168.1.1}\n", []string{`t.yaml:2: conditional: ".": empty name`}},
		{"conditional ip", up + "conditional: {192.168.1.1: 192.168.1.1}\n", []string{`t.yaml:2: conditional: "192.168.1.1": an IP address, not a domain name`}},
		{"conditional no upstream", up + "conditional:\n  lan: []\n", []string{`t.yaml:3: conditional "lan": at least one upstream is required`}},
		{"conditional bad upstream", up + "conditional:\n  lan: [\"ftp://x\"]\n", []string{`t.yaml:3: conditional "lan": "ftp://x": unsupported scheme "ftp" (want udp, tcp, tls or https)`}},
		{"conditional same domain", up + "conditional:\n  lan: 10.0.0.1\n  LAN.: 10.0.0.2\n", []string{`t.yaml:4: conditional: "LAN.": same domain as line 3`}},
		{"conditional list", up + "conditional: [lan]\n", []string{"t.yaml:2: conditional: expected a mapping, got a list"}},

		// cache.
		{"cache scalar", up + "cache: 5\n", []string{"t.yaml:2: cache: expected a mapping, got a number"}},
		{"cache size string", up + "cache: {size: big}\n", []string{"t.yaml:2: cache.size: expected an integer, got a string"}},
		{"cache size float", up + "cache: {size: 1e5}\n", []string{"t.yaml:2: cache.size: expected an integer, got a number"}},
		{"cache size negative", up + "cache: {size: -1}\n", []string{"t.yaml:2: cache.size: must not be negative (0 disables the cache)"}},
		{"cache size huge", up + "cache: {size: 99999999999999999999}\n", []string{"t.yaml:2: cache.size: expected an integer, got a number"}},
		{"cache min over max", up + "cache:\n  min_ttl: 2h\n  max_ttl: 1h\n", []string{"t.yaml:4: cache: min_ttl 2h is greater than max_ttl 1h"}},
		{"cache min over default max", up + "cache: {min_ttl: 2d}\n", []string{"t.yaml:2: cache: min_ttl 2d is greater than max_ttl 24h"}},
		{"cache max zero", up + "cache: {max_ttl: 0}\n", []string{"t.yaml:2: cache.max_ttl: must be positive (size: 0 disables the cache)"}},
		{"cache negative", up + "cache: {serve_stale: -1h}\n", []string{`t.yaml:2: cache.serve_stale: "-1h" must not be negative`}},
		{"cache bad duration", up + "cache: {min_ttl: soon}\n", []string{`t.yaml:2: cache.min_ttl: invalid duration "soon" (want e.g. 90s, 15m, 4h or 7d)`}},

		// answer.
		{"answer word", up + "answer: block\n", []string{`t.yaml:2: answer: unknown answer "block" (want nxdomain, null, refused, an IP address or a mapping)`}},
		{"answer address word", up + "answer: address\n", []string{"t.yaml:2: answer: address needs an address: write it instead (answer: 192.0.2.10) or use {mode: address, ipv4: ..., ipv6: ...}"}},
		{"answer mapped", up + "answer: \"::ffff:192.0.2.1\"\n", []string{`t.yaml:2: answer: "::ffff:192.0.2.1": write IPv4-mapped addresses as IPv4`}},
		{"answer zone", up + "answer: \"fe80::1%eth0\"\n", []string{`t.yaml:2: answer: "fe80::1%eth0": a zone is not allowed`}},
		{"answer list", up + "answer: [nxdomain]\n", []string{"t.yaml:2: answer: expected a mode, an address or a mapping, got a list"}},
		{"answer address without ip", up + "answer:\n  mode: address\n", []string{"t.yaml:3: answer: mode address needs ipv4, ipv6 or both"}},
		{"answer ipv4 family", up + "answer: {mode: address, ipv4: \"2001:db8::1\"}\n", []string{`t.yaml:2: answer.ipv4: "2001:db8::1" is not an IPv4 address`}},
		{"answer ipv6 family", up + "answer: {ipv6: 192.0.2.1}\n", []string{`t.yaml:2: answer.ipv6: "192.0.2.1" is not an IPv6 address`}},
		{"answer ip with other mode", up + "answer:\n  mode: refused\n  ipv4: 192.0.2.1\n", []string{"t.yaml:4: answer: addresses are only used with mode: address"}},
		{"answer mode", up + "answer: {mode: sinkhole}\n", []string{`t.yaml:2: answer.mode: unknown mode "sinkhole" (want nxdomain, null, refused or address)`}},
		{"answer ttl", up + "answer: {ttl: 100000d}\n", []string{"t.yaml:2: answer.ttl: longer than the largest DNS TTL (2^31-1 seconds)"}},

		// data_dir and refresh.
		{"data_dir list", up + "data_dir: [a]\n", []string{"t.yaml:2: data_dir: expected a string, got a list"}},
		{"refresh too often", up + "refresh: 30s\n", []string{"t.yaml:2: refresh: 30s is too often (at least 1m, or 0 for never)"}},
		{"refresh no unit", up + "refresh: 60\n", []string{`t.yaml:2: refresh: duration "60" has no unit (want e.g. 90s, 15m, 4h or 7d)`}},
		{"refresh negative days", up + "refresh: -1d\n", []string{`t.yaml:2: refresh: "-1d" must not be negative`}},
		{"refresh overflow", up + "refresh: 200000000d\n", []string{`t.yaml:2: refresh: duration "200000000d" is too long`}},

		// lists.
		{"lists category name", up + "lists:\n  Adult: [builtin:adult]\n", []string{`t.yaml:3: lists: invalid category name "Adult" (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)`}},
		{"lists category too long", up + "lists:\n  " + strings.Repeat("a", 33) + ": [builtin:adult]\n", []string{`t.yaml:3: lists: invalid category name "` + strings.Repeat("a", 33) + `" (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)`}},
		{"lists too many", up + "lists:\n" + manyCategories(65), []string{"t.yaml:67: lists: too many categories (at most 64)"}},
		{"lists no sources", up + "lists:\n  adult: []\n", []string{"t.yaml:3: lists.adult: no sources"}},
		{"lists null sources", up + "lists:\n  adult:\n", []string{"t.yaml:3: lists.adult: no sources"}},
		{"lists scalar", up + "lists: builtin:adult\n", []string{"t.yaml:2: lists: expected a mapping, got a string"}},
		{"source builtin", up + "lists: {adult: [\"builtin:porn\"]}\n", []string{`t.yaml:2: lists.adult: unknown builtin list "porn" (want one of adult, bypass, malware)`}},
		{"source scheme", up + "lists: {adult: [\"ftp://example.org/x\"]}\n", []string{`t.yaml:2: lists.adult: "ftp://example.org/x": unsupported source (want an http(s) URL, builtin:NAME or a file path)`}},
		{"source url no host", up + "lists: {adult: [\"https:///x\"]}\n", []string{`t.yaml:2: lists.adult: "https:///x": missing host`}},
		{"source empty", up + "lists: {adult: [\"\"]}\n", []string{"t.yaml:2: lists.adult: empty source"}},
		{"source two kinds", up + "lists:\n  adult:\n    - {url: \"https://e.org/a\", builtin: adult}\n", []string{"t.yaml:4: lists.adult: url and builtin both given (a source has exactly one of url, file, builtin or inline)"}},
		{"source no kind", up + "lists:\n  adult:\n    - {name: x}\n", []string{"t.yaml:4: lists.adult: a source needs one of url, file, builtin or inline"}},
		{"source unknown key", up + "lists:\n  adult:\n    - {path: /x}\n", []string{`t.yaml:4: lists.adult: unknown key "path"; did you mean "match"?`, "t.yaml:4: lists.adult: a source needs one of url, file, builtin or inline"}},
		{"source url scheme", up + "lists: {adult: [{url: \"ftp://e.org/a\"}]}\n", []string{`t.yaml:2: lists.adult.url: "ftp://e.org/a": unsupported scheme (want http or https)`}},
		{"source match", up + "lists: {adult: [{builtin: adult, match: prefix}]}\n", []string{`t.yaml:2: lists.adult.match: unknown match "prefix" (want subtree or exact)`}},
		{"source format", up + "lists: {adult: [{file: x, format: hosts}]}\n", []string{`t.yaml:2: lists.adult.format: unknown format "hosts" (want auto or regex)`}},
		{"source empty name", up + "lists: {adult: [{file: x, name: \" \"}]}\n", []string{"t.yaml:2: lists.adult.name: empty name"}},
		{"source empty file", up + "lists: {adult: [{file: \"\"}]}\n", []string{"t.yaml:2: lists.adult.file: empty path"}},
		{"source inline empty", up + "lists: {adult: [{inline: []}]}\n", []string{"t.yaml:2: lists.adult.inline: no entries"}},
		{"source inline mapping", up + "lists: {adult: [{inline: {a: b}}]}\n", []string{"t.yaml:2: lists.adult.inline: expected a string, got a mapping"}},
		{"source null url", up + "lists:\n  adult:\n    - url:\n", []string{"t.yaml:4: lists.adult.url: expected a string, got nothing"}},
		{"source duplicate", up + "lists:\n  adult:\n    - builtin:adult\n    - {builtin: adult}\n", []string{`t.yaml:5: lists.adult: duplicate source "builtin:adult" (also at line 4)`}},
		{"source list in list", up + "lists:\n  adult: [[a]]\n", []string{"t.yaml:3: lists.adult: expected a string, got a list"}},

		// allow and deny.
		{"allow space", up + "allow: [\"exa mple.com\"]\n", []string{`t.yaml:2: allow: "exa mple.com": invalid character ' '`}},
		{"allow ip", up + "allow: [192.168.1.1]\n", []string{`t.yaml:2: allow: "192.168.1.1": an IP address, not a domain name`}},
		{"allow url", up + "allow: [\"https://example.com/\"]\n", []string{`t.yaml:2: allow: "https://example.com/": invalid character ':'`}},
		{"deny wildcard", up + "deny: [\"*.example.com\"]\n", []string{`t.yaml:2: deny: "*.example.com": wildcards are not supported`}},
		{"deny empty label", up + "deny: [\"a..example\"]\n", []string{`t.yaml:2: deny: "a..example": empty label (two dots in a row?)`}},
		{"deny long label", up + "deny: [" + strings.Repeat("a", 64) + ".com]\n", []string{`t.yaml:2: deny: "` + strings.Repeat("a", 64) + `.com": label longer than 63 characters`}},
		{"deny long name", up + "deny: [" + strings.Repeat("abcdefghi.", 26) + "com]\n", []string{`t.yaml:2: deny: "` + strings.Repeat("abcdefghi.", 26) + `com": name longer than 253 characters`}},
		{"deny numeric tld", up + "deny: [\"example.123\"]\n", []string{`t.yaml:2: deny: "example.123": top-level label is all digits`}},
		{"deny bad idn", up + "deny: [\"a\u200d.example\"]\n", []string{`t.yaml:2: deny: "a\u200d.example": not a valid international domain name`}},
		{"deny mapping", up + "deny: {a: b}\n", []string{"t.yaml:2: deny: expected a string, got a mapping"}},

		// block.
		{"block unknown", up + "lists: {adult: builtin:adult}\nblock:\n  - adult\n  - gambling\n", []string{`t.yaml:5: block: unknown category or service "gambling" (not defined under lists or services)`}},
		{"block without lists", up + "block: [adult]\n", []string{`t.yaml:2: block: unknown category or service "adult" (not defined under lists or services)`}},
		{"block mapping", up + "block: {adult: true}\n", []string{"t.yaml:2: block: expected a string, got a mapping"}},

		// log.
		{"log level", up + "log: {level: verbose}\n", []string{`t.yaml:2: log.level: unknown level "verbose" (want debug, info, warn or error)`}},
		{"log format", up + "log: {format: xml}\n", []string{`t.yaml:2: log.format: unknown format "xml" (want text or json)`}},
		{"log scalar", up + "log: debug\n", []string{"t.yaml:2: log: expected a mapping, got a string"}},

		// Aliases.
		{"aliases", up + "allow: [&n example.com" + strings.Repeat(", *n", 100) + "]\ndeny: [*n]\n", []string{"t.yaml:3: too many alias uses (at most 100)"}},
		{"alias bomb", up + aliasBomb(), []string{"t.yaml:3: too many alias uses (at most 100)"}},
		{"alias to itself", up + "lists: &l {a: *l}\n", []string{`t.yaml:2: lists.a: unknown key "a" (want url, file, builtin, inline, match, format, name)`, "t.yaml:2: lists.a: a source needs one of url, file, builtin or inline"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q; got %+v", tt.want, c)
			}
			if c != nil {
				t.Errorf("Parse returned a Config with its error")
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

func manyCategories(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  c%d: [builtin:adult]\n", i)
	}
	return b.String()
}

// aliasBomb is a "billion laughs" file: walked without a bound on alias
// uses it would make 64 categories of 1000 sources of 1000 entries each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("lists:\n")
	b.WriteString("  c0: &s [{inline: &e [" + strings.Repeat("x, ", 999) + "x]}" + strings.Repeat(", {inline: *e}", 999) + "]\n")
	for i := 1; i < 64; i++ {
		fmt.Fprintf(&b, "  c%d: *s\n", i)
	}
	return b.String()
}
