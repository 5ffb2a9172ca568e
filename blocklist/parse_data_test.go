package blocklist

import (
	"compress/gzip"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fullDataDir returns $HAVEN_TESTDATA (the shared data folder with
// blocklists/ and queries/) or skips the test.
func fullDataDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("HAVEN_TESTDATA")
	if dir == "" {
		tb.Skip("HAVEN_TESTDATA not set: full-data tests not run")
	}
	return dir
}

// parseDataFile parses a file of the shared data, gunzipping .gz files.
func parseDataFile(tb testing.TB, rel string, opt ParseOptions) *List {
	tb.Helper()
	f, err := os.Open(filepath.Join(fullDataDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(rel, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		r = zr
	}
	l, err := Parse(r, opt)
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return l
}

func distinctNames(rules []Rule) map[string]bool {
	names := make(map[string]bool, len(rules))
	for _, r := range rules {
		names[r.Name] = true
	}
	return names
}

// dataFile holds, for one shipped file, the figures of the data README
// (lines, comment+blank lines, entries, unique domains) and ours.
//
// The README counts a name as an entry whatever it is; we refuse IP
// addresses, single labels and rewrite (non-sinkhole) entries, so for most
// files entries = rules + the skips listed in counted, and unique = our
// distinct names + uniqueGap (the distinct refused names). Files where the
// README's counting differs more are explained in why.
type dataFile struct {
	path                      string
	opt                       ParseOptions
	lines, comments           int // README
	entries, unique           int // README
	rules, distinct, patterns int // ours
	skipped                   map[string]int
	counted                   []string // skip reasons the README counts as entries
	uniqueGap                 int
	why                       string
}

var dataFiles = []dataFile{
	{path: "hosts/adaway_hosts.txt", lines: 10607, comments: 2042 + 2023, entries: 6540, unique: 6540,
		rules: 6540, distinct: 6540, skipped: map[string]int{reasonPreamble: 2}},
	{path: "hosts/blocklistproject_ads_2023-07-11.txt", lines: 30855, comments: 19, entries: 30836, unique: 30836,
		rules: 30836, distinct: 30836},
	{path: "hosts/blocklistproject_gambling_2025-12-19.txt", lines: 2513, comments: 13, entries: 2500, unique: 2500,
		rules: 2500, distinct: 2500},
	{path: "hosts/blocklistproject_tiktok.txt", lines: 3738, comments: 13, entries: 3725, unique: 3725,
		rules: 3725, distinct: 3725},
	{path: "hosts/blocklistproject_ransomware.txt", lines: 1917, comments: 13, entries: 1904, unique: 1904,
		rules: 1904, distinct: 1904},
	{path: "hosts/sinfonietta_pornography-hosts", lines: 61188, comments: 2, entries: 61187, unique: 61163,
		rules: 61181, distinct: 61157, skipped: map[string]int{reasonIP: 5, reasonSingleLabel: 1},
		counted: []string{reasonIP, reasonSingleLabel}, uniqueGap: 6},
	{path: "hosts/sinfonietta_gambling-hosts", lines: 2642, entries: 2642, unique: 2642, rules: 2642, distinct: 2642},
	{path: "hosts/sinfonietta_social-hosts", lines: 3290, comments: 24 + 21, entries: 3245, unique: 3245,
		rules: 3244, distinct: 3244, skipped: map[string]int{reasonSingleLabel: 1},
		counted: []string{reasonSingleLabel}, uniqueGap: 1},
	{path: "hosts/clefspeare13_pornhosts_0.0.0.0.hosts", lines: 16968, comments: 26 + 4, entries: 16932, unique: 16923,
		rules: 16932, distinct: 16923, skipped: map[string]int{reasonPreamble: 6}},
	{path: "hosts/clefspeare13_safesearch.hosts", lines: 9335, comments: 11 + 9, entries: 9310, unique: 9285,
		rules: 9116, distinct: 9091, skipped: map[string]int{reasonPreamble: 5, reasonRewrite: 194},
		counted: []string{reasonRewrite}, uniqueGap: 194},
	{path: "hosts/fademind_add.2o7Net.hosts", lines: 2030, entries: 2030, unique: 2030, rules: 2030, distinct: 2030},
	{path: "hosts/hagezi-legacy_light-compressed.hosts.txt", lines: 10004, comments: 11, entries: 89931, unique: 89931,
		rules: 89931, distinct: 89931},
	{path: "domains/blocklistproject_phishing-nl.txt", lines: 190228, comments: 13, entries: 190215, unique: 190215,
		rules: 190215, distinct: 190215},
	{path: "domains/blocklistproject_tiktok-nl.txt", lines: 3738, comments: 13, entries: 3725, unique: 3725,
		rules: 3725, distinct: 3725},
	{path: "domains/ut1_gambling.domains", lines: 32247, entries: 32247, unique: 32247,
		rules: 32233, distinct: 32233, skipped: map[string]int{reasonIP: 14}, counted: []string{reasonIP}, uniqueGap: 14},
	{path: "domains/ut1_social_networks.domains", lines: 715, entries: 715, unique: 715, rules: 715, distinct: 715},
	{path: "domains/ut1_publicite.domains", lines: 4344, entries: 4344, unique: 4344,
		rules: 4270, distinct: 4270, skipped: map[string]int{reasonIP: 74}, counted: []string{reasonIP}, uniqueGap: 74},
	{path: "domains/chadmayfield_porn_top1m.list", lines: 11868, entries: 11868, unique: 11868, rules: 11868, distinct: 11868},
	{path: "domains/hagezi-legacy_light.domains.txt", lines: 89942, comments: 11, entries: 89931, unique: 89931,
		rules: 89931, distinct: 89931},
	{path: "domains/perflyst_SmartTV.txt", lines: 374, comments: 101 + 28, entries: 245, unique: 245, rules: 245, distinct: 245},
	{path: "adblock/hagezi_light_2022.adblock.txt", lines: 122690, comments: 10, entries: 122680, unique: 122680,
		rules: 122680, distinct: 122680},
	{path: "adblock/hagezi_doh-vpn-proxy-bypass_2022.adblock.txt", lines: 725, comments: 11, entries: 714, unique: 714,
		rules: 714, distinct: 714},
	// The two wildcard rules (@@||aax-*.amazon.*^, @@||aax-*.amazon-adsystem.com^)
	// are patterns here and not README entries.
	{path: "adblock/hagezi_whitelist-referral_2022.adblock.txt", lines: 482, entries: 480, unique: 480,
		rules: 480, distinct: 480, patterns: 2},
	{path: "adblock/hagezi_nosafesearch_2022.adblock.txt", lines: 145, comments: 10, entries: 135, unique: 135,
		rules: 135, distinct: 135},
	{path: "adblock/blocklistproject_tiktok-ags.txt", lines: 3738, comments: 13, entries: 3725, unique: 3725,
		rules: 3725, distinct: 3725},
	{path: "adblock/dandelionsprout_AntiMalwareAdGuardHome.txt", lines: 13111, comments: 499, entries: 12304, unique: 12293,
		rules: 11521, distinct: 11516, patterns: 288,
		skipped: map[string]int{reasonHeader: 1, reasonIP: 626, reasonPartial: 46, reasonSingleLabel: 1, reasonURL: 75,
			reasonBadfilter: 6, "unsupported modifier $denyallow": 38, "unsupported modifier $dnstype": 9,
			"unsupported modifier $ipaddress": 1},
		why: "the README takes a name from every ||name^, ||name, ||name| and |name| rule and bare line " +
			"whatever its $options, so it counts the 592 bare IPv4 response-address rules (skipped: ip address), " +
			"~170 ||name prefix rules without ^ (patterns here, since AdGuard matches them as name prefixes), " +
			"|name| URL rules (url pattern) and rules dropped for $denyallow/$dnstype"},
	{path: "wildcard/hagezi_light_2022.wildcard.txt", lines: 122690, comments: 10, entries: 122680, unique: 122680,
		rules: 122680, distinct: 122680},
	{path: "wildcard/hagezi_doh-vpn-proxy-bypass_2022.wildcard.txt", lines: 725, comments: 11, entries: 714, unique: 714,
		rules: 714, distinct: 714},
	{path: "large/blocklistproject_all-nl_concat_ee3bdbad.txt.gz", lines: 768343, comments: 243 + 19, entries: 768081, unique: 730225,
		rules: 768081, distinct: 730225},
	// Pi-hole regex lists: the README counts regexes, not domains.
	{path: "regex/mmotti_regex.list", opt: ParseOptions{Regex: true}, lines: 31, comments: 13 + 4, patterns: 14},
	{path: "regex/perflyst_SmartTV_regex.list", opt: ParseOptions{Regex: true}, lines: 28, comments: 10 + 4, patterns: 14},
}

// TestParseDataFiles parses every shipped file and checks its counts
// against the data README.
func TestParseDataFiles(t *testing.T) {
	dir := fullDataDir(t)
	var want []string
	for _, df := range dataFiles {
		want = append(want, df.path)
	}
	got, err := filepath.Glob(filepath.Join(dir, "blocklists", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		rel, _ := filepath.Rel(filepath.Join(dir, "blocklists"), g)
		if !strings.HasSuffix(rel, ".md") && !slices.Contains(want, rel) {
			t.Errorf("%s: shipped file not covered by dataFiles", rel)
		}
	}
	for _, df := range dataFiles {
		t.Run(df.path, func(t *testing.T) {
			t.Parallel()
			l := parseDataFile(t, filepath.Join("blocklists", df.path), df.opt)
			checkListInvariants(t, l)
			st := l.Stats
			t.Logf("lines %d, comments %d, rules %d, patterns %d, skipped %v", st.Lines, st.Comments, len(l.Rules), len(l.Patterns), st.Skipped)
			if st.Lines != df.lines || st.Comments != df.comments {
				t.Errorf("lines, comments = %d, %d; README says %d, %d", st.Lines, st.Comments, df.lines, df.comments)
			}
			distinct := len(distinctNames(l.Rules))
			if len(l.Rules) != df.rules || distinct != df.distinct || len(l.Patterns) != df.patterns {
				t.Errorf("rules, distinct, patterns = %d, %d, %d; want %d, %d, %d",
					len(l.Rules), distinct, len(l.Patterns), df.rules, df.distinct, df.patterns)
			}
			skipped := df.skipped
			if skipped == nil {
				skipped = map[string]int{}
			}
			if !maps.Equal(st.Skipped, skipped) {
				t.Errorf("skipped = %v\nwant %v", st.Skipped, skipped)
			}
			if df.why != "" || df.opt.Regex {
				return
			}
			entries := len(l.Rules)
			for _, reason := range df.counted {
				entries += st.Skipped[reason]
			}
			if entries != df.entries || distinct+df.uniqueGap != df.unique {
				t.Errorf("entries, unique = %d, %d; README says %d, %d", entries, distinct+df.uniqueGap, df.entries, df.unique)
			}
		})
	}
}

// TestParseCrossFormat checks that the same list published in several
// formats yields the same names.
func TestParseCrossFormat(t *testing.T) {
	fullDataDir(t)
	for _, tc := range []struct {
		name  string
		files []string
		kinds []Kind
	}{
		{"tiktok hosts = domains = adblock", []string{"hosts/blocklistproject_tiktok.txt",
			"domains/blocklistproject_tiktok-nl.txt", "adblock/blocklistproject_tiktok-ags.txt"},
			[]Kind{Subtree, Subtree, Subtree}},
		{"hagezi light adblock = wildcard", []string{"adblock/hagezi_light_2022.adblock.txt",
			"wildcard/hagezi_light_2022.wildcard.txt"}, []Kind{Subtree, Below}},
		{"hagezi doh adblock = wildcard", []string{"adblock/hagezi_doh-vpn-proxy-bypass_2022.adblock.txt",
			"wildcard/hagezi_doh-vpn-proxy-bypass_2022.wildcard.txt"}, []Kind{Subtree, Below}},
		{"hagezi legacy domains = compressed hosts", []string{"domains/hagezi-legacy_light.domains.txt",
			"hosts/hagezi-legacy_light-compressed.hosts.txt"}, []Kind{Subtree, Subtree}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first map[string]bool
			for i, f := range tc.files {
				l := parseDataFile(t, filepath.Join("blocklists", f), ParseOptions{})
				for _, r := range l.Rules {
					if r.Kind != tc.kinds[i] || r.Allow || r.Important {
						t.Fatalf("%s line %d: %+v, want plain kind %v", f, r.Line, r, tc.kinds[i])
					}
				}
				names := distinctNames(l.Rules)
				if i == 0 {
					first = names
					continue
				}
				if !maps.Equal(first, names) {
					t.Errorf("%s: %d names differ from %s (%d)", f, len(names), tc.files[0], len(first))
				}
			}
		})
	}
}
