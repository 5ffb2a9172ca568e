package safesearch

import (
	_ "embed"
	"strings"
)

// engine is one search engine or video site with a DNS-enforced safe mode.
type engine uint8

const (
	google engine = iota
	youTube
	bing
	duckDuckGo
	yandex
	ecosia
	pixabay
	brave
	numEngines
)

// String returns the engine's name as Rewrite reports it.
func (e engine) String() string {
	switch e {
	case google:
		return "google"
	case youTube:
		return "youtube"
	case bing:
		return "bing"
	case duckDuckGo:
		return "duckduckgo"
	case yandex:
		return "yandex"
	case ecosia:
		return "ecosia"
	case pixabay:
		return "pixabay"
	case brave:
		return "brave"
	}
	return "unknown"
}

// The safe hosts, as their owners document them (see README.md). An engine
// without one would return "" from target and be reported by Unsupported;
// never put a guessed host here.
const (
	googleSafe      = "forcesafesearch.google.com."
	youTubeStrict   = "restrict.youtube.com."
	youTubeModerate = "restrictmoderate.youtube.com."
	bingSafe        = "strict.bing.com."
	duckDuckGoSafe  = "safe.duckduckgo.com."
	yandexSafe      = "familysearch.yandex.ru."
	ecosiaSafe      = "strict-safe-search.ecosia.org."
	pixabaySafe     = "safesearch.pixabay.com."
	braveSafe       = "forcesafe.search.brave.com."
)

// target returns e's safe host under s, or "" when e has none.
func (e engine) target(s Settings) string {
	switch e {
	case google:
		return googleSafe
	case youTube:
		if s.YouTube == Moderate {
			return youTubeModerate
		}
		return youTubeStrict
	case bing:
		return bingSafe
	case duckDuckGo:
		return duckDuckGoSafe
	case yandex:
		return yandexSafe
	case ecosia:
		return ecosiaSafe
	case pixabay:
		return pixabaySafe
	case brave:
		return braveSafe
	}
	return ""
}

// engineOf returns the engine whose safe host is target, for the trace of
// Resolve, which is handed only the target.
func engineOf(target string) (engine, bool) {
	switch target {
	case googleSafe:
		return google, true
	case youTubeStrict, youTubeModerate:
		return youTube, true
	case bingSafe:
		return bing, true
	case duckDuckGoSafe:
		return duckDuckGo, true
	case yandexSafe:
		return yandex, true
	case ecosiaSafe:
		return ecosia, true
	case pixabaySafe:
		return pixabay, true
	case braveSafe:
		return brave, true
	}
	return 0, false
}

// googleDomains lists Google's search domains (www.google.com/supported_domains).
//
//go:embed google_domains.txt
var googleDomains string

// Names rewritten for each engine other than Google, without the trailing
// dot. Only the hosts that serve the search (or the player) are listed: a
// CNAME for a whole zone would also take its mail and other services.
var (
	youTubeHosts = []string{
		"www.youtube.com", "m.youtube.com", "youtubei.googleapis.com",
		"youtube.googleapis.com", "www.youtube-nocookie.com",
	}
	bingHosts       = []string{"www.bing.com", "bing.com", "edgeservices.bing.com"}
	duckDuckGoHosts = []string{"duckduckgo.com", "www.duckduckgo.com", "start.duckduckgo.com"}
	// Yandex's search domains, each as apex and www.; xn--d1acpjx3f.xn--p1ai
	// is яндекс.рф.
	yandexDomains = []string{
		"ya.ru", "yandex.az", "yandex.by", "yandex.co.il", "yandex.com",
		"yandex.com.am", "yandex.com.ge", "yandex.com.ru", "yandex.com.tr",
		"yandex.de", "yandex.ee", "yandex.eu", "yandex.fi", "yandex.fr",
		"yandex.kz", "yandex.lt", "yandex.lv", "yandex.md", "yandex.net",
		"yandex.org", "yandex.pl", "yandex.ru", "yandex.tj", "yandex.tm",
		"yandex.ua", "yandex.uz", "xn--d1acpjx3f.xn--p1ai",
	}
	ecosiaHosts  = []string{"www.ecosia.org"}
	pixabayHosts = []string{"pixabay.com", "www.pixabay.com"}
	braveHosts   = []string{"search.brave.com"}
)

// hosts maps every name that may be rewritten (lower case, fully qualified)
// to its engine. It is built once when the package loads and only read
// afterwards.
var hosts = buildHosts()

func buildHosts() map[string]engine {
	m := make(map[string]engine, 512)
	add := func(e engine, names ...string) {
		for _, n := range names {
			m[n+"."] = e
		}
	}
	withWWW := func(e engine, domains ...string) {
		for _, d := range domains {
			add(e, d, "www."+d)
		}
	}
	for _, line := range strings.Split(googleDomains, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if d := strings.ToLower(strings.TrimSpace(line)); d != "" {
			withWWW(google, d)
		}
	}
	add(youTube, youTubeHosts...)
	add(bing, bingHosts...)
	add(duckDuckGo, duckDuckGoHosts...)
	withWWW(yandex, yandexDomains...)
	add(ecosia, ecosiaHosts...)
	add(pixabay, pixabayHosts...)
	add(brave, braveHosts...)
	return m
}
