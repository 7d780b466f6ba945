package relay

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Pin is the SHA-256 of a certificate's SubjectPublicKeyInfo: what clients
// pin, so that no certificate authority can stand in for the relay.
func Pin(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.RawSubjectPublicKeyInfo) }

// LoadCertificate loads a certificate and key pair from PEM files and
// returns it with its pin.
func LoadCertificate(certFile, keyFile string) (tls.Certificate, [32]byte, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return c, [32]byte{}, fmt.Errorf("loading TLS certificate: %w", err)
	}
	return c, Pin(c.Leaf), nil
}

// SelfSignedCertificate loads DIR/cert.pem and DIR/key.pem, making a
// self-signed pair on first start. Both files are mode 0600.
func SelfSignedCertificate(dir string) (tls.Certificate, [32]byte, error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certFile); err == nil {
		// Files of an earlier version were 0644; the folder is the
		// operator's alone.
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
				return tls.Certificate{}, [32]byte{}, err
			}
		}
		return LoadCertificate(certFile, keyFile)
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, [32]byte{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, [32]byte{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "parley relay"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, [32]byte{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, [32]byte{}, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return tls.Certificate{}, [32]byte{}, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return tls.Certificate{}, [32]byte{}, err
	}
	return LoadCertificate(certFile, keyFile)
}
