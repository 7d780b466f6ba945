package relayclient

import (
	"strings"
	"testing"
)

// ParseProxy takes socks5h:// and socks5:// HOST:PORT only; anything it
// accepts names a host and port, carries no credentials, and prints back
// as a socks5h address that parses to the same proxy.
func FuzzParseProxy(f *testing.F) {
	for _, s := range []string{"socks5h://127.0.0.1:9050", "socks5://[::1]:1080", "http://127.0.0.1:8080", "socks5h://u:p@h:1", "socks5h://h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProxy(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(strings.ToLower(s), "socks5") || strings.Contains(p.addr, "@") || strings.HasPrefix(p.addr, ":") {
			t.Fatalf("accepted %q as %q", s, p.addr)
		}
		again, err := ParseProxy(p.String())
		if err != nil || again.addr != p.addr {
			t.Fatalf("%q prints as %q, which parses to %v, %v", s, p.String(), again, err)
		}
	})
}

func TestParseProxy(t *testing.T) {
	for s, ok := range map[string]bool{
		"socks5h://127.0.0.1:9050": true, "socks5://localhost:1080": true, "socks5h://[::1]:9050/": true,
		"http://127.0.0.1:8080": false, "socks5h://user:pw@127.0.0.1:9050": false, "socks5h://127.0.0.1": false, "127.0.0.1:9050": false,
		"socks5://:0": false, "socks5h://h:0": false, "socks5h://h:99999": false, "socks5h://h:x": false,
	} {
		if _, err := ParseProxy(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}
