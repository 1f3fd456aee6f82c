package reports

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"sort"

	"github.com/holdfast/holdfast"
)

// A PAdES baseline signature (ETSI EN 319 142-1) is a CAdES detached
// signature (ETSI EN 319 122-1) in the PDF's /Contents under the
// SubFilter ETSI.CAdES.detached: CMS SignedData (RFC 5652) over the byte
// range, whose signed attributes are the content type, the message digest
// and the ESS signing-certificate-v2 (RFC 5035) that binds the signer's
// certificate, and never a signing-time (the signature dictionary's /M
// says when). B-T adds an RFC 3161 signature time-stamp as an unsigned
// attribute. The CMS is built here, with encoding/asn1, because the CMS
// library the project reads signatures with always adds a signing-time.

var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidRSAEncryption        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidEd25519              = asn1.ObjectIdentifier{1, 3, 101, 112}
)

type cmsAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type cmsSignerInfo struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type encapContentInfo struct {
	ContentType asn1.ObjectIdentifier
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	SignerInfos      asn1.RawValue `asn1:"set"`
}

// cmsContentInfo's content is [0] EXPLICIT; the RawValue carries the tag
// itself (encoding/asn1 does not add one to a RawValue).
type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

// essCertIDv2 and signingCertificateV2 are RFC 5035's; the hash algorithm
// is the default, SHA-256, so it is left out as DER requires.
type essCertIDv2 struct {
	CertHash     []byte
	IssuerSerial issuerSerial
}

// issuerSerial's issuer is GeneralNames: a SEQUENCE OF GeneralName, each
// here a directoryName, [4] EXPLICIT Name.
type issuerSerial struct {
	Issuer []asn1.RawValue
	Serial *big.Int
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

// derSet encodes values as a DER SET OF: sorted by their encodings.
func derSet(values [][]byte, tag int, class int) asn1.RawValue {
	sorted := append([][]byte(nil), values...)
	sort.Slice(sorted, func(i, j int) bool { return string(sorted[i]) < string(sorted[j]) })
	var body []byte
	for _, v := range sorted {
		body = append(body, v...)
	}
	return asn1.RawValue{Class: class, Tag: tag, IsCompound: true, Bytes: body}
}

func attribute(typ asn1.ObjectIdentifier, value any) ([]byte, error) {
	v, err := asn1.Marshal(value)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(cmsAttribute{Type: typ, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: v}})
}

// cadesSign returns the DER of a CAdES-B (with tsa, -T) detached signature
// of data by s.
func cadesSign(ctx context.Context, data []byte, s Signer, tsa string) ([]byte, error) {
	const op = "sign report"
	digest := sha256.Sum256(data)
	certHash := sha256.Sum256(s.Cert.Raw)
	var attrs [][]byte
	for _, a := range []struct {
		typ   asn1.ObjectIdentifier
		value any
	}{
		{oidContentType, oidData},
		{oidMessageDigest, digest[:]},
		{oidSigningCertificateV2, signingCertificateV2{Certs: []essCertIDv2{{CertHash: certHash[:],
			IssuerSerial: issuerSerial{Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: s.Cert.RawIssuer}}, Serial: s.Cert.SerialNumber}}}}},
	} {
		b, err := attribute(a.typ, a.value)
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		attrs = append(attrs, b)
	}
	// The signature is over the attributes' DER as a SET OF; in the
	// SignerInfo the same bytes are [0] IMPLICIT.
	signedSet := derSet(attrs, asn1.TagSet, asn1.ClassUniversal)
	toSign, err := asn1.Marshal(signedSet)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	sigAlg, sig, err := signWith(s.Key, toSign)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	si := cmsSignerInfo{
		Version:            1,
		SID:                issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: s.Cert.RawIssuer}, Serial: s.Cert.SerialNumber},
		DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
		SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: signedSet.Bytes},
		SignatureAlgorithm: sigAlg,
		Signature:          sig,
	}
	if tsa != "" {
		ts, err := requestTimestamp(ctx, http.DefaultClient, tsa, sig)
		if err != nil {
			return nil, err // never a report silently without the time-stamp asked for
		}
		a, err := asn1.Marshal(cmsAttribute{Type: oidTimeStampToken, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: ts.Token}})
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		si.UnsignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: a}
	}
	siDER, err := asn1.Marshal(si)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	alg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidSHA256})
	var certs []byte
	for _, c := range append([]*x509.Certificate{s.Cert}, s.Chain...) {
		certs = append(certs, c.Raw...)
	}
	sd, err := asn1.Marshal(cmsSignedData{
		Version:          1,
		DigestAlgorithms: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: alg},
		EncapContentInfo: encapContentInfo{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos:      asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: siDER},
	})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	out, err := asn1.Marshal(cmsContentInfo{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	return out, nil
}

// signWith signs msg (hashing it with SHA-256 where the algorithm takes a
// digest) and names the algorithm as CMS does.
func signWith(key crypto.Signer, msg []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
		return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, sig, err
	case *rsa.PublicKey:
		h := sha256.Sum256(msg)
		sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
		return pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}, sig, err
	case ed25519.PublicKey:
		sig, err := key.Sign(rand.Reader, msg, crypto.Hash(0))
		return pkix.AlgorithmIdentifier{Algorithm: oidEd25519}, sig, err
	}
	return pkix.AlgorithmIdentifier{}, nil, holdfast.Errorf("sign report", holdfast.Invalid, "report-signing key of type %T is not supported (ECDSA, RSA or Ed25519)", key.Public())
}
