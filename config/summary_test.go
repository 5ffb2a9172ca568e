package config

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	want := `config: testdata/full.yaml
listen: :53 (UDP and TCP)
upstreams (in order, timeout 2s):
  tls://1.1.1.1:853 (tls to 1.1.1.1:853, TLS name 1.1.1.1)
  https://dns.quad9.net/dns-query (https to dns.quad9.net:443, TLS name dns.quad9.net)
  udp://9.9.9.9:53 (udp to 9.9.9.9:53)
conditional:
  home.arpa. -> udp://192.168.1.1:53
  lan. -> udp://192.168.1.1:53, tcp://192.168.1.1:53
cache: 100000 entries, TTL 0s to 24h, serve stale up to 1h
answer: address 192.0.2.10 and 2001:db8::10, TTL 1m
data_dir: /var/lib/haven
refresh: every 4h
lists:
  adult (blocked):
    url https://example.org/porn-hosts.txt
    file /etc/haven/adult-extra.txt
    builtin adult
  malware (blocked):
    url https://example.org/malware.txt
    x list: url https://example.org/x.txt (exact names only)
  custom (not blocked):
    inline (full.yaml:13): 2 entries
  smarttv (not blocked):
    file /etc/haven/regex.list (regular expressions)
allow: 1 name
deny: 1 name (category custom)
block: adult, malware
log: info, text
profiles (unmatched clients: default):
  default:
    block: adult, malware
    allow: 1 name
    deny: 1 name
services: 23 built-in
`
	if got := mustLoad(t, "testdata/full.yaml").Summary(); got != want {
		t.Errorf("Summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryVariants(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // lines the summary must contain
	}{
		{"minimal", "upstreams: 9.9.9.9", []string{
			"config: t.yaml", "answer: nxdomain, TTL 1m", "data_dir: none (lists kept in memory only)",
			"lists: none", "allow: 0 names", "block: nothing"}},
		{"off", "upstreams: 9.9.9.9\ncache: {size: 0}\nrefresh: 0\nanswer: {mode: refused, ttl: 10s}", []string{
			"cache: off", "refresh: never", "answer: refused, TTL 10s"}},
		{"no stale", "upstreams: 9.9.9.9\ncache: {serve_stale: 0, max_ttl: 7d}\nanswer: \"::\"", []string{
			"cache: 100000 entries, TTL 0s to 7d, never serve stale", "answer: address ::, TTL 1m"}},
		{"names", "upstreams: 9.9.9.9\nlists:\n  k:\n    - {file: a.txt, name: A}\n    - b.txt\n    - {inline: [x], name: mine}\nallow: [a.example, b.example]", []string{
			"  k (not blocked):", "    A: file a.txt", "    file b.txt", "    mine: inline 1 entry", "allow: 2 names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.yaml).Summary()
			lines := strings.Split(got, "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("summary lacks line %q:\n%s", w, got)
				}
			}
		})
	}
	if got := Default().Summary(); !strings.HasPrefix(got, "config: built-in default\n") {
		t.Errorf("Default().Summary() starts %q", strings.SplitN(got, "\n", 2)[0])
	}
}
