package access_test

import (
	"fmt"
	"net/netip"

	"github.com/havendns/haven/server/access"
)

func Example() {
	deny, _ := access.ParsePrefixes([]string{"192.168.1.66"})
	exempt, _ := access.ParsePrefixes([]string{"192.168.1.1"})
	g := access.New(access.Options{
		Deny:        deny, // Allow is empty: DefaultAllow()
		ClientRate:  100,
		ClientBurst: 200,
		Prefix4Rate: 1000,
		Prefix6Rate: 1000,
		Exempt:      exempt,
	})
	for _, s := range []string{"192.168.1.20", "::ffff:192.168.1.20", "192.168.1.66", "203.0.113.9"} {
		action, reason := g.Check(netip.MustParseAddr(s))
		fmt.Println(s, action, reason)
	}
	// Output:
	// 192.168.1.20 serve allowed
	// ::ffff:192.168.1.20 serve allowed
	// 192.168.1.66 refuse denied
	// 203.0.113.9 refuse not allowed
}
