// Package blocklist parses blocklists in every common format and answers, in
// one lookup, which category and rule block a name. It has no DNS
// dependency.
//
// Parse reads hosts files, plain domain lists, wildcard lists, adblock /
// AdGuard rules and Pi-hole regex lists into a List; NewMatcher merges the
// lists of every category into one compact, immutable Matcher whose Lookup
// does not allocate. Sources, download, the disk cache and refresh of lists
// live in this package too.
package blocklist
