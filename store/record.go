package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/holdfast/holdfast"
)

// Record types. The set is open: later packages add their own with
// RegisterType-free string constants; the store only requires a non-empty
// dotted lower-case name.
const (
	TypeTenantCreated    = "tenant.created"
	TypePack             = "pack.added"        // a pack file and the blobs it holds became part of the repository
	TypeCheckpoint       = "checkpoint.issued" // announces the checkpoint whose size includes this record
	TypeItemVersion      = "item.version"      // a captured version of an item
	TypeTombstone        = "item.tombstone"    // an item was deleted at the source
	TypeRunStarted       = "run.started"       // a backup run began
	TypeRunFinished      = "run.finished"      // a backup run ended
	TypeDeltaPosition    = "delta.position"    // a stream's delta link, durable after the items it covers
	TypeHoldPlaced       = "hold.placed"       // a legal hold was placed
	TypeHoldReleased     = "hold.released"     // a legal hold was released
	TypeAudit            = "audit.event"       // an action by a person or system
	TypeReportIssued     = "report.issued"     // a signed report was issued
	TypeRestorePerformed = "restore.performed" // a restore ran
	TypeVerifyRun        = "verify.run"        // holdfast verify ran, with its outcome
	TypeSynthetic        = "synthetic.item"    // test and demo data from holdfast generate
)

// ID is the SHA-256 of a blob's plaintext.
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first 12 hex digits, for messages.
func (id ID) Short() string { return id.String()[:12] }

func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses 64 lower-case hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("blob id %q: want 64 hex digits", s)
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id, fmt.Errorf("blob id %q: want lower-case hex digits", s)
		}
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// Ref names stored content: the SHA-256 and size of the whole plaintext, and
// when the content was split, the blobs it was split into in order. Content
// of at most one chunk is the single blob SHA256.
//
// Fields are declared in the order of their JSON names so that the encoder
// writes canonical JSON directly.
type Ref struct {
	Chunks []ID  `json:"chunks,omitempty"`
	SHA256 ID    `json:"sha256"`
	Size   int64 `json:"size"`
}

// Blobs returns the blob ids that hold r's content, in order.
func (r Ref) Blobs() []ID {
	if len(r.Chunks) > 0 {
		return r.Chunks
	}
	if r.Size == 0 {
		return nil
	}
	return []ID{r.SHA256}
}

// Record is one entry of a tenant's log. Its canonical JSON encoding is the
// Merkle tree leaf: keys sorted, no insignificant white space, UTC times.
//
// Fields are declared in the order of their JSON names (see Ref).
type Record struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Index uint64          `json:"index"`
	Refs  []Ref           `json:"refs,omitempty"`
	Time  time.Time       `json:"time"`
	Type  string          `json:"type"`
}

// ValidType reports whether t is a usable record type: dotted lower-case words.
func ValidType(t string) bool {
	if t == "" || len(t) > 64 || t[0] == '.' || t[len(t)-1] == '.' {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// EncodeRecord returns the canonical JSON of r.
func EncodeRecord(r Record) ([]byte, error) { return encodeRecord(r, false) }

// encodeRecord skips canonicalising the data when the caller already did.
func encodeRecord(r Record, dataCanonical bool) ([]byte, error) {
	if !ValidType(r.Type) {
		return nil, holdfast.Errorf("encode record", holdfast.Invalid, "invalid record type %q", r.Type)
	}
	r.Time = r.Time.UTC()
	if len(r.Data) > 0 && !dataCanonical {
		d, err := Canonical(r.Data)
		if err != nil {
			return nil, holdfast.E("encode record", holdfast.Invalid, err, "data")
		}
		r.Data = d
	}
	// With fields in key order, a non-HTML-escaping encoder of a record
	// whose data is canonical writes the canonical form.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, holdfast.E("encode record", holdfast.Invalid, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeRecord parses one record and checks that the bytes are exactly the
// record's canonical encoding, so that two encodings of one record cannot
// both be leaves.
func DecodeRecord(b []byte) (Record, error) {
	const op = "decode record"
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, holdfast.E(op, holdfast.Integrity, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, holdfast.Errorf(op, holdfast.Integrity, "trailing data after the record")
	}
	if !ValidType(r.Type) {
		return r, holdfast.Errorf(op, holdfast.Integrity, "invalid record type %q", r.Type)
	}
	for i, ref := range r.Refs {
		if ref.Size < 0 {
			return r, holdfast.Errorf(op, holdfast.Integrity, "ref %d has negative size", i)
		}
	}
	// The bytes must be exactly the record's own encoding: this rejects
	// other key orders, white space, case-folded or missing keys and
	// non-UTC times, so one record has one leaf hash.
	c, err := EncodeRecord(r)
	if err != nil {
		return r, holdfast.E(op, holdfast.Integrity, err)
	}
	if !bytes.Equal(c, b) {
		return r, holdfast.Errorf(op, holdfast.Integrity, "record is not in canonical form")
	}
	return r, nil
}

// Canonical re-encodes a JSON value with object keys sorted, no
// insignificant white space and no HTML escaping. Numbers keep their text.
func Canonical(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
