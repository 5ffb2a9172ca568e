package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAccessAndConsoleKeys(t *testing.T) {
	const up = "upstreams: [udp://192.0.2.53]\n"
	c, err := Parse("t.yaml", []byte(up+`access: {allow: [192.168.1.0/24, "fd00::/8"], deny: [192.168.1.66]}
rate_limit: {client: 20, burst: 50, prefix_v4: 200.5, exempt: [192.168.1.1], action: drop}
querylog: {retention: 7d, anonymize: true}
console: {password_hash: "pbkdf2-sha256$600000$c2FsdA$a2V5", public_metrics: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	wantAllow := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd00::/8")}
	if len(c.Access.Allow) != 2 || c.Access.Allow[0] != wantAllow[0] || c.Access.Allow[1] != wantAllow[1] {
		t.Errorf("access.allow = %v", c.Access.Allow)
	}
	if len(c.Access.Deny) != 1 || c.Access.Deny[0] != netip.MustParsePrefix("192.168.1.66/32") {
		t.Errorf("access.deny = %v", c.Access.Deny)
	}
	r := c.RateLimit
	if r.Client != 20 || r.Burst != 50 || r.PrefixV4 != 200.5 || r.PrefixV6 != 0 || r.Action != "drop" || len(r.Exempt) != 1 {
		t.Errorf("rate_limit = %+v", r)
	}
	if !c.QueryLog.Enabled || c.QueryLog.Retention != 7*24*time.Hour || !c.QueryLog.Anonymize {
		t.Errorf("querylog = %+v", c.QueryLog)
	}
	if !c.Console.PublicMetrics || !strings.HasPrefix(c.Console.PasswordHash, "pbkdf2-sha256$") {
		t.Errorf("console = %+v", c.Console)
	}

	d, err := Parse("t.yaml", []byte(up))
	if err != nil {
		t.Fatal(err)
	}
	if d.RateLimit.Client != 100 || d.RateLimit.Action != "refuse" || d.Access.Allow != nil || !d.QueryLog.Enabled {
		t.Errorf("defaults: rate_limit %+v, access %+v, querylog %+v", d.RateLimit, d.Access, d.QueryLog)
	}
}

func TestAccessAndConsoleErrors(t *testing.T) {
	const up = "upstreams: [udp://192.0.2.53]\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty allow", "access: {allow: []}\n", "t.yaml:2: access.allow: an empty list would refuse everyone"},
		{"bad prefix", "access: {deny: [192.168.1.0/33]}\n", `t.yaml:2: access.deny: "192.168.1.0/33"`},
		{"negative rate", "rate_limit: {client: -1}\n", `t.yaml:2: rate_limit.client: "-1": want a number of queries per second`},
		{"bad action", "rate_limit: {action: slow}\n", `t.yaml:2: rate_limit.action: "slow": want refuse or drop`},
		{"unknown key", "rate_limit: {clients: 5}\n", `t.yaml:2: rate_limit: unknown key "clients"; did you mean "client"?`},
		{"bad hash", "console: {password_hash: hunter2}\n", "t.yaml:2: console.password_hash: not a hash"},
		{"bad retention", "querylog: {retention: forever}\n", "t.yaml:2: querylog.retention"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(up+tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
