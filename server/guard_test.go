package server

import (
	"net/netip"
	"testing"
)

func TestLimitForAmplification(t *testing.T) {
	tests := []struct {
		name   string
		client string
		size   int
		want   int
	}{
		{"LAN client keeps its size", "192.168.1.20", 1232, 1232},
		{"loopback keeps its size", "127.0.0.1", 1232, 1232},
		{"ULA keeps its size", "fd00::20", 1232, 1232},
		{"CGNAT keeps its size", "100.64.1.2", 1232, 1232},
		{"public client is held to 512", "203.0.113.9", 1232, 512},
		{"public IPv6 client is held to 512", "2001:db8::9", 4096, 512},
		{"a smaller size stays smaller", "203.0.113.9", 512, 512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := limitForAmplification(netip.MustParseAddr(tc.client), tc.size); got != tc.want {
				t.Errorf("size %d, want %d", got, tc.want)
			}
		})
	}
}
