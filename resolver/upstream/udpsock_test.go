package upstream

import (
	"testing"

	"github.com/miekg/dns"
)

// TestUDPAnswerMatching covers the reader's wire comparison of questions.
func TestUDPAnswerMatching(t *testing.T) {
	t.Parallel()
	pack := func(name string, qtype, qclass uint16) []byte {
		m := new(dns.Msg)
		m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: qclass}}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return wire
	}
	q := pack("Www.Example.COM.", dns.TypeA, dns.ClassINET)
	w := &udpWaiter{wire: q, nameEnd: nameEnd(q, dnsHeaderLen)}
	tests := []struct {
		name string
		p    []byte
		want bool
	}{
		{"same", pack("Www.Example.COM.", dns.TypeA, dns.ClassINET), true},
		{"other case", pack("wWW.eXAMPLE.com.", dns.TypeA, dns.ClassINET), true},
		{"other name", pack("www.example.net.", dns.TypeA, dns.ClassINET), false},
		{"longer name", pack("www.example.com.x.", dns.TypeA, dns.ClassINET), false},
		{"other labels", pack("www.exam.plecom.", dns.TypeA, dns.ClassINET), false},
		{"other type", pack("www.example.com.", dns.TypeAAAA, dns.ClassINET), false},
		{"type differing by case", pack("www.example.com.", 'A', dns.ClassINET), false},
		{"other class", pack("www.example.com.", dns.TypeA, dns.ClassCHAOS), false},
		{"cut short", q[:len(q)-2], false},
		{"header only", q[:dnsHeaderLen], false},
	}
	for _, tc := range tests {
		if got := w.matches(tc.p); got != tc.want {
			t.Errorf("%s: matches = %v, want %v", tc.name, got, tc.want)
		}
	}
	if e := nameEnd([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}, dnsHeaderLen); e != 0 {
		t.Errorf("nameEnd of a compressed name = %d, want 0 (match by ID only)", e)
	}
	if !(&udpWaiter{}).matches(q[:dnsHeaderLen]) {
		t.Error("a waiter without a plain question must match by ID only")
	}
}
