package server

// The fast path (udpbatch_linux.go) answers repeated UDP queries from
// server/wirecache without unpacking them. It takes only the plainest
// queries, those whose answer depends on nothing but who asks, the name,
// the type and a few header bits; anything else goes the usual way.

// Request bits an answer depends on, as wirecache.Key.Flags.
const (
	fastRD = 1 << iota
	fastAD
	fastCD
	fastEDNS
	fastDO
)

// fastQuery is what the fast path reads of a query.
type fastQuery struct {
	id    uint16
	flags uint16 // fastRD…fastDO
	qtype uint16
	asked []byte // the question name as sent (a slice of the packet)
	name  [255]byte
	size  int // the UDP payload size the client takes
}

// lowerName is the question name in lower case, the cache's key.
func (f *fastQuery) lowerName() []byte { return f.name[:len(f.asked)] }

// parseFast reads b into f and reports whether the query can take the
// fast path: a standard query (QR, TC and Z clear) with one question of
// class IN and an ordinary type, a name of letters, digits, '-' and '_'
// without compression, and no records but at most one OPT of version 0
// whose options, if any, are only cookies and padding (which change
// nothing in the answer). A query that fails any of these is not wrong,
// only not fast.
func parseFast(b []byte, f *fastQuery) bool {
	if len(b) < headerLen+5 {
		return false
	}
	f.id = uint16(b[0])<<8 | uint16(b[1])
	// QR, opcode, AA, TC must be 0; RD free; RA ignored; Z 0; AD, CD free.
	if b[2]&0xfe != 0 || b[3]&0x40 != 0 {
		return false
	}
	f.flags = 0
	if b[2]&0x01 != 0 {
		f.flags |= fastRD
	}
	if b[3]&0x20 != 0 {
		f.flags |= fastAD
	}
	if b[3]&0x10 != 0 {
		f.flags |= fastCD
	}
	if b[4] != 0 || b[5] != 1 || b[6] != 0 || b[7] != 0 || b[8] != 0 || b[9] != 0 || b[10] != 0 || b[11] > 1 {
		return false
	}
	p, ok := f.readName(b, headerLen)
	if !ok || p+4 > len(b) {
		return false
	}
	f.qtype = uint16(b[p])<<8 | uint16(b[p+1])
	if b[p+2] != 0 || b[p+3] != 1 || !fastType(f.qtype) {
		return false
	}
	p += 4
	f.size = 512
	if b[11] == 0 {
		return p == len(b)
	}
	return f.readOPT(b, p)
}

// fastType excludes the meta and query types the server treats apart
// (AXFR, IXFR, ANY and the rest of 128–255) and OPT.
func fastType(t uint16) bool { return t != 0 && t != 41 && (t < 128 || t > 255) }

// readName copies the question name at p into f.name in lower case.
func (f *fastQuery) readName(b []byte, p int) (int, bool) {
	start := p
	for {
		if p >= len(b) {
			return 0, false
		}
		l := int(b[p])
		if l == 0 {
			break
		}
		if l > 63 || p+1+l >= len(b) || p+1+l-start >= 255 {
			return 0, false
		}
		f.name[p-start] = b[p]
		for i := p + 1; i <= p+l; i++ {
			c := b[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				return 0, false
			}
			f.name[i-start] = c
		}
		p += 1 + l
	}
	f.name[p-start] = 0
	p++
	f.asked = b[start:p]
	return p, true
}

// readOPT reads the OPT record at p, which must end the packet.
func (f *fastQuery) readOPT(b []byte, p int) bool {
	// Root name, type OPT, class = payload size, TTL = ext-rcode, version,
	// DO and Z, then the options.
	if p+11 > len(b) || b[p] != 0 || b[p+1] != 0 || b[p+2] != 41 {
		return false
	}
	size := int(b[p+3])<<8 | int(b[p+4])
	if b[p+5] != 0 || b[p+6] != 0 || b[p+7]&0x7f != 0 || b[p+8] != 0 {
		return false // extended rcode, version or Z set
	}
	f.flags |= fastEDNS
	if b[p+7]&0x80 != 0 {
		f.flags |= fastDO
	}
	rdlen := int(b[p+9])<<8 | int(b[p+10])
	p += 11
	if p+rdlen != len(b) {
		return false
	}
	for p < len(b) {
		if p+4 > len(b) {
			return false
		}
		code := int(b[p])<<8 | int(b[p+1])
		l := int(b[p+2])<<8 | int(b[p+3])
		if code != 10 && code != 12 { // COOKIE, PADDING
			return false
		}
		p += 4 + l
		if p > len(b) {
			return false
		}
	}
	f.size = max(size, 512)
	return true
}
