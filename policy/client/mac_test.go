package client

import "testing"

func TestParseMAC(t *testing.T) {
	want := MAC{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"02:42:ac:11:00:02", true},
		{"02:42:AC:11:00:02", true},
		{"02-42-ac-11-00-02", true},
		{"0242.ac11.0002", true},
		{"0242.AC11.0002", true},
		{"", false},
		{"02:42:ac:11:00", false},
		{"02:42:ac:11:00:02:03", false},
		{"02:42-ac:11:00:02", false}, // mixed separators
		{"02.42.ac.11.00.02", false},
		{"0242:ac11:0002", false},
		{"0242ac110002", false},
		{"02:42:ac:11:00:0g", false},
		{"2:42:ac:11:00:002", false},
		{"02:42:ac:11:00:02 ", false},
		{"0242.ac11-0002", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseMAC(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if tc.ok && got != want {
				t.Errorf("ParseMAC(%q) = %v, want %v", tc.in, got, want)
			}
		})
	}
}

func TestMACString(t *testing.T) {
	for _, m := range []MAC{{}, {0x02, 0x42, 0xac, 0x11, 0x00, 0x02}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		s := m.String()
		back, err := ParseMAC(s)
		if err != nil || back != m {
			t.Errorf("ParseMAC(%q) = %v, %v; want %v", s, back, err, m)
		}
	}
	if got, want := (MAC{0xde, 0xad, 0xbe, 0xef, 0x0a, 0x01}).String(), "de:ad:be:ef:0a:01"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"02:42:ac:11:00:02", "0242.ac11.0002", "02-42-ac-11-00-02", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		if back, err := ParseMAC(m.String()); err != nil || back != m {
			t.Fatalf("%q parsed to %v, which does not round-trip", s, m)
		}
	})
}
