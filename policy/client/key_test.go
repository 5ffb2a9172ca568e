package client

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind KeyKind
		want string // Key.String(); empty for errors
	}{
		{"192.168.1.23", KeyIP, "192.168.1.23"},
		{"fd00::23", KeyIP, "fd00::23"},
		{"::ffff:192.168.1.23", KeyIP, "192.168.1.23"},
		{"192.168.50.0/24", KeyCIDR, "192.168.50.0/24"},
		{"fd00:1::/64", KeyCIDR, "fd00:1::/64"},
		{"::ffff:192.168.0.0/112", KeyCIDR, "192.168.0.0/16"},
		{"0.0.0.0/0", KeyCIDR, "0.0.0.0/0"},
		{"02:42:ac:11:00:02", KeyMAC, "02:42:ac:11:00:02"},
		{"02-42-AC-11-00-02", KeyMAC, "02:42:ac:11:00:02"},
		{"0242.ac11.0002", KeyMAC, "02:42:ac:11:00:02"},
		{"kids-tablet", KeyClientID, "kids-tablet"},
		{"0242ac110002", KeyClientID, "0242ac110002"},
		{"a", KeyClientID, "a"},
		{"a" + strings.Repeat("b", 62), KeyClientID, "a" + strings.Repeat("b", 62)},

		{"", 0, ""},
		{"Kids-Tablet", 0, ""},
		{"-tablet", 0, ""},
		{"kids_tablet", 0, ""},
		{"kids.tablet", 0, ""},
		{"a" + strings.Repeat("b", 63), 0, ""},
		{"192.168.1.5/24", 0, ""}, // host bits set
		{"192.168.1.0/33", 0, ""},
		{"192.168.1.256", 0, ""},
		{"fe80::1%eth0", 0, ""},
		{"00:00:00:00:00:00", 0, ""},
		{"02:42:ac:11:00", 0, ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			k, err := ParseKey(tc.in)
			if tc.kind == 0 {
				if err == nil {
					t.Fatalf("ParseKey(%q) = %v %q, want error", tc.in, k.Kind, k)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tc.in, err)
			}
			if k.Kind != tc.kind || k.String() != tc.want {
				t.Errorf("ParseKey(%q) = %v %q, want %v %q", tc.in, k.Kind, k, tc.kind, tc.want)
			}
		})
	}
}

func TestDeviceAddKey(t *testing.T) {
	d := Device{Name: "tablet"}
	for _, s := range []string{"tablet", "02:42:ac:11:00:02", "192.168.1.23", "192.168.50.0/24"} {
		if err := d.AddKey(s); err != nil {
			t.Fatalf("AddKey(%q): %v", s, err)
		}
	}
	if err := d.AddKey("not a key"); err == nil || !strings.Contains(err.Error(), `"tablet"`) {
		t.Errorf("AddKey(bad) = %v, want an error naming the device", err)
	}
	if len(d.IDs) != 1 || len(d.MACs) != 1 || len(d.Nets) != 1 ||
		len(d.IPs) != 1 || d.IPs[0] != netip.MustParseAddr("192.168.1.23") {
		t.Errorf("AddKey filled %+v", d)
	}
}
