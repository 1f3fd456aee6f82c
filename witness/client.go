package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/holdfast/holdfast"
)

// ConflictError is a witness's 409: either its latest size for the log is
// not the old size the request gave (Size is then the witness's size and
// SizeKnown is true), or the checkpoint has the size the witness holds
// with another root hash.
type ConflictError struct {
	Size      uint64
	SizeKnown bool
	Message   string
}

func (e *ConflictError) Error() string {
	if e.SizeKnown {
		return fmt.Sprintf("the witness's latest cosigned size of this log is %d", e.Size)
	}
	return "conflict: " + strconv.Quote(e.Message) // another party's words
}

// RefusedError is any other refusal: the status and the witness's words
// (quoted; they come from another party).
type RefusedError struct {
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), strconv.Quote(e.Message))
}

// Submit sends checkpoint (a signed note) with a consistency proof from
// old to the witness at url (its submission prefix) and returns the note
// signature lines it answered. The caller verifies them against the
// witness's key.
func Submit(ctx context.Context, client *http.Client, url string, old uint64, proof [][]byte, checkpoint []byte) ([]byte, error) {
	const op = "witness submit"
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	body.WriteString("\n")
	body.Write(checkpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/add-checkpoint", &body)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRequest))
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return b, nil
	case resp.StatusCode == http.StatusConflict:
		if resp.Header.Get("Content-Type") == "text/x.tlog.size" {
			s := strings.TrimSuffix(string(b), "\n")
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, holdfast.Errorf(op, holdfast.Invalid, "the witness answered 409 with a size that is not a number: %q", s)
			}
			return nil, &ConflictError{Size: n, SizeKnown: true}
		}
		return nil, &ConflictError{Message: strings.TrimSpace(string(b))}
	}
	return nil, &RefusedError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
}
