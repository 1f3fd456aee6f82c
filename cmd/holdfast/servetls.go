package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// serveCertificate loads the service's TLS certificate: the files given,
// or the self-signed one under the data directory, created on first start
// (keys/serve-cert.pem, keys/serve-key.pem, mode 0600). It returns the
// certificate's SHA-256 fingerprint, for the operator to pin.
func serveCertificate(dataDir, certFile, keyFile string, now time.Time) (tls.Certificate, string, bool, error) {
	const op = "serve: certificate"
	created := false
	if certFile == "" && keyFile == "" {
		certFile = filepath.Join(dataDir, "keys", "serve-cert.pem")
		keyFile = filepath.Join(dataDir, "keys", "serve-key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, fs.ErrNotExist) {
			if err := createSelfSigned(certFile, keyFile, now); err != nil {
				return tls.Certificate{}, "", false, holdfast.E(op, holdfast.IO, err)
			}
			created = true
		}
	} else if certFile == "" || keyFile == "" {
		return tls.Certificate{}, "", false, holdfast.E(op, holdfast.Invalid, "give --tls-cert and --tls-key together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, "", false, holdfast.E(op, holdfast.Invalid, err, certFile)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	return cert, hex.EncodeToString(sum[:]), created, nil
}

// createSelfSigned writes a new ECDSA P-256 key and a self-signed
// certificate for this host, valid for ten years.
func createSelfSigned(certFile, keyFile string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Holdfast service on " + host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := store.WriteNew(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return store.WriteNew(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}
