package config

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// defaultRetention is how long the query log keeps entries by default.
const defaultRetention = 30 * 24 * time.Hour

// queryLog reads {enabled, retention, anonymize, buffer}.
func (p *parser) queryLog(n *yaml.Node, q *QueryLog) {
	p.mapping(n, "querylog", []string{"enabled", "retention", "anonymize", "buffer"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		switch key {
		case "enabled":
			q.Enabled, _ = p.boolean(v, "querylog.enabled")
		case "anonymize":
			q.Anonymize, _ = p.boolean(v, "querylog.anonymize")
		case "retention":
			q.Retention, _ = p.duration(v, "querylog.retention")
		case "buffer":
			n, ok := p.integer(v, "querylog.buffer")
			if ok && n < 1 {
				p.add(v.Line, "querylog.buffer: must be at least 1")
			}
			q.Buffer = n
		}
	})
}

// console reads {password_hash, public_metrics}.
func (p *parser) console(n *yaml.Node, c *Console) {
	p.mapping(n, "console", []string{"password_hash", "public_metrics"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		switch key {
		case "password_hash":
			s, ok := p.str(v, "console.password_hash")
			if ok && !strings.HasPrefix(s, "pbkdf2-sha256$") {
				p.add(v.Line, "console.password_hash: not a hash made by `haven password` (it starts with pbkdf2-sha256$)")
			}
			c.PasswordHash = s
		case "public_metrics":
			c.PublicMetrics, _ = p.boolean(v, "console.public_metrics")
		}
	})
}
