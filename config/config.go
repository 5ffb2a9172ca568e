// Package config reads Haven's YAML configuration, strictly, into plain typed
// structs and validates it once. Every problem is reported as file:line:
// reason, all at once. No other package parses YAML; they receive the
// values defined here.
package config

import (
	"net/netip"
	"time"
)

// Config is a loaded, validated configuration. All fields hold their final
// values: defaults are filled in by Load.
type Config struct {
	// File is the path the config was read from, or "" for the built-in
	// default.
	File string

	Listen      []string      // host:port addresses; UDP and TCP on each
	UDPBatch    bool          // batched UDP (recvmmsg, sendmmsg) and its fast path, on Linux; same answers
	UDPReaders  int           // sockets and read loops per batched UDP address; 0 = one per two CPUs
	Upstreams   []Upstream    // tried in order with failover; at least one
	Conditional []Conditional // names under a domain go to other upstreams
	Cache       Cache
	Answer      Answer        // how a blocked query is answered
	DataDir     string        // list cache (and later runtime state); "" = no disk cache
	Refresh     time.Duration // how often list sources are fetched again; 0 = never
	Lists       []List        // category -> sources, in file order
	Allow       []string      // names allowed for everyone (beat every list)
	Deny        []string      // names blocked for everyone (category "custom")
	Block       []string      // categories blocked for everyone
	Upstream    UpstreamOptions
	Log         Log

	// Family policy. When no profiles are written, Load makes one profile,
	// "default", from the top-level block, allow, deny and answer.
	Profiles       []Profile // in file order; inheritance resolved
	DefaultProfile string    // the profile of unmatched clients
	Devices        []Device
	Services       []Service // the built-in catalogue plus the user's own (which override)
	// MACFrom lists the addresses (routers) whose EDNS0 MAC option (65001)
	// is trusted; anyone can forge it, so it is ignored from others.
	MACFrom   []netip.Prefix
	Neighbors bool // read MACs from the kernel's neighbour table (Haven on the gateway)

	Access    Access
	RateLimit RateLimit
	QueryLog  QueryLog
	Console   Console

	TLS   TLSListen
	HTTPS HTTPSListen
	Cert  Certificate
	HTTP  string // host:port of the local HTTP API ("" = off); the CLI finds the server through it
}

// Upstream is one upstream resolver, from a URL such as udp://9.9.9.9:53,
// tcp://…, tls://1.1.1.1:853 or https://dns.example/dns-query.
type Upstream struct {
	URL        string // normalised: scheme://host:port[/path]; for https the request URL (port 443 omitted)
	Proto      string // "udp", "tcp", "tls" or "https"
	Addr       string // host:port to dial (port defaulted: 53, 853, 443)
	ServerName string // TLS server name for tls and https (the host part)
}

// Conditional sends every name under Domain to its own upstreams.
type Conditional struct {
	Domain    string // lower case, fully qualified ("home.arpa.")
	Upstreams []Upstream
}

// UpstreamOptions tune how upstreams are queried.
type UpstreamOptions struct {
	Timeout time.Duration // per query, across all upstreams tried (default 2s)
}

// Cache configures the response cache.
type Cache struct {
	Size       int           // entries; 0 disables the cache
	MinTTL     time.Duration // answers are kept at least this long
	MaxTTL     time.Duration // and at most this long
	ServeStale time.Duration // how long past expiry an entry may be served when every upstream fails; 0 = never
}

// AnswerMode is how a blocked query is answered.
type AnswerMode string

// Block answer modes.
const (
	AnswerNXDomain AnswerMode = "nxdomain" // NXDOMAIN with an SOA for negative caching
	AnswerNull     AnswerMode = "null"     // 0.0.0.0 / :: (NODATA for other types)
	AnswerRefused  AnswerMode = "refused"  // REFUSED
	AnswerAddress  AnswerMode = "address"  // the address(es) of a block page
)

// Answer configures the block answer.
type Answer struct {
	Mode AnswerMode
	IPv4 netip.Addr    // for AnswerAddress: A answer (invalid if none)
	IPv6 netip.Addr    // for AnswerAddress: AAAA answer (invalid if none)
	TTL  time.Duration // TTL of block answers and of their SOA (default 60s)
}

// Match says which names a list entry covers.
type Match string

// Match modes for a list.
const (
	MatchSubtree Match = "subtree" // the name and all its subdomains (default)
	MatchExact   Match = "exact"   // the name only
)

// List is one source of one category.
type List struct {
	Category string
	Source   Source
}

// Source is where a list comes from: exactly one of URL, Path, Builtin or
// Inline is set.
type Source struct {
	URL     string   // http:// or https://
	Path    string   // a local file
	Builtin string   // a list embedded in the binary ("builtin:NAME")
	Inline  []string // entries written in the config itself
	Match   Match
	Regex   bool   // entries are regular expressions (format: regex), not names
	Name    string // how logs and explanations name the source
}

// Log configures logging.
type Log struct {
	Level  string // debug, info, warn, error (default info)
	Format string // text or json (default text)
}
