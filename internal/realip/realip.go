// Package realip finds a request's client address when raygate runs
// behind proxies: X-Forwarded-For is believed only as far back as it was
// written by proxies the config trusts.
package realip

import (
	"net"
	"net/netip"
	"strings"
)

// ParsePrefix reads a trusted proxy entry: a CIDR ("10.0.0.0/8",
// "fd00::/8"), or one address (taken as a /32 or /128). IPv4-mapped IPv6
// addresses count as IPv4.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			if p.Bits() < 0 {
				return netip.Prefix{}, &net.ParseError{Type: "CIDR", Text: s}
			}
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusted is the set of proxy networks whose X-Forwarded-For is believed.
// The zero value trusts nobody.
type Trusted []netip.Prefix

// NewTrusted parses entries (see ParsePrefix).
func NewTrusted(entries []string) (Trusted, error) {
	t := make(Trusted, 0, len(entries))
	for _, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			return nil, err
		}
		t = append(t, p)
	}
	return t, nil
}

func (t Trusted) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxHops bounds how many X-Forwarded-For elements are looked at.
const maxHops = 32

// ClientAddr returns the client's address for a request that arrived
// from remoteAddr ("ip:port", as net/http reports it) with the
// X-Forwarded-For field values xff.
//
// Unless the TCP peer is a trusted proxy, the answer is remoteAddr itself,
// whatever X-Forwarded-For says. From a trusted peer, X-Forwarded-For is
// read right to left (each proxy appends the address it received the
// request from) and the client is the first address that is not a trusted
// proxy. When every address is trusted, the left-most is the client. An
// element that is not an address (or more than maxHops of them) ends the
// walk: the client is then the last trusted hop, the one that reported
// the unreadable element. Addresses are returned without a port.
func (t Trusted) ClientAddr(remoteAddr string, xff []string) string {
	if len(t) == 0 || len(xff) == 0 {
		return remoteAddr
	}
	peer, ok := parseHop(remoteAddr)
	if !ok || !t.contains(peer) {
		return remoteAddr
	}
	client := peer
	hops := 0
	for i := len(xff) - 1; i >= 0; i-- {
		elems := strings.Split(xff[i], ",")
		for j := len(elems) - 1; j >= 0; j-- {
			e := strings.TrimSpace(elems[j])
			if e == "" {
				continue // empty list elements are allowed and mean nothing
			}
			hops++
			a, ok := parseHop(e)
			if !ok || hops > maxHops {
				return client.String()
			}
			client = a.Unmap()
			if !t.contains(a) {
				return client.String()
			}
		}
	}
	return client.String()
}

// parseHop reads one address as proxies write it: "1.2.3.4",
// "1.2.3.4:5678", "2001:db8::1" or "[2001:db8::1]:443".
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}
