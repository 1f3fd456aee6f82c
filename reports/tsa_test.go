package reports

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
)

// fakeTSA is an RFC 3161 time-stamping authority: it answers a
// TimeStampReq with a token, a CMS SignedData over a TSTInfo that echoes the
// imprint and nonce, signed by its own certificate.
func fakeTSA(t *testing.T, genTime time.Time) *httptest.Server {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Test TSA"}, NotBefore: genTime.Add(-time.Hour), NotAfter: genTime.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
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
			t.Error(err)
		}
		token, _ := sd.Finish()
		resp, _ := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: 0}, TimeStampToken: asn1.RawValue{FullBytes: token}})
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTimestampedSignature(t *testing.T) {
	// The TSA's certificate is valid for an hour either side of the
	// time-stamp, and the token's signing time is when it is made: both
	// must be now (a fixed date here made the test fail a day later).
	gen := time.Now().UTC().Truncate(time.Second)
	tsa := fakeTSA(t, gen)
	s := testSigner(t)
	s.TSA = tsa.URL
	signed, err := Sign(context.Background(), samplePDF(t), *s, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	info, err := VerifySignature(signed)
	if err != nil || info.Timestamp == nil || !info.Timestamp.Time.Equal(gen) || info.Timestamp.TSA != "Test TSA" || info.Profile != "PAdES-B-T" {
		t.Fatalf("VerifySignature: %+v %v", info, err)
	}
	if out := pdfsig(t, signed); !strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Total document signed") || !strings.Contains(out, "ETSI.CAdES.detached") {
		t.Errorf("pdfsig on a time-stamped report:\n%s", out)
	}
	// A TSA that fails is an error, never a report without the time-stamp.
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer dead.Close()
	s.TSA = dead.URL
	if _, err := Sign(context.Background(), samplePDF(t), *s, time.Now(), "test"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a failing TSA: %v", err)
	}
}
