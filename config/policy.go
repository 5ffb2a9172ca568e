package config

import (
	"net/netip"
	"time"
)

// The family policy part of the configuration: profiles, devices, services,
// and the interfaces that identify and steer them (DoT/DoH listeners, the
// local HTTP API).

// Profile is a named policy (kids, teens, adults, students, staff …). Load
// resolves inheritance: every field holds its final, merged value, and
// Inherit only records where it came from.
type Profile struct {
	Name    string
	Inherit string // the parent profile's name, "" if none

	Block            []string       // categories and services blocked (top-level block included)
	Allow            []string       // names (and subdomains) always allowed (top-level allow included)
	Deny             []string       // names (and subdomains) always blocked (top-level deny included)
	BlockIPs         []netip.Prefix // answers containing these addresses are blocked
	SafeSearch       SafeSearch
	BypassPrevention bool
	Timezone         string         // IANA name; "" = Local
	Location         *time.Location // loaded from Timezone; non-nil
	Schedules        []Schedule
	Answer           Answer // block answer for this profile (defaults to the top-level answer)
	Log              LogLevel
}

// SafeSearch switches per engine.
type SafeSearch struct {
	Google, Bing, DuckDuckGo, Yandex, Ecosia, Pixabay, Brave bool
	YouTube                                                  string // "", "moderate" or "strict"
}

// LogLevel says which of a profile's queries the query log keeps.
type LogLevel string

// Query log levels.
const (
	LogAll     LogLevel = "all"
	LogBlocked LogLevel = "blocked"
	LogNone    LogLevel = "none"
)

// Schedule is a named weekly time window and what it changes.
type Schedule struct {
	Name     string
	Days     [7]bool // indexed by time.Weekday: the days the window starts on
	From, To string  // "HH:MM" wall-clock times in the profile's zone; To <= From crosses midnight
	// Block lists categories and services blocked extra while the window
	// is active; BlockAll blocks everything but the allow entries
	// (written as `block: [all]`).
	Block    []string
	BlockAll bool
	// Unblock lists categories and services allowed while the window is
	// active (written as `allow: [...]`), e.g. games on Saturday morning.
	Unblock []string
}

// Device maps a device or network to a profile.
type Device struct {
	Name    string
	Match   []string // client ids, MAC addresses, IPs and CIDRs, validated and normalised
	Profile string
}

// Service is a named set of domains that can be blocked like a category:
// a built-in catalogue entry or the user's own.
type Service struct {
	Name    string
	Domains []string // normalised names; each covers its subdomains
}

// TLSListen configures DNS-over-TLS (RFC 7858) listeners.
type TLSListen struct {
	Listen     []string // host:port, usually :853
	ServerName string   // e.g. dns.example.net: <id>.dns.example.net identifies client <id>
}

// HTTPSListen configures DNS-over-HTTPS (RFC 8484) listeners: /dns-query
// and /dns-query/<id>.
type HTTPSListen struct {
	Listen []string // host:port, usually :443
}

// Certificate is the TLS certificate of the DoT and DoH listeners. With
// both fields empty a self-signed certificate is generated on first start
// and kept in the data directory.
type Certificate struct {
	Cert, Key string // PEM file paths
}

// Access says who may use Haven at all. With no allow list, loopback and
// private, CGNAT and link-local ranges may (Haven is not an open resolver).
type Access struct {
	Allow []netip.Prefix // nil = the built-in private ranges
	Deny  []netip.Prefix // refused even if allowed
}

// RateLimit bounds how fast one client, and one network prefix, may ask.
// Zero rates are unlimited.
type RateLimit struct {
	Client      float64 // queries per second per client address (default 100)
	Burst       int     // per client (default 2 × Client)
	PrefixV4    float64 // per IPv4 /24 (default off)
	PrefixV6    float64 // per IPv6 /56 (default off)
	PrefixBurst int
	Exempt      []netip.Prefix
	Action      string // "refuse" (default) or "drop": what a client over its limit gets
}

// QueryLog configures the query log kept in the data directory.
type QueryLog struct {
	Enabled   bool          // default true when data_dir is set
	Retention time.Duration // default 30 days; 0 keeps everything
	Anonymize bool          // store client addresses truncated (/24, /48)
	Buffer    int           // entries queued for the writer before new ones are dropped (default 10000)
}

// Console configures the web console and /metrics on the http address.
type Console struct {
	PasswordHash  string // from `haven password`; empty: generated on first start
	PublicMetrics bool   // /metrics without login (for a Prometheus on the LAN)
}
