package config

import (
	"strings"
	"testing"
)

func TestUDPBatch(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       bool
		wantErr    bool
	}{
		{"default", "upstreams: 9.9.9.9", true, false},
		{"on", "upstreams: 9.9.9.9\nudp_batch: true", true, false},
		{"off", "upstreams: 9.9.9.9\nudp_batch: false", false, false},
		{"empty", "upstreams: 9.9.9.9\nudp_batch:", true, false},
		{"not a boolean", "upstreams: 9.9.9.9\nudp_batch: fast", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err == nil && c.UDPBatch != tc.want {
				t.Errorf("UDPBatch %v, want %v", c.UDPBatch, tc.want)
			}
		})
	}
}

func TestUDPReaders(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       int
		wantErr    string
	}{
		{"default", "upstreams: 9.9.9.9", 0, ""},
		{"set", "upstreams: 9.9.9.9\nudp_readers: 4", 4, ""},
		{"auto", "upstreams: 9.9.9.9\nudp_readers: 0", 0, ""},
		{"empty", "upstreams: 9.9.9.9\nudp_readers:", 0, ""},
		{"negative", "upstreams: 9.9.9.9\nudp_readers: -1", 0, "t.yaml:2: udp_readers: must be 0 to 256 (0: one per two CPUs), got -1"},
		{"too many", "upstreams: 9.9.9.9\nudp_readers: 1000", 0, "t.yaml:2: udp_readers: must be 0 to 256 (0: one per two CPUs), got 1000"},
		{"not a number", "upstreams: 9.9.9.9\nudp_readers: many", 0, `t.yaml:2: udp_readers: expected an integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.UDPReaders != tc.want {
				t.Errorf("UDPReaders %d, want %d", c.UDPReaders, tc.want)
			}
		})
	}
}
