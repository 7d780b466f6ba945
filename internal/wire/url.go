package wire

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// pinPrefix starts the fragment of a relay URL. The fragment is never
// sent to the server; it carries the SHA-256 of the relay certificate's
// public key, which clients pin instead of trusting any CA.
const pinPrefix = "pin=sha256:"

// FormatURL makes the relay URL clients use: wss://HOST:PORT/#pin=sha256:…
func FormatURL(hostport string, pin [32]byte) string {
	return "wss://" + hostport + "/#" + pinPrefix + base64.RawURLEncoding.EncodeToString(pin[:])
}

// ParseURL splits a relay URL into the address to dial (without the
// fragment) and the certificate pin.
func ParseURL(s string) (dial string, pin [32]byte, err error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme != "wss" || u.Host == "" {
		return "", pin, fmt.Errorf("relay URL %q: want wss://HOST:PORT/#%s…", s, pinPrefix)
	}
	frag, ok := strings.CutPrefix(u.Fragment, pinPrefix)
	if !ok {
		return "", pin, fmt.Errorf("relay URL has no certificate pin (#%s…)", pinPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(frag)
	if err != nil || len(raw) != 32 {
		return "", pin, fmt.Errorf("relay URL certificate pin is not 32 bytes of base64url")
	}
	copy(pin[:], raw)
	u.Fragment = ""
	return u.String(), pin, nil
}

// JoinURL is the inverse of ParseURL: a dial address and a pin make a
// relay URL.
func JoinURL(dial string, pin [32]byte) string {
	return strings.TrimSuffix(strings.SplitN(dial, "#", 2)[0], "#") + "#" + pinPrefix + base64.RawURLEncoding.EncodeToString(pin[:])
}
