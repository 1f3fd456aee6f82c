package reports

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeTSA serves TestTSA.
func fakeTSA(t *testing.T, genTime time.Time) *httptest.Server {
	srv := httptest.NewServer(TestTSA(genTime))
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

// TestPAdESLongTerm: validation data after the signature (the chain and a
// CRL of the report CA) makes a time-stamped report PAdES-B-LT, and a
// document time-stamp over the whole file B-LTA; pdfsig accepts both
// signatures; anything else appended after the signature fails the check.
func TestPAdESLongTerm(t *testing.T) {
	gen := time.Now().UTC().Truncate(time.Second)
	tsa := fakeTSA(t, gen)
	s := testSigner(t)
	if s.CA == nil || s.CAKey == nil {
		t.Fatal("the test signer was not issued by its data directory's CA")
	}
	s.TSA = tsa.URL
	ctx := context.Background()
	signed, err := Sign(ctx, samplePDF(t), *s, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	lt, err := AddValidationData(signed, *s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	info, err := VerifySignature(lt)
	if err != nil || info.Profile != "PAdES-B-LT" || !info.RevocationChecked {
		t.Fatalf("with validation data: %+v %v; want PAdES-B-LT", info, err)
	}
	lta, err := AddDocumentTimestamp(ctx, lt, tsa.URL)
	if err != nil {
		t.Fatal(err)
	}
	info, err = VerifySignature(lta)
	if err != nil || info.Profile != "PAdES-B-LTA" || info.DocumentTimestamp == nil {
		t.Fatalf("with a document time-stamp: %+v %v; want PAdES-B-LTA", info, err)
	}
	// pdfsig (poppler 22.12) validates the CAdES signature and lists the
	// document time-stamp, which it cannot validate ("Unimplemented
	// Feature"); VerifySignature checked the time-stamp above.
	out := pdfsig(t, lta)
	if !strings.Contains(out, "Signature Type: ETSI.CAdES.detached") || !strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Holdfast document time-stamp") {
		t.Errorf("pdfsig on a B-LTA report:\n%s", out)
	}

	// Something other than validation data after the signature.
	u, err := newUpdate(lt)
	if err != nil {
		t.Fatal(err)
	}
	u.obj(1, "<< /Producer (someone else) >>")
	if _, err := VerifySignature(u.finish()); err == nil || !strings.Contains(err.Error(), "not validation data") {
		t.Errorf("an object changed after the signature: %v", err)
	}
	// A byte changed in the validation data under the document time-stamp.
	bad := append([]byte(nil), lta...)
	at := bytes.Index(bad, []byte("/Type /DSS")) + 2
	bad[at] = 'X'
	if _, err := VerifySignature(bad); err == nil {
		t.Error("a changed byte under the document time-stamp verified")
	}
}
