package blocklist

import (
	"strings"
	"testing"
)

// TestParseEdgeCases has one case per quirk in the EDGECASES.md catalogue
// of the shared test data, using the lines it quotes. Case names start with
// the catalogue's section number.
func TestParseEdgeCases(t *testing.T) {
	// 1.5 and 4.6 quote long lines cut short; these rebuild lines of the
	// same shape and length.
	longModifier := "||*.top^$dnstype=~CNAME,denyallow=caitlin.top|callmebymygender.top|corriente.top|gdtot.top|nicenature.top|reminder.top"
	for len(longModifier) < 612 {
		longModifier += "|m" + strings.Repeat("x", 8) + ".top"
	}
	nine := "0.0.0.0"
	var nineRules []Rule
	for i := range 9 {
		c := string(rune('a' + i))
		n := strings.Repeat(c, 60) + "." + strings.Repeat(c, 10) + ".example"
		nine += " " + n
		nineRules = append(nineRules, ruleSub(n, 1))
	}
	name187 := "ns500202.ns500250.ns500202.ns500248.ns500270.ns500250.ns500242.ns500250.ns500202.ns500250.ns500225.ns500259.ns500245.ns500225.ns500245.ns500225.ns500197.sweetxladies.com"
	name217 := strings.Repeat("www.", 50) + "lite.facebook.com"
	name254 := strings.Repeat("a.", 125) + "exam"

	runParseCases(t, []parseCase{
		// 1. File framing and encoding
		{name: "1.1 BOM before adblock header", in: "\uFEFF[Adblock Plus 3.13]\n", skipped: skipOne(reasonHeader)},
		{name: "1.1 BOM before a name", in: "\uFEFF0-casino.info\n", rules: []Rule{ruleSub("0-casino.info", 1)}},
		{name: "1.2 CRLF", in: "0.0.0.0 sanalytics.spark.co.nz\r\n0.0.0.0 192.168.112.2o7.net\r\n",
			rules: []Rule{ruleSub("sanalytics.spark.co.nz", 1), ruleSub("192.168.112.2o7.net", 2)}},
		{name: "1.3 no final newline, trailing space", in: "0.0.0.0 log-auth.zztfly.com upc.zztfly.com zzzperform.com ",
			rules: []Rule{ruleSub("log-auth.zztfly.com", 1), ruleSub("upc.zztfly.com", 1), ruleSub("zzzperform.com", 1)}},
		{name: "1.4 non-ASCII comments", comments: 2,
			in: "! Title: 💊 Dandelion Sprout's Anti-Malware List (for AdGuard Home, AdGuard for Android/Windows/macOS' DNS filt\n" +
				"! ——— You know those ultra-fraudulent auto-generated things that clutter up Google searche\n"},
		{name: "1.5 long line with modifiers", in: longModifier + "\n", skipped: skipOne("unsupported modifier $dnstype")},
		{name: "1.6 no header: hosts", in: "0.0.0.0 rahaporn.commanhwax.top\n", rules: []Rule{ruleSub("rahaporn.commanhwax.top", 1)}},
		{name: "1.6 no header: domains", in: "0-casino.info\n", rules: []Rule{ruleSub("0-casino.info", 1)}},
		{name: "1.6 no header: adblock exception", in: "@@||5014.xg4ken.com^\n", rules: []Rule{asAllow(ruleSub("5014.xg4ken.com", 1))}},

		// 2. Header / metadata comment lines
		{name: "2 header comments", comments: 17, in: strings.Join([]string{
			"# Title: Tiktok Block List", "# Entries: 3,725", "! Entries: 3,725", "# URL: ",
			"! Domains: 122680", "# Number of entries: 89931",
			"# Syntax: Hosts compressed (9 per line, including possible subdomains)",
			"! Last modified: So 24. Jul 12:52:06 UTC 2022",
			"# Last Updated: 2021-03-14 16:03:37 +0100 (CET) Build: 073",
			"# Updated: March 24, 2024", "! Version: 13August2026v1",
			"# ------------------------------------[UPDATE]--------------------------------------",
			"# License: https://unlicense.org", "## Clefspeare13 pornhosts",
			"# Domains with no duplicates. Note that www.* versions of domains and",
			"# It contains over 5,800 domains with no duplicates.",
			"# Syntax: Domains Wildcard (DNSCrypt/YogaDNS/...)",
		}, "\n")},
		{name: "2 wrong header: duplicates kept for the matcher to merge",
			in:    "# Domains with no duplicates.\n0.0.0.0 bestgore.com\n0.0.0.0 bestgore.com\n",
			rules: []Rule{ruleSub("bestgore.com", 2), ruleSub("bestgore.com", 3)}, comments: 1},

		// 3. Comments
		{name: "3.1 section comments", in: "# [163.com]\n# Facebook\n#Porn Domains\n", comments: 3},
		{name: "3.2 inline comment, hosts", in: "0.0.0.0 casinobitco.in # sportsbook\n", rules: []Rule{ruleSub("casinobitco.in", 1)}},
		{name: "3.2 inline comment, domains", in: "connecttv.pelmorex.com # weather app tracking\n", rules: []Rule{ruleSub("connecttv.pelmorex.com", 1)}},
		{name: "3.3 inline comment after a tab", in: "0.0.0.0 camsoda.com\t#Porn domain\n0.0.0.0 upload.pornve.com\t# Porn domain from Clefspeare13 list\n",
			rules: []Rule{ruleSub("camsoda.com", 1), ruleSub("upload.pornve.com", 2)}},
		{name: "3.4 inline comment with a URL", in: "api.thetake.com # https://thetake.ai/\n", rules: []Rule{ruleSub("api.thetake.com", 1)}},
		{name: "3.5 commented-out entries", comments: 5, in: "# 0.0.0.0 2miners.com Issue 464\n" +
			"# 0.0.0.0 accounts.pkr.com.invalid Issue 352\n#mhc-eu.myhomescreen.tv # required for internet connectivity\n" +
			"# (^|\\.)samsungcloudcdn\\.com$ # prevents updates\n#127.0.0.1 tracking.applift.com\n"},
		{name: "3.5 commented-out regex in a regex list", opt: ParseOptions{Regex: true}, comments: 1,
			in: "# (^|\\.)samsungcloudcdn\\.com$ # prevents updates\n"},
		{name: "3.6 trailing whitespace", in: "#secure.netflix.com" + strings.Repeat(" ", 19) + "\n0.0.0.0 mindrunway.ru \n",
			comments: 1, rules: []Rule{ruleSub("mindrunway.ru", 2)}},
		{name: "3.7 empty comment lines", in: "!\n#\n\n \t\n", comments: 4},

		// 4. Hosts-format specifics
		{name: "4.1 two sinkhole conventions", in: "127.0.0.1 analytics.163.com\n127.0.0.1 0-act.channel.facebook.com\n0.0.0.0 000123456789.online\n",
			rules: []Rule{ruleSub("analytics.163.com", 1), ruleSub("0-act.channel.facebook.com", 2), ruleSub("000123456789.online", 3)}},
		{name: "4.2 other loopback address", in: "127.0.0.7 p19-sign.tiktokcdn-us.com\n", rules: []Rule{ruleSub("p19-sign.tiktokcdn-us.com", 1)}},
		{name: "4.3 rewrite, not block", in: "204.79.197.220 bing.com\n216.239.38.120 google.com\n",
			skipped: map[string]int{reasonRewrite: 2}},
		{name: "4.4 local preamble", in: "127.0.0.1 local\n127.0.0.1 localhost.localdomain\n255.255.255.255 broadcasthost\n::1 localhost\nfe80::1%lo0 localhost\n",
			skipped: map[string]int{reasonPreamble: 5}},
		{name: "4.5 two spaces between fields", in: "127.0.0.1  localhost\n::1  localhost\n127.0.0.1  crash.163.com\n",
			rules: []Rule{ruleSub("crash.163.com", 3)}, skipped: map[string]int{reasonPreamble: 2}},
		{name: "4.6 many names on one line",
			in: "0.0.0.0 0-0-0checkmate.com 0.0-02.net 0-0asia.com 00.ca 000.pe backlink.000.pe herobet88.000.pe lexnin.000.pe maximusrockfm.000.pe\n",
			rules: []Rule{ruleSub("0-0-0checkmate.com", 1), ruleSub("0.0-02.net", 1), ruleSub("0-0asia.com", 1), ruleSub("00.ca", 1),
				ruleSub("000.pe", 1), ruleSub("backlink.000.pe", 1), ruleSub("herobet88.000.pe", 1), ruleSub("lexnin.000.pe", 1), ruleSub("maximusrockfm.000.pe", 1)}},
		{name: "4.6 a 720-character line", in: nine + "\n", rules: nineRules},
		{name: "4.6 accidental second token", in: "0.0.0.0 xxxhindi.to en\n",
			rules: []Rule{ruleSub("xxxhindi.to", 1)}, skipped: skipOne(reasonSingleLabel)},
		{name: "4.7 names that look like addresses", in: "0.0.0.0 192.168.112.2o7.net\n0.0.0.0 10.6.87.194.dynamic.dol.ru\n||0.0.0.0.beeglivesex.com^\n",
			rules: []Rule{ruleSub("192.168.112.2o7.net", 1), ruleSub("10.6.87.194.dynamic.dol.ru", 2), ruleSub("0.0.0.0.beeglivesex.com", 3)}},
		{name: "4.8 address in the name column", in: "0.0.0.0 85.17.187.83\n", skipped: skipOne(reasonIP)},
		{name: "4.9 names containing preamble words", in: "0.0.0.0 broadcaster.streamate.com\n0.0.0.0 localhost.example.com\n",
			rules: []Rule{ruleSub("broadcaster.streamate.com", 1), ruleSub("localhost.example.com", 2)}},

		// 5. Domain-name content
		{name: "5.1 upper case", in: "0.0.0.0 Ehentai.to\n0.0.0.0 mySubs.cc\nCoordinator-Production-28516768.us-east-1.elb.amazonaws.com\n||jNKmS0zFuEh.click^\n",
			rules: []Rule{ruleSub("ehentai.to", 1), ruleSub("mysubs.cc", 2),
				ruleSub("coordinator-production-28516768.us-east-1.elb.amazonaws.com", 3), ruleSub("jnkms0zfueh.click", 4)}},
		{name: "5.2 trailing dot", in: "0.0.0.0 www.guruofporn.com.\nkh.ua.\n",
			rules: []Rule{ruleSub("www.guruofporn.com", 1), ruleSub("kh.ua", 2)}},
		{name: "5.2 adblock trailing dot: any TLD follows", in: "||free-discordnitro.\n",
			patterns: []wantPattern{{text: "||free-discordnitro.",
				match: []string{"free-discordnitro.com", "a.free-discordnitro.ru"},
				miss:  []string{"free-discordnitro", "notfree-discordnitro.com"}}}},
		{name: "5.3 underscores", in: "0.0.0.0 _thums.ero-advertising.com\n0.0.0.0 client_monitor.isnssdk.com\n" +
			"_xmpp-client._tcp.managed.xmpp.foxtel.com.au\n0.0.0.0 pornspare_com.imedia-stream.com\n",
			rules: []Rule{ruleSub("_thums.ero-advertising.com", 1), ruleSub("client_monitor.isnssdk.com", 2),
				ruleSub("_xmpp-client._tcp.managed.xmpp.foxtel.com.au", 3), ruleSub("pornspare_com.imedia-stream.com", 4)}},
		{name: "5.4 punycode kept", in: "xn--bstacasinobonusar-qqb.nu\napple-source.xn--tckwe\n25h.xn--qee.com\n||a8aspconv.xn--biglobe-kc9k.com^\n",
			rules: []Rule{ruleSub("xn--bstacasinobonusar-qqb.nu", 1), ruleSub("apple-source.xn--tckwe", 2),
				ruleSub("25h.xn--qee.com", 3), ruleSub("a8aspconv.xn--biglobe-kc9k.com", 4)}},
		{name: "5.5 all-numeric labels", in: "0.01.2.13.3.sydneypropertyinvestors.com\n141592653589793238462643383279502884197169399375105820974944592.com\n",
			rules: []Rule{ruleSub("0.01.2.13.3.sydneypropertyinvestors.com", 1),
				ruleSub("141592653589793238462643383279502884197169399375105820974944592.com", 2)}},
		{name: "5.6 63-character label", in: "iiillillilliiliilllliilllililiillillililiiliillilliiiiiliiillli.cyou\n",
			rules: []Rule{ruleSub("iiillillilliiliilllliilllililiillillililiiliillilliiiiiliiillli.cyou", 1)}},
		{name: "5.6 64-character label", in: "iiillillilliiliilllliilllililiillillililiiliillilliiiiiliiillliX.cyou\n", skipped: skipOne(reasonLongLabel)},
		{name: "5.6 187 and 217 characters", in: "0.0.0.0 " + name187 + "\n" + name217 + "\n",
			rules: []Rule{ruleSub(name187, 1), ruleSub(name217, 2)}},
		{name: "5.6 over 253 characters", in: name254 + "\n", skipped: skipOne(reasonLongName)},
		{name: "5.7 single labels", in: "127.0.0.1 snapchat-com\nto\n", skipped: map[string]int{reasonSingleLabel: 2}},
		{name: "5.8 concatenated entries load", in: "0.0.0.0 rahaporn.commanhwax.top\n0.0.0.0 007dating.commanhwax.top\n",
			rules: []Rule{ruleSub("rahaporn.commanhwax.top", 1), ruleSub("007dating.commanhwax.top", 2)}},
		{name: "5.9 bare IPv4 in domain lists", in: "167.216.142.116\n159.153.253.16\n", skipped: map[string]int{reasonIP: 2}},
		{name: "5.10 duplicates kept for the matcher to merge", in: "vk.me\nvk.me\n", rules: []Rule{ruleSub("vk.me", 1), ruleSub("vk.me", 2)}},
		{name: "5.11 www twins and parents", in: "pornhub.com\nwww.pornhub.com\n000webhost.com\nes.000webhost.com\n",
			rules: []Rule{ruleSub("pornhub.com", 1), ruleSub("www.pornhub.com", 2), ruleSub("000webhost.com", 3), ruleSub("es.000webhost.com", 4)}},
		{name: "5.12 special-use TLD in a disabled entry", in: "# 0.0.0.0 accounts.pkr.com.invalid Issue 352\n", comments: 1},

		// 6. Adblock / AdGuard syntax
		{name: "6.1 basic block rule", in: "||000123456789.online^\n", rules: []Rule{ruleSub("000123456789.online", 1)}},
		{name: "6.2 exceptions", in: "@@||ad.doubleclick.net^\n@@||wceui.top^\n",
			rules: []Rule{asAllow(ruleSub("ad.doubleclick.net", 1)), asAllow(ruleSub("wceui.top", 2))}},
		{name: "6.3 wildcards inside the pattern", in: "@@||aax-*.amazon.*^\n@@||aax-*.amazon-adsystem.com^\n@@||masto*.top^\n",
			patterns: []wantPattern{
				{text: "@@||aax-*.amazon.*^", allow: true,
					match: []string{"aax-eu.amazon.de", "x.aax-us-east.amazon.com", "aax-.amazon.co.uk"},
					miss:  []string{"aax-eu.amazon", "maax-eu.amazon.de", "aax.amazon.de"}},
				{text: "@@||aax-*.amazon-adsystem.com^", allow: true,
					match: []string{"aax-us-east.amazon-adsystem.com"}, miss: []string{"aax-us-east.amazon-adsystem.com.evil"}},
				{text: "@@||masto*.top^", allow: true, match: []string{"mastodon.top", "a.masto.top"}, miss: []string{"amasto.top"}},
			}},
		{name: "6.3 whole-TLD blocks need their modifier", in: "||*.loan^$dnstype=~CNAME\n||*.bid^$dnstype=~CNAME\n",
			skipped: map[string]int{"unsupported modifier $dnstype": 2}},
		{name: "6.3 whole-TLD block without modifier", in: "||*.top^\n", rules: []Rule{ruleBelow("top", 1)}},
		{name: "6.4 badfilter and its duplicates", in: "||amazonaws.com^\n||amazonaws.com^$all\n" +
			"||amazonaws.com^$all,badfilter\n||amazonaws.com^$all,badfilter\n||amazonaws.com^$popup,badfilter\n" +
			"||amazonaws.com^$badfilter\n||s3.amazonaws.com^\n://$badfilter\n",
			rules:   []Rule{ruleSub("s3.amazonaws.com", 7)},
			skipped: map[string]int{reasonBadfilter: 5, reasonBadfiltered: 2}},
		{name: "6.4 browser-only and ip modifiers", in: "||amazonaws.com^$popup\n23.22.126.183$all,ipaddress\n" +
			"||steamcommin*$denyallow=likely-a-fake-malware-version-of-steamcommunity.com\n",
			skipped: map[string]int{"unsupported modifier $popup": 1, "unsupported modifier $ipaddress": 1, "unsupported modifier $denyallow": 1}},
		{name: "6.5 regex rules", in: "@@/^.*(tech|project|linux).*\\.top$/\n" +
			"/^(https?|tcp|iquic)://(apps?|best|competition|game|mobile|play|prize|reward|sweeps)\\d{2,8}\\.[a-z-]{5,22}\\d{1,8}\\.(icu|life|live).*$/\n" +
			"/^(.*[./])?discord[a-z0-9-]{1,}\\.gifts?(/.*)?$/\n",
			patterns: []wantPattern{
				{text: "@@/^.*(tech|project|linux).*\\.top$/", allow: true, match: []string{"mylinux.top"}, miss: []string{"linux.topx"}},
				{text: "/^(https?|tcp|iquic)://(apps?|best|competition|game|mobile|play|prize|reward|sweeps)\\d{2,8}\\.[a-z-]{5,22}\\d{1,8}\\.(icu|life|live).*$/",
					miss: []string{"game12.abcde1.icu"}},
				{text: "/^(.*[./])?discord[a-z0-9-]{1,}\\.gifts?(/.*)?$/",
					match: []string{"discordnitro.gift", "a.discord-x.gifts"}, miss: []string{"discord.gift"}},
			}},
		{name: "6.6 URL and scheme patterns", in: "|http://ww01.\n|https://undefined/\n@@://blog.*.top^\nhttp://secured21.*.com/|\n|pizzaseo.com|\n@@|www.auslogics.com|\n",
			skipped: map[string]int{reasonURL: 6}},
		{name: "6.7 unanchored partial patterns", in: "-trk.xyz^\n.avito.www.booking.\n.booking.com-id*\n*austrailasale.\n",
			skipped: map[string]int{reasonPartial: 4}},
		{name: "6.8 bare IP addresses", in: "109.201.135.46\n2a02:1668:1034::2\n||179.43.189.62\n", skipped: map[string]int{reasonIP: 3}},
		{name: "6 cosmetic rules", in: "example.com##.ad-banner\nexample.com#@#.ad-banner\n##.generic-ad\n",
			skipped: map[string]int{reasonCosmetic: 2}, comments: 1},
		{name: "6 adblock name without ^ is a prefix", in: "||usazcx.top\n",
			patterns: []wantPattern{{text: "||usazcx.top", match: []string{"usazcx.top", "a.usazcx.top", "usazcx.topx.com"}, miss: []string{"xusazcx.top"}}}},
		{name: "6 end anchor |", in: "||version.bind|\n", rules: []Rule{ruleSub("version.bind", 1)}},

		// 7. Wildcard format
		{name: "7.1 *. prefix", in: "# Syntax: Domains Wildcard (DNSCrypt/YogaDNS/...)\n*.0.0.0.0.beeglivesex.com\n",
			rules: []Rule{ruleBelow("0.0.0.0.beeglivesex.com", 2)}, comments: 1},

		// 8. Pi-hole regex lists
		{name: "8 Pi-hole regexes", opt: ParseOptions{Regex: true}, in: strings.Join([]string{
			`^ad([sxv]?[0-9]*|system)[_.-]([^.[:space:]]+\.){1,}|[_.-]ad([sxv]?[0-9]*|system)[_.-]`,
			`^(.+[_.-])?adse?rv(er?|ice)?s?[0-9]*[_.-]`,
			`(^|\.)internetat\.tv$`,
			`(^|\.)lgsmartad\.com`,
			`(\.|^)tvinteractive\.tv$`,
			`^[a-rt-z][a-z]{10,14}$`,
		}, "\n"),
			patterns: []wantPattern{
				{text: `^ad([sxv]?[0-9]*|system)[_.-]([^.[:space:]]+\.){1,}|[_.-]ad([sxv]?[0-9]*|system)[_.-]`,
					match: []string{"ads.example.com", "x.adsystem.example.com"}, miss: []string{"adobe.com"}},
				{text: `^(.+[_.-])?adse?rv(er?|ice)?s?[0-9]*[_.-]`, match: []string{"a.adserver.com"}, miss: []string{"adsorb.com"}},
				{text: `(^|\.)internetat\.tv$`, match: []string{"internetat.tv", "a.internetat.tv"}, miss: []string{"xinternetat.tv"}},
				{text: `(^|\.)lgsmartad\.com`, match: []string{"lgsmartad.com", "lgsmartad.com.example"}},
				{text: `(\.|^)tvinteractive\.tv$`, match: []string{"tvinteractive.tv", "a.tvinteractive.tv"}},
				{text: `^[a-rt-z][a-z]{10,14}$`, match: []string{"abcdefghijkl"}, miss: []string{"abcdefghijkl.com"}},
			}},

		// 9. Query-list quirks, read as a domain list
		{name: "9 query lists", in: "0-en.net\ndoubleclick.net\n", rules: []Rule{ruleSub("0-en.net", 1), ruleSub("doubleclick.net", 2)}},
	})
}
