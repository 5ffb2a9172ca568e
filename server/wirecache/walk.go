package wirecache

const (
	headerLen = 12
	typeOPT   = 41
	// flagTC is the truncation bit of the header's flags.
	flagTC = 1 << 9
)

// ttlOffsets walks an answer whose question name is nameLen bytes long
// and returns the offset of every record's TTL but the OPT's, and the
// smallest TTL. It reports false for an answer it cannot replay: one that
// does not parse to its last byte, is truncated, or has no record with a
// TTL.
func ttlOffsets(w []byte, nameLen int) (offs []uint16, minTTL uint32, ok bool) {
	if len(w) < headerLen || len(w) > 0xffff {
		return nil, 0, false
	}
	if (uint16(w[2])<<8|uint16(w[3]))&flagTC != 0 {
		return nil, 0, false
	}
	qd := int(w[4])<<8 | int(w[5])
	rrs := (int(w[6])<<8 | int(w[7])) + (int(w[8])<<8 | int(w[9])) + (int(w[10])<<8 | int(w[11]))
	if qd != 1 {
		return nil, 0, false
	}
	// The question name must be written out at full length, where the
	// query's will be copied over it.
	p, ok := skipName(w, headerLen)
	if !ok || p != headerLen+nameLen || p+4 > len(w) {
		return nil, 0, false
	}
	p += 4
	offs = make([]uint16, 0, rrs)
	minTTL = ^uint32(0)
	for range rrs {
		if p, ok = skipName(w, p); !ok || p+10 > len(w) {
			return nil, 0, false
		}
		typ := int(w[p])<<8 | int(w[p+1])
		ttl := uint32(w[p+4])<<24 | uint32(w[p+5])<<16 | uint32(w[p+6])<<8 | uint32(w[p+7])
		rdlen := int(w[p+8])<<8 | int(w[p+9])
		if typ != typeOPT {
			offs = append(offs, uint16(p+4))
			minTTL = min(minTTL, ttl)
		}
		p += 10 + rdlen
		if p > len(w) {
			return nil, 0, false
		}
	}
	if p != len(w) || len(offs) == 0 {
		return nil, 0, false
	}
	return offs, minTTL, true
}

// skipName returns the offset just past the name at p: its labels up to
// the root, or up to a compression pointer.
func skipName(w []byte, p int) (int, bool) {
	for n := 0; n < 128; n++ {
		if p >= len(w) {
			return 0, false
		}
		l := int(w[p])
		switch {
		case l == 0:
			return p + 1, true
		case l&0xc0 == 0xc0:
			if p+2 > len(w) {
				return 0, false
			}
			return p + 2, true
		case l&0xc0 != 0:
			return 0, false // the reserved label types
		}
		p += 1 + l
	}
	return 0, false
}

// presentation returns the wire-format name w as text ("www.example.com."),
// for names of lower-case letters, digits, '-' and '_' only: nothing needs
// escaping, so the text is as long as the wire form. ok is false for
// anything else.
func presentation(w []byte) (_ []byte, ok bool) {
	if len(w) == 1 && w[0] == 0 {
		return []byte{'.'}, true
	}
	out := make([]byte, 0, len(w))
	for p := 0; p < len(w); {
		l := int(w[p])
		if l == 0 {
			return out, p == len(w)-1 && len(out) <= 255
		}
		if l > 63 || p+1+l > len(w) {
			return nil, false
		}
		for _, c := range w[p+1 : p+1+l] {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return nil, false
			}
		}
		out = append(append(out, w[p+1:p+1+l]...), '.')
		p += 1 + l
	}
	return nil, false
}

// sameName reports whether the wire-format name w is the name s in
// presentation form, as presentation wrote it.
func sameName(w []byte, s string) bool {
	if len(w) == 1 && w[0] == 0 {
		return s == "."
	}
	if len(w) != len(s)+1 {
		return false
	}
	p := 0
	for i := 0; i < len(w); {
		l := int(w[i])
		if l == 0 {
			return i == len(w)-1 && p == len(s)
		}
		if i+1+l > len(w) || p+l >= len(s) || string(w[i+1:i+1+l]) != s[p:p+l] || s[p+l] != '.' {
			return false
		}
		i += 1 + l
		p += l + 1
	}
	return false
}
