package reports

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/holdfast/holdfast"
)

// RFC 3161 time-stamping: the signature value is sent (hashed) to a time
// stamping authority, whose signed token is added to the signature as an
// unsigned attribute (id-aa-timeStampToken), proving the report existed at
// that time.

var (
	oidTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidTSTInfo        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	Nonce          *big.Int `asn1:"optional"`
	CertReq        bool     `asn1:"optional,default:false"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []string       `asn1:"optional,utf8"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// accuracy is a SEQUENCE, so that an absent one does not take the
// nonce's place when parsing.
type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Accuracy       accuracy      `asn1:"optional"`
	Ordering       bool          `asn1:"optional,default:false"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

// Timestamp is a verified time-stamp token.
type Timestamp struct {
	Time  time.Time `json:"time"`
	TSA   string    `json:"tsa"` // the signer of the token
	Token []byte    `json:"-"`
}

// requestTimestamp asks the TSA at url to time-stamp sig.
func requestTimestamp(ctx context.Context, hc *http.Client, url string, sig []byte) (*Timestamp, error) {
	const op = "time-stamp"
	sum := sha256.Sum256(sig)
	nonce, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	req, err := asn1.Marshal(timeStampReq{Version: 1, MessageImprint: messageImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256}, sum[:]}, Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err, "the time-stamping authority "+url)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, holdfast.Errorf(op, holdfast.IO, "the time-stamping authority %s answered HTTP %d", url, resp.StatusCode)
	}
	var tr timeStampResp
	if _, err := asn1.Unmarshal(body, &tr); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the answer of "+url+" is not an RFC 3161 response")
	}
	if tr.Status.Status != 0 && tr.Status.Status != 1 {
		return nil, holdfast.Errorf(op, holdfast.IO, "the time-stamping authority refused (status %d %v)", tr.Status.Status, tr.Status.StatusString)
	}
	ts, err := checkToken(tr.TimeStampToken.FullBytes, sig)
	if err != nil {
		return nil, err
	}
	if ts.nonce == nil || ts.nonce.Cmp(nonce) != 0 {
		return nil, holdfast.E(op, holdfast.Integrity, "the time-stamp token answers another request (nonce)")
	}
	return &ts.Timestamp, nil
}

type checkedToken struct {
	Timestamp
	nonce *big.Int
}

// checkToken verifies a token's signature and that it stamps sig.
func checkToken(token, sig []byte) (*checkedToken, error) {
	const op = "time-stamp"
	p7, err := pkcs7.Parse(token)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the time-stamp token is not CMS")
	}
	if err := p7.Verify(); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the time-stamp token's signature")
	}
	var info tstInfo
	if _, err := asn1.Unmarshal(p7.Content, &info); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the time-stamp token holds no TSTInfo")
	}
	sum := sha256.Sum256(sig)
	if !info.MessageImprint.HashAlgorithm.Algorithm.Equal(oidSHA256) || !bytes.Equal(info.MessageImprint.HashedMessage, sum[:]) {
		return nil, holdfast.E(op, holdfast.Integrity, "the time-stamp token stamps something else than this signature")
	}
	t := &checkedToken{Timestamp: Timestamp{Time: info.GenTime.UTC(), Token: token}, nonce: info.Nonce}
	if s := p7.GetOnlySigner(); s != nil {
		t.TSA = s.Subject.CommonName
	}
	return t, nil
}

// tokenOf returns the time-stamp token of a parsed signature, if any.
func tokenOf(p7 *pkcs7.PKCS7) ([]byte, error) {
	if len(p7.Signers) == 0 {
		return nil, nil
	}
	for _, a := range p7.Signers[0].UnauthenticatedAttributes {
		if a.Type.Equal(oidTimeStampToken) {
			return a.Value.Bytes, nil
		}
	}
	return nil, fmt.Errorf("no token")
}
