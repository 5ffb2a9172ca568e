package haven

import "net"

// TLSAddrs returns the bound DNS-over-TLS addresses, for tests and logs
// (tls.listen may ask for port 0).
func (h *Haven) TLSAddrs() []net.Addr { return h.srv().TLSAddrs() }

// HTTPSAddrs returns the bound DNS-over-HTTPS addresses.
func (h *Haven) HTTPSAddrs() []net.Addr { return h.srv().HTTPSAddrs() }
