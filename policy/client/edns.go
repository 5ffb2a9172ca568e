package client

import "github.com/miekg/dns"

// EDNSCode is the EDNS0 option code dnsmasq (and so OpenWrt and most home
// routers) uses for --add-mac: the first code of the local/experimental
// range, RFC 6891 section 9.
const EDNSCode = dns.EDNS0LOCALSTART // 65001

// FromEDNS extracts the MAC address a forwarding router added to m with
// dnsmasq's --add-mac: EDNS0 option 65001 holding either the 6 raw bytes
// (--add-mac), the 17-byte text aa:bb:cc:dd:ee:ff (--add-mac=text) or the
// 8-byte base64 of the raw bytes (--add-mac=base64). ok is false when the
// option is absent, malformed or all zero. It does not allocate.
//
// Any client can put this option in its own query; believe it only from
// addresses known to be the operator's router.
func FromEDNS(m *dns.Msg) (mac MAC, ok bool) {
	opt := m.IsEdns0()
	if opt == nil {
		return MAC{}, false
	}
	for _, o := range opt.Option {
		l, isLocal := o.(*dns.EDNS0_LOCAL)
		if !isLocal || l.Code != EDNSCode {
			continue
		}
		// dnsmasq adds the option once; a second copy would be another
		// relay's, and the first relay is the one that saw the device.
		if mac, ok = decodeEDNSMAC(l.Data); !ok || mac.IsZero() {
			return MAC{}, false
		}
		return mac, true
	}
	return MAC{}, false
}

func decodeEDNSMAC(b []byte) (MAC, bool) {
	var m MAC
	switch len(b) {
	case 6:
		copy(m[:], b)
		return m, true
	case 8:
		return m, decodeBase64(&m, b)
	case 17:
		return m, (b[2] == ':' || b[2] == '-') && parseGroups(&m, string(b), 2, b[2])
	}
	return MAC{}, false
}

// decodeBase64 decodes the 8 base64 characters of 6 bytes. dnsmasq writes the
// standard alphabet; the URL-safe one is accepted too since the two do not
// collide. Hand-rolled because encoding/base64 would need a scratch buffer
// and accepts padding we have no use for.
func decodeBase64(m *MAC, b []byte) bool {
	var v [8]byte
	for i, c := range b {
		d, ok := unbase64(c)
		if !ok {
			return false
		}
		v[i] = d
	}
	for i := 0; i < 2; i++ {
		q, o := v[4*i:4*i+4], m[3*i:3*i+3]
		o[0] = q[0]<<2 | q[1]>>4
		o[1] = q[1]<<4 | q[2]>>2
		o[2] = q[2]<<6 | q[3]
	}
	return true
}

func unbase64(c byte) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26, true
	case '0' <= c && c <= '9':
		return c - '0' + 52, true
	case c == '+' || c == '-':
		return 62, true
	case c == '/' || c == '_':
		return 63, true
	}
	return 0, false
}
