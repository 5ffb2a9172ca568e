package config

import (
	"testing"
	"time"
)

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		in   string
		want Upstream
	}{
		{"9.9.9.9", Upstream{URL: "udp://9.9.9.9:53", Proto: "udp", Addr: "9.9.9.9:53"}},
		{"9.9.9.9:5353", Upstream{URL: "udp://9.9.9.9:5353", Proto: "udp", Addr: "9.9.9.9:5353"}},
		{"2620:fe::fe", Upstream{URL: "udp://[2620:fe::fe]:53", Proto: "udp", Addr: "[2620:fe::fe]:53"}},
		{"[2620:fe::fe]:53", Upstream{URL: "udp://[2620:fe::fe]:53", Proto: "udp", Addr: "[2620:fe::fe]:53"}},
		{"dns.example", Upstream{URL: "udp://dns.example:53", Proto: "udp", Addr: "dns.example:53"}},
		{"tcp://192.168.1.1", Upstream{URL: "tcp://192.168.1.1:53", Proto: "tcp", Addr: "192.168.1.1:53"}},
		{"TLS://Dns.Example.", Upstream{URL: "tls://dns.example:853", Proto: "tls", Addr: "dns.example:853", ServerName: "dns.example"}},
		{"tls://1.1.1.1:8853", Upstream{URL: "tls://1.1.1.1:8853", Proto: "tls", Addr: "1.1.1.1:8853", ServerName: "1.1.1.1"}},
		{"tls://[fe80::1%25eth0]", Upstream{URL: "tls://[fe80::1%25eth0]:853", Proto: "tls", Addr: "[fe80::1%eth0]:853", ServerName: "fe80::1"}},
		{"https://dns.example", Upstream{URL: "https://dns.example/dns-query", Proto: "https", Addr: "dns.example:443", ServerName: "dns.example"}},
		{"https://dns.example/", Upstream{URL: "https://dns.example/dns-query", Proto: "https", Addr: "dns.example:443", ServerName: "dns.example"}},
		{"https://dns.example:443/q", Upstream{URL: "https://dns.example/q", Proto: "https", Addr: "dns.example:443", ServerName: "dns.example"}},
		{"https://dns.example:8443/a/b", Upstream{URL: "https://dns.example:8443/a/b", Proto: "https", Addr: "dns.example:8443", ServerName: "dns.example"}},
		{"https://[2606:4700::1111]", Upstream{URL: "https://[2606:4700::1111]/dns-query", Proto: "https", Addr: "[2606:4700::1111]:443", ServerName: "2606:4700::1111"}},
		{"https://bücher.example/dns-query", Upstream{URL: "https://xn--bcher-kva.example/dns-query", Proto: "https", Addr: "xn--bcher-kva.example:443", ServerName: "xn--bcher-kva.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUpstream(tt.in)
			if err != nil {
				t.Fatalf("ParseUpstream(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseUpstream(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"example.com", "example.com", ""},
		{"Example.COM.", "example.com", ""},
		{"lan", "lan", ""},
		{"ad_server.example", "ad_server.example", ""},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", ""},
		{"BÜCHER.example", "xn--bcher-kva.example", ""},
		{"1.168.192.in-addr.arpa", "1.168.192.in-addr.arpa", ""},
		{"", "", "empty name"},
		{".", "", "empty name"},
		{"a..b", "", "empty label (two dots in a row?)"},
		{".a", "", "empty label (two dots in a row?)"},
		{"::1", "", "an IP address, not a domain name"},
		{"10.0.0.1", "", "an IP address, not a domain name"},
		{"10.0.0.256", "", "top-level label is all digits"},
		{"a/b", "", "invalid character '/'"},
	}
	for _, tt := range tests {
		got, err := normalizeName(tt.in)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("normalizeName(%q) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("normalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"0s", 0, true},
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"1.5h", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0d", 0, true},
		{"", 0, false},
		{"d", 0, false},
		{"1d-1h", 0, false},
		{"1dd", 0, false},
		{"+1d", 0, false},
		{"1.5d", 0, false},
		{"-1s", 0, false},
		{"60", 0, false},
		{"1w", 0, false},
		{"106751d", 106751 * 24 * time.Hour, true},
		{"106751d24h", 0, false},
		{"106752d", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{90 * time.Second, "1m30s"},
		{time.Minute, "1m"},
		{4 * time.Hour, "4h"},
		{90 * time.Minute, "1h30m"},
		{24 * time.Hour, "24h"},
		{36 * time.Hour, "36h"},
		{7 * 24 * time.Hour, "7d"},
		{500 * time.Millisecond, "500ms"},
	}
	for _, tt := range tests {
		if got := fmtDuration(tt.in); got != tt.want {
			t.Errorf("fmtDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		// What is printed must read back as the same duration.
		if back, err := parseDuration(fmtDuration(tt.in)); err != nil || back != tt.in {
			t.Errorf("parseDuration(fmtDuration(%v)) = %v, %v", tt.in, back, err)
		}
	}
}

func TestValidCategory(t *testing.T) {
	for s, want := range map[string]bool{
		"adult": true, "a": true, "smart-tv_2": true, "custom": true,
		"": false, "Adult": false, "2fa": false, "-a": false, "a b": false, "a.b": false,
		"abcdefghijklmnopqrstuvwxyz012345":  true,
		"abcdefghijklmnopqrstuvwxyz0123456": false,
	} {
		if got := validCategory(s); got != want {
			t.Errorf("validCategory(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"listen", "upstreams", "upstream"}
	tests := []struct{ key, want string }{
		{"lisen", `; did you mean "listen"?`},
		{"upstraems", `; did you mean "upstreams"?`},
		{"Upstream", `; did you mean "upstream"?`},
		{"zzz", " (want listen, upstreams, upstream)"},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
