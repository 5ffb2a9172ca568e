// Package client identifies the device behind a query — by a
// DNS-over-HTTPS/TLS client id, a MAC address (the EDNS0 option routers add,
// or the kernel's neighbour table), an exact IP or a CIDR — and maps it to a
// device and profile name.
//
// The package only answers "who is asking"; which of those keys to trust for
// a given query (an EDNS0 MAC option can be forged by any client, so it
// should be believed only from the operator's own router) is the caller's
// decision.
package client
