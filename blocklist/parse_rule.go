package blocklist

import (
	"bytes"
	"regexp"
	"strings"
)

// ruleOptions are the parts of an adblock rule's $options a DNS filter uses,
// plus the @@ prefix.
type ruleOptions struct {
	allow, important, badfilter bool
}

// parseModifiers reads the $options of an adblock rule. It returns a skip
// reason naming the first option a DNS filter cannot honour: applying a rule
// without its $denyallow, $dnstype, $client… would block more than its author
// meant, so such a rule is dropped whole, never approximated. All options
// are read even then, so that m.badfilter is known.
func parseModifiers(opts []byte, m *ruleOptions) string {
	reason := ""
	for len(opts) > 0 {
		var opt []byte
		if i := bytes.IndexByte(opts, ','); i >= 0 {
			opt, opts = opts[:i], opts[i+1:]
		} else {
			opt, opts = opts, nil
		}
		name := opt
		if i := bytes.IndexByte(name, '='); i >= 0 {
			name = name[:i]
		}
		switch string(name) {
		case "important":
			m.important = true
		case "badfilter":
			m.badfilter = true
		case "all", "":
			// $all widens a browser rule to every request type; for DNS
			// every rule already applies to the whole name.
		default:
			if reason == "" {
				reason = "unsupported modifier $" + strings.ToLower(string(name))
			}
		}
	}
	return reason
}

// rule handles a line that is a single token: a plain name, a wildcard, an
// adblock rule or a /regex/.
func (p *listParser) rule(tok []byte) {
	text := tok
	var m ruleOptions
	if bytes.HasPrefix(tok, []byte("@@")) {
		m.allow = true
		tok = tok[2:]
	}
	if len(tok) > 1 && tok[0] == '/' {
		p.regexRule(text, tok, m)
		return
	}
	body := tok
	if i := bytes.LastIndexByte(tok, '$'); i >= 0 {
		body = tok[:i]
		if reason := parseModifiers(tok[i+1:], &m); reason != "" {
			if m.badfilter {
				// A $badfilter for a rule we dropped anyway.
				reason = reasonBadfilter
			}
			p.skip(reason)
			return
		}
	}
	if len(body) == 0 {
		p.skip(reasonBadPattern)
		return
	}
	r, reason := p.classify(body)
	if m.badfilter {
		p.skip(reasonBadfilter)
		if reason == "" {
			p.addBadfilter(r, m)
		}
		return
	}
	if reason != "" {
		p.skip(reason)
		return
	}
	if r.re != nil {
		p.addPattern(string(text), r.body, r.re, m)
		return
	}
	p.addRule(r.name, r.kind, m)
}

// ruleBody is the meaning of a rule body: a name rule or a pattern.
type ruleBody struct {
	name []byte // valid until the next rule (see normalizeInto)
	kind Kind
	body string         // pattern only: the body, for $badfilter
	re   *regexp.Regexp // pattern only
}

// classify reads a rule body (no @@, no $options).
func (p *listParser) classify(body []byte) (ruleBody, string) {
	switch {
	case bytes.HasPrefix(body, []byte("||")):
		return p.anchored(body[2:])
	case body[0] == '|' || bytes.Contains(body, []byte("://")):
		return ruleBody{}, reasonURL
	case bytes.HasPrefix(body, []byte("*.")) && bytes.IndexByte(body[2:], '*') < 0:
		// The wildcard format: *.x covers the names below x. In adblock
		// syntax the same text would be a substring match, but lists in
		// this form (hagezi wildcard, DNSCrypt) mean names below x; a
		// trailing ^ (end of name) gives the same set.
		name, reason := normalizeInto(&p.name, bytes.TrimSuffix(body[2:], []byte("^")), true)
		return ruleBody{name: name, kind: Below}, reason
	case bytes.ContainsAny(body, "*^|") || body[0] == '.' || body[0] == '-':
		return ruleBody{}, reasonPartial
	}
	kind := Subtree
	if p.opt.Exact {
		kind = Exact
	}
	name, reason := normalizeInto(&p.name, body, false)
	return ruleBody{name: name, kind: kind}, reason
}

