package mailin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"multimsg/internal/atomicfile"
	"os"
	"path/filepath"
	"time"
)

// Certificate file names in the data directory.
const (
	CertFile = "smtp_in.crt"
	KeyFile  = "smtp_in.key"
)

// LoadOrCreateCert returns the STARTTLS certificate kept in dir, making a self-signed one for
// hostname on first start (ECDSA P-256, ten years: the box has no CA to renew from, and the
// devices that do STARTTLS on a LAN do not check the chain; what TLS buys there is that the
// AUTH password does not cross the LAN in clear). An admin may replace both files with a
// certificate of their own.
func LoadOrCreateCert(dir, hostname string) (*tls.Config, error) {
	cp, kp := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	cert, err := tls.LoadX509KeyPair(cp, kp)
	if err == nil {
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	if _, e1 := os.Stat(cp); !errors.Is(e1, fs.ErrNotExist) {
		return nil, fmt.Errorf("smtp_in certificate %s: %w (remove %s and %s to have a new one made)", cp, err, cp, kp)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hostname, Organization: []string{"multimsg"}},
		DNSNames:     []string{hostname},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The key first: a certificate without its key would stop the next start.
	if err := atomicfile.Write(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return nil, err
	}
	cert, err = tls.LoadX509KeyPair(cp, kp)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
