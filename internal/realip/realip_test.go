package realip

import (
	"net/netip"
	"strings"
	"testing"
)

var trusted = []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8"}

var clientCases = []struct {
	name       string
	remote     string
	xff        []string
	want       string
	noneWanted string // the answer when nothing is trusted
}{
	{"no header", "10.1.2.3:4000", nil, "10.1.2.3:4000", ""},
	{"untrusted peer: header ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9:5000", ""},
	{"trusted peer names the client", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1", ""},
	{"spoofed left part is skipped", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1", ""},
	{"chain of trusted proxies", "10.1.2.3:4000", []string{"198.51.100.1, 10.9.9.9, 192.168.1.7"}, "198.51.100.1", ""},
	{"several header lines", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, "198.51.100.1", ""},
	{"all trusted: left-most", "10.1.2.3:4000", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1", ""},
	{"garbage ends the walk at the last trusted hop", "10.1.2.3:4000", []string{"1.1.1.1, unknown"}, "10.1.2.3", ""},
	{"garbage behind a trusted hop", "10.1.2.3:4000", []string{"1.1.1.1, x, 10.2.2.2"}, "10.2.2.2", ""},
	{"ports and brackets", "10.1.2.3:4000", []string{"[2001:db8::1]:443, 10.2.2.2:80"}, "2001:db8::1", ""},
	{"IPv6 peer", "[fd00::5]:4000", []string{"2001:db8::7"}, "2001:db8::7", ""},
	{"mapped IPv4", "10.1.2.3:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1", ""},
	{"empty elements", "10.1.2.3:4000", []string{" , 198.51.100.1 ,"}, "198.51.100.1", ""},
	{"bad remote", "nonsense", []string{"198.51.100.1"}, "nonsense", ""},
	{"too many hops", "10.1.2.3:4000", []string{"1.1.1.1," + strings.Repeat("10.0.0.1,", 40)}, "10.0.0.1", ""},
}

func TestClientAddr(t *testing.T) {
	tr, err := NewTrusted(trusted)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.ClientAddr(tc.remote, tc.xff); got != tc.want {
				t.Fatalf("ClientAddr = %q, want %q", got, tc.want)
			}
			// Trusting nobody (the default), the peer is the client.
			if got := Trusted(nil).ClientAddr(tc.remote, tc.xff); got != tc.remote {
				t.Fatalf("with no trusted proxies ClientAddr = %q, want %q", got, tc.remote)
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "10.1.2.3/8": "10.0.0.0/8", "192.168.1.7": "192.168.1.7/32",
		"fd00::/8": "fd00::/8", "::1": "::1/128", "::ffff:10.0.0.0/104": "10.0.0.0/8", "::ffff:1.2.3.4": "1.2.3.4/32",
	} {
		p, err := ParsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.0/33", "example.com", "10.0.0.0/8/8", "::ffff:0:0/90"} {
		if _, err := ParsePrefix(in); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", in)
		}
	}
}

// FuzzClientAddr checks that the answer never comes from an element to
// the left of an untrusted one: X-Forwarded-For is believed only as far
// back as trusted proxies wrote it.
func FuzzClientAddr(f *testing.F) {
	for _, tc := range clientCases {
		f.Add(tc.remote, strings.Join(tc.xff, "\n"))
	}
	tr, _ := NewTrusted(trusted)
	f.Fuzz(func(t *testing.T, remote, header string) {
		xff := strings.Split(header, "\n")
		got := tr.ClientAddr(remote, xff)
		peer, ok := parseHop(remote)
		if !ok || !tr.contains(peer) {
			if got != remote {
				t.Fatalf("untrusted peer %q: got %q", remote, got)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("got %q, not an address", got)
		}
		if a == peer {
			return
		}
		// Walk from the right: every element before reaching got must be
		// a trusted address.
		elems := strings.Split(strings.Join(xff, ","), ",")
		for i := len(elems) - 1; i >= 0; i-- {
			e := strings.TrimSpace(elems[i])
			if e == "" {
				continue
			}
			h, ok := parseHop(e)
			if !ok {
				t.Fatalf("got %q from beyond an unreadable element %q", got, e)
			}
			if h == a {
				return
			}
			if !tr.contains(h) {
				t.Fatalf("got %q from beyond the untrusted %q", got, e)
			}
		}
		t.Fatalf("got %q, which is neither the peer nor in X-Forwarded-For", got)
	})
}
