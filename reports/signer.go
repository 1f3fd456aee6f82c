package reports

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"software.sslmate.com/src/go-pkcs12"
)

// The report-signing identity lives in the data directory's keys/:
// report.key (PKCS #8, 0600) and report.crt (PEM, the chain after it).

func signerPaths(keysDir string) (string, string) {
	return filepath.Join(keysDir, "report.key"), filepath.Join(keysDir, "report.crt")
}

// CreateSigner makes the MSP's report-signing CA (a P-256 key and a
// self-signed CA certificate, keys/report-ca.key and .crt) and a signer
// certificate issued by it, unless the directory has a signer already.
// An auditor trusts the CA once (holdfast signer ca prints it) rather than
// each report's certificate; a certificate from a public CA replaces the
// signer with holdfast signer import.
func CreateSigner(keysDir, name string) error {
	const op = "create report signer"
	keyPath, _ := signerPaths(keysDir)
	if _, err := os.Stat(keyPath); err == nil {
		return nil
	}
	now := time.Now().UTC()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return holdfast.E(op, err)
	}
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " CA", Organization: []string{"Holdfast"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return holdfast.E(op, err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return holdfast.E(op, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return holdfast.E(op, err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: name, Organization: []string{"Holdfast"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return holdfast.E(op, err)
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return holdfast.E(op, err)
	}
	caKeyPath, caCertPath := caPaths(keysDir)
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := store.WriteReplace(caKeyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKeyDER}), 0o600); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := store.WriteReplace(caCertPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return writeSigner(keysDir, key, [][]byte{der, caDER})
}

func caPaths(keysDir string) (string, string) {
	return filepath.Join(keysDir, "report-ca.key"), filepath.Join(keysDir, "report-ca.crt")
}

// CACertificate returns the report-signing CA's certificate (PEM), for
// auditors to trust; NotFound when the signer was imported without one.
func CACertificate(keysDir string) ([]byte, error) {
	_, p := caPaths(keysDir)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, holdfast.E("report CA", holdfast.NotFound, "this data directory has no report-signing CA (it was made before there was one, or its reports are signed by an imported certificate)")
	}
	if err != nil {
		return nil, holdfast.E("report CA", holdfast.IO, err)
	}
	return b, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writeSigner(keysDir string, key crypto.Signer, certs [][]byte) error {
	const op = "install report signer"
	keyPath, certPath := signerPaths(keysDir)
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	var chain []byte
	for _, c := range certs {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	if err := os.WriteFile(keyPath+".tmp", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := os.WriteFile(certPath+".tmp", chain, 0o644); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := os.Rename(keyPath+".tmp", keyPath); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := os.Rename(certPath+".tmp", certPath); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}

// ImportSigner installs a CA-issued key and certificate chain from PEM
// files, after checking that the key belongs to the certificate.
func ImportSigner(keysDir, certFile, keyFile string) error {
	const op = "signer import"
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	s, err := parseSigner(kb, cb)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	certs := [][]byte{s.Cert.Raw}
	for _, c := range s.Chain {
		certs = append(certs, c.Raw)
	}
	return writeSigner(keysDir, s.Key, certs)
}

// LoadSigner reads the data directory's signer.
func LoadSigner(keysDir string) (*Signer, error) {
	const op = "load report signer"
	keyPath, certPath := signerPaths(keysDir)
	kb, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, holdfast.E(op, holdfast.NotFound, "no report-signing key: holdfast init creates one, holdfast signer import installs a CA-issued one")
	}
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	s, err := parseSigner(kb, cb)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err)
	}
	// The report CA, when it issued the signer, signs the CRLs reports
	// carry as validation data.
	caKeyPath, caCertPath := caPaths(keysDir)
	if ckb, err := os.ReadFile(caKeyPath); err == nil {
		if ccb, err := os.ReadFile(caCertPath); err == nil {
			if ca, err := parseSigner(ckb, ccb); err == nil && s.Cert.CheckSignatureFrom(ca.Cert) == nil {
				s.CA, s.CAKey = ca.Cert, ca.Key
			}
		}
	}
	return s, nil
}

func parseSigner(keyPEM, certPEM []byte) (*Signer, error) {
	kblock, _ := pem.Decode(keyPEM)
	if kblock == nil {
		return nil, errors.New("the key file holds no PEM block")
	}
	var key any
	var err error
	switch kblock.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kblock.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kblock.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kblock.Bytes)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key cannot sign")
	}
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("the certificate file holds no certificate")
	}
	pub, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return nil, errors.New("the key does not belong to the first certificate")
	}
	return &Signer{Key: signer, Cert: certs[0], Chain: certs[1:], Name: certs[0].Subject.CommonName}, nil
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// Fingerprint is the SHA-256 of the signer's certificate.
func (s *Signer) Fingerprint() string { return fingerprint(s.Cert) }

// ImportSignerP12 installs the key and certificate chain of a PKCS #12
// file.
func ImportSignerP12(keysDir, p12File, password string) error {
	const op = "signer import"
	data, err := os.ReadFile(p12File)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err, p12File+" (wrong password?)")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return holdfast.E(op, holdfast.Invalid, "the PKCS #12 key cannot sign")
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return holdfast.E(op, holdfast.Invalid, "the key does not belong to the certificate")
	}
	certs := [][]byte{cert.Raw}
	for _, c := range chain {
		certs = append(certs, c.Raw)
	}
	return writeSigner(keysDir, signer, certs)
}