// anchored reads the part of a ||rule after the ||: a name (||x^), a
// wildcard (||*.x^) or a pattern.
func (p *listParser) anchored(b []byte) (ruleBody, string) {
	end := false // the rule ends at the end of the name (^ or |)
	for _, suffix := range []string{"^|", "^", "|"} {
		if bytes.HasSuffix(b, []byte(suffix)) {
			b, end = b[:len(b)-len(suffix)], true
			break
		}
	}
	if len(b) == 0 {
		return ruleBody{}, reasonBadPattern
	}
	unicode := false
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_', c == '*':
		case c >= 0x80:
			unicode = true
		case c == '/', c == ':', c == '?', c == '=', c == '&', c == '^', c == '|':
			return ruleBody{}, reasonURL
		default:
			return ruleBody{}, reasonBadPattern
		}
	}
	star := bytes.IndexByte(b, '*')
	if star < 0 && end {
		name, reason := normalizeInto(&p.name, b, false)
		return ruleBody{name: name, kind: Subtree}, reason
	}
	if star < 0 && checkName(trimFinalDot(b), false) == reasonIP {
		return ruleBody{}, reasonIP
	}
	if end && star == 0 && len(b) > 2 && b[1] == '.' && bytes.IndexByte(b[2:], '*') < 0 {
		// ||*.top^ is every name below top.
		name, reason := normalizeInto(&p.name, b[2:], true)
		return ruleBody{name: name, kind: Below}, reason
	}
	if unicode {
		// A Unicode name must become punycode, which a glob cannot.
		return ruleBody{}, reasonBadPattern
	}
	glob := strings.ToLower(string(b))
	if strings.Trim(glob, "*.") == "" {
		// ||*^ would match every name.
		return ruleBody{}, reasonBadPattern
	}
	re, err := regexp.Compile(globRegexp(glob, end))
	if err != nil {
		return ruleBody{}, reasonBadPattern
	}
	return ruleBody{body: "||" + string(b), re: re}, ""
}

// globRegexp turns the part of ||glob after the bars into an anchored
// regular expression: it starts at the start of the name or after a dot, *
// matches any run of characters, and without a ^ the name may continue
// (||example. covers example.com, example.net, …).
func globRegexp(glob string, end bool) string {
	var sb strings.Builder
	sb.WriteString(`^(?:.*\.)?`)
	for i, seg := range strings.Split(glob, "*") {
		if i > 0 {
			sb.WriteString(`.*`)
		}
		sb.WriteString(regexp.QuoteMeta(seg))
	}
	if end {
		sb.WriteByte('$')
	}
	return sb.String()
}

func (p *listParser) addBadfilter(r ruleBody, m ruleOptions) {
	if r.body != "" {
		if p.badPatterns == nil {
			p.badPatterns = make(map[patternKey]bool)
		}
		p.badPatterns[patternKey{r.body, m.allow, m.important}] = true
		return
	}
	if p.bad == nil {
		p.bad = make(badSet)
	}
	p.bad[string(r.name)] |= 1 << ruleFlags(r.kind, m.allow, m.important)
}

// regexRule handles an adblock /regex/ rule, possibly with $options after
// the closing slash. tok has no @@; text is the whole rule.
func (p *listParser) regexRule(text, tok []byte, m ruleOptions) {
	i := bytes.LastIndexByte(tok, '/')
	if i == 0 {
		p.skip(reasonURL)
		return
	}
	if rest := tok[i+1:]; len(rest) > 0 {
		if rest[0] != '$' {
			// /path/file: a URL path, not a regex
			p.skip(reasonURL)
			return
		}
		reason := parseModifiers(rest[1:], &m)
		if m.badfilter {
			p.skip(reasonBadfilter)
			if reason == "" {
				p.addBadfilter(ruleBody{body: string(tok[:i+1])}, m)
			}
			return
		}
		if reason != "" {
			p.skip(reason)
			return
		}
	}
	expr := string(tok[1:i])
	re, err := regexp.Compile(expr)
	if err != nil {
		p.skip(reasonRegex)
		return
	}
	p.addPattern(string(text), string(tok[:i+1]), re, m)
}

// regexLine handles a line of a Pi-hole regex list.
func (p *listParser) regexLine(b []byte) {
	if bytes.Contains(b, []byte(";querytype=")) || bytes.Contains(b, []byte(";invert")) ||
		bytes.Contains(b, []byte(";reply=")) {
		// Pi-hole FTL extensions restrict a regex to some query types or
		// invert it; applied without them the regex would block too much.
		p.skip(reasonRegexOption)
		return
	}
	re, err := regexp.Compile(string(b))
	if err != nil {
		p.skip(reasonRegex)
		return
	}
	p.addPattern(string(b), string(b), re, ruleOptions{})
}
