package reports

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/pkcs7"
)

// TestTSA is an RFC 3161 time-stamping authority for tests (this
// package's and the command's): it answers a TimeStampReq with a token, a
// CMS SignedData over a TSTInfo that echoes the imprint and nonce, made at
// genTime and signed by its own certificate ("Test TSA", valid an hour
// either side of genTime).
func TestTSA(genTime time.Time) http.Handler {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Test TSA"}, NotBefore: genTime.Add(-time.Hour), NotAfter: genTime.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		var req timeStampReq
		if _, err := asn1.Unmarshal(body, &req); err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		info, _ := asn1.Marshal(tstInfo{Version: 1, Policy: asn1.ObjectIdentifier{1, 2, 3}, MessageImprint: req.MessageImprint, SerialNumber: big.NewInt(1),
			GenTime: genTime, Nonce: req.Nonce})
		sd, _ := pkcs7.NewSignedData(info)
		sd.SetContentType(oidTSTInfo)
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
		if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		token, _ := sd.Finish()
		resp, _ := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: 0}, TimeStampToken: asn1.RawValue{FullBytes: token}})
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	})
}
