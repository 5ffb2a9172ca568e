package client

import (
	"encoding/base64"
	"testing"

	"github.com/miekg/dns"
)

// ednsQuery builds a query carrying opts, then packs and unpacks it so the
// options are what miekg/dns makes of real wire data.
func ednsQuery(tb testing.TB, opts ...dns.EDNS0) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	if opts != nil {
		m.SetEdns0(1232, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, opts...)
	}
	wire, err := m.Pack()
	if err != nil {
		tb.Fatalf("pack: %v", err)
	}
	got := new(dns.Msg)
	if err := got.Unpack(wire); err != nil {
		tb.Fatalf("unpack: %v", err)
	}
	return got
}

func local(code uint16, data []byte) *dns.EDNS0_LOCAL {
	return &dns.EDNS0_LOCAL{Code: code, Data: data}
}

func TestFromEDNS(t *testing.T) {
	want := MAC{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	raw := want[:]
	b64 := base64.StdEncoding.EncodeToString(raw)
	// A MAC whose base64 uses the alphabet's last two characters.
	odd := MAC{0xfb, 0xff, 0xbf, 0xfe, 0xff, 0xff}
	for _, tc := range []struct {
		name string
		opts []dns.EDNS0
		want MAC
		ok   bool
	}{
		{"raw", []dns.EDNS0{local(65001, raw)}, want, true},
		{"text", []dns.EDNS0{local(65001, []byte("02:42:ac:11:00:02"))}, want, true},
		{"text upper", []dns.EDNS0{local(65001, []byte("02:42:AC:11:00:02"))}, want, true},
		{"text hyphen", []dns.EDNS0{local(65001, []byte("02-42-ac-11-00-02"))}, want, true},
		{"base64", []dns.EDNS0{local(65001, []byte(b64))}, want, true},
		{"base64 +/", []dns.EDNS0{local(65001, []byte(base64.StdEncoding.EncodeToString(odd[:])))}, odd, true},
		{"base64 url", []dns.EDNS0{local(65001, []byte(base64.URLEncoding.EncodeToString(odd[:])))}, odd, true},
		{"after other options", []dns.EDNS0{
			&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
			local(65002, []byte{1, 2, 3, 4, 5, 6}),
			local(65001, raw),
		}, want, true},
		{"first of two", []dns.EDNS0{local(65001, raw), local(65001, []byte{1, 1, 1, 1, 1, 1})}, want, true},
		{"no EDNS", nil, MAC{}, false},
		{"no option", []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}, MAC{}, false},
		{"other local code", []dns.EDNS0{local(65002, raw)}, MAC{}, false},
		{"code 65000", []dns.EDNS0{local(65000, raw)}, MAC{}, false},
		{"empty", []dns.EDNS0{local(65001, nil)}, MAC{}, false},
		{"5 bytes", []dns.EDNS0{local(65001, raw[:5])}, MAC{}, false},
		{"7 bytes", []dns.EDNS0{local(65001, append(raw[:6:6], 0))}, MAC{}, false},
		{"16-byte text", []dns.EDNS0{local(65001, []byte("02:42:ac:11:00:0"))}, MAC{}, false},
		{"text bad hex", []dns.EDNS0{local(65001, []byte("02:42:ac:11:00:zz"))}, MAC{}, false},
		{"text dots", []dns.EDNS0{local(65001, []byte("02.42.ac.11.00.02"))}, MAC{}, false},
		{"base64 padded", []dns.EDNS0{local(65001, []byte("AkKsEQA="))}, MAC{}, false},
		{"base64 garbage", []dns.EDNS0{local(65001, []byte("AkKs!QAC"))}, MAC{}, false},
		{"garbage 32 bytes", []dns.EDNS0{local(65001, make([]byte, 32))}, MAC{}, false},
		{"all zero raw", []dns.EDNS0{local(65001, make([]byte, 6))}, MAC{}, false},
		{"all zero text", []dns.EDNS0{local(65001, []byte("00:00:00:00:00:00"))}, MAC{}, false},
		{"malformed first wins", []dns.EDNS0{local(65001, []byte{1}), local(65001, raw)}, MAC{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FromEDNS(ednsQuery(t, tc.opts...))
			if ok != tc.ok || got != tc.want {
				t.Errorf("FromEDNS = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFromEDNSAllocs(t *testing.T) {
	for _, data := range [][]byte{{2, 0x42, 0xac, 0x11, 0, 2}, []byte("02:42:ac:11:00:02"), []byte("AkKsEQAC")} {
		m := ednsQuery(t, local(65001, data))
		if _, ok := FromEDNS(m); !ok {
			t.Fatalf("FromEDNS(%q) failed", data)
		}
		if n := testing.AllocsPerRun(100, func() { FromEDNS(m) }); n != 0 {
			t.Errorf("FromEDNS(%q): %v allocations, want 0", data, n)
		}
	}
}

func BenchmarkFromEDNS(b *testing.B) {
	m := ednsQuery(b, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}, local(65001, []byte("02:42:ac:11:00:02")))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := FromEDNS(m); !ok {
			b.Fatal("no MAC")
		}
	}
}
