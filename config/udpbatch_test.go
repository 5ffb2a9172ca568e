package config

import "testing"

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
