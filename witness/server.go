package witness

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// The witness's data directory:
//
//	logs         the logs it witnesses, one "origin vkey" per line (AddLog)
//	state/<h>    per log (h: SHA-256 of its origin), the latest checkpoint
//	             it cosigned, replaced durably before it answers
//	refused      what it refused, one JSON object per line, with the request
//	lock         held while a witness serves this directory
const (
	logsFile    = "logs"
	stateDir    = "state"
	refusedFile = "refused"
)

// maxRequest bounds an add-checkpoint body: 63 proof lines and a
// checkpoint with a few signatures fit in far less.
const maxRequest = 64 << 10

// Server is a witness: it answers add-checkpoint (c2sp.org/tlog-witness)
// for the logs its operator added, cosigning a checkpoint only when it is a
// consistent extension of the latest one it cosigned for that log.
type Server struct {
	dir     string
	signer  *Signer
	log     *slog.Logger
	release func() error

	mu   sync.Mutex // checks and state updates are one step (the spec's race)
	logs map[string]note.Verifier
}

// Open serves the witness whose state is in dir, signing with signer. It
// holds dir's lock until Close.
func Open(dir string, signer *Signer, log *slog.Logger) (*Server, error) {
	const op = "witness"
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(filepath.Join(dir, stateDir), 0o700); err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	release, err := store.LockDir(dir)
	if err != nil {
		return nil, err
	}
	logs, err := readLogs(dir)
	if err != nil {
		release()
		return nil, err
	}
	return &Server{dir: dir, signer: signer, log: log, release: release, logs: logs}, nil
}

// Close lets another process serve the directory.
func (s *Server) Close() error { return s.release() }

// Log is one log a witness cosigns for.
type Log struct {
	Origin string `json:"origin"`
	Key    string `json:"vkey"`
}

// AddLog adds a log, by its checkpoints' origin and its signed-note vkey,
// to the logs the witness in dir cosigns for. A running witness reads the
// list when it starts (and on Reload).
func AddLog(dir, origin, vkey string) error {
	const op = "witness add log"
	if origin == "" || strings.ContainsAny(origin, "\n ") {
		return holdfast.Errorf(op, holdfast.Invalid, "origin %q: want one line without spaces", origin)
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return holdfast.E(op, holdfast.Invalid, err, "the log's vkey")
	}
	logs, err := ListLogs(dir)
	if err != nil {
		return err
	}
	for _, l := range logs {
		if l.Origin == origin {
			return holdfast.Errorf(op, holdfast.Exist, "log %q is already witnessed (vkey %s)", origin, l.Key)
		}
	}
	logs = append(logs, Log{origin, vkey})
	var b strings.Builder
	for _, l := range logs {
		fmt.Fprintf(&b, "%s %s\n", l.Origin, l.Key)
	}
	if err := store.WriteReplace(filepath.Join(dir, logsFile), []byte(b.String()), 0o600); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}

// ListLogs returns the logs the witness in dir cosigns for.
func ListLogs(dir string) ([]Log, error) {
	b, err := os.ReadFile(filepath.Join(dir, logsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, holdfast.E("witness logs", holdfast.IO, err)
	}
	var logs []Log
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		origin, vkey, ok := strings.Cut(line, " ")
		if !ok {
			return nil, holdfast.Errorf("witness logs", holdfast.Invalid, "%s line %d: want \"origin vkey\"", filepath.Join(dir, logsFile), i+1)
		}
		logs = append(logs, Log{origin, vkey})
	}
	return logs, nil
}

func readLogs(dir string) (map[string]note.Verifier, error) {
	list, err := ListLogs(dir)
	if err != nil {
		return nil, err
	}
	logs := map[string]note.Verifier{}
	for _, l := range list {
		v, err := note.NewVerifier(l.Key)
		if err != nil {
			return nil, holdfast.E("witness logs", holdfast.Invalid, err, "log "+strconv.Quote(l.Origin))
		}
		logs[l.Origin] = v
	}
	return logs, nil
}

// Reload rereads the list of logs.
func (s *Server) Reload() error {
	logs, err := readLogs(s.dir)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.logs = logs
	s.mu.Unlock()
	return nil
}

// State is what the witness holds for one log: the latest checkpoint it
// cosigned.
type State struct {
	Origin     string    `json:"origin"`
	Size       uint64    `json:"size"`
	Root       []byte    `json:"root"`
	Checkpoint string    `json:"checkpoint"` // the note as submitted
	Cosigned   time.Time `json:"cosigned"`
}

// Latest returns the latest checkpoint the witness cosigned for origin (the
// zero State if none).
func (s *Server) Latest(origin string) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state(origin)
}

func (s *Server) statePath(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return filepath.Join(s.dir, stateDir, hex.EncodeToString(h[:]))
}

func (s *Server) state(origin string) (State, error) {
	b, err := os.ReadFile(s.statePath(origin))
	if errors.Is(err, os.ErrNotExist) {
		return State{Origin: origin}, nil
	}
	if err != nil {
		return State{}, holdfast.E("witness state", holdfast.IO, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.Origin != origin {
		return State{}, holdfast.Errorf("witness state", holdfast.Integrity, "the state of log %q (%s) is damaged: the witness must not cosign for it until its operator restores it", origin, s.statePath(origin))
	}
	return st, nil
}

// Refusal is one refused add-checkpoint, as the refused file keeps it.
type Refusal struct {
	Time    time.Time `json:"time"`
	Remote  string    `json:"remote,omitempty"`
	Status  int       `json:"status"`
	Origin  string    `json:"origin,omitempty"`
	Reason  string    `json:"reason"`
	Request string    `json:"request,omitempty"` // the body, as evidence, when its signature verified
}

// Refusals returns what the witness in dir refused, oldest first.
func Refusals(dir string) ([]Refusal, error) {
	f, err := os.Open(filepath.Join(dir, refusedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, holdfast.E("witness refusals", holdfast.IO, err)
	}
	defer f.Close()
	var out []Refusal
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4*maxRequest)
	for sc.Scan() {
		var r Refusal
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

// ServeHTTP answers POST /add-checkpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/add-checkpoint" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "add-checkpoint takes POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		s.refuse(w, r, refused(http.StatusRequestEntityTooLarge, "", "request body over 64 KiB", nil))
		return
	}
	res := s.add(body)
	if res.status != http.StatusOK {
		s.refuse(w, r, res)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(res.sig)
}

// result is add-checkpoint's answer: 200 with the cosignature, or a
// refusal with its reason, the request as evidence when the log signed it,
// and, for a 409 on the old size, the witness's size.
type result struct {
	status   int
	origin   string
	reason   string
	evidence []byte
	sig      []byte
	size     *uint64
}

func refused(status int, origin, reason string, evidence []byte) result {
	return result{status: status, origin: origin, reason: reason, evidence: evidence}
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, res result) {
	status, origin, reason, evidence := res.status, res.origin, res.reason, res.evidence
	s.log.Warn("add-checkpoint refused", "status", status, "origin", origin, "reason", reason, "remote", r.RemoteAddr)
	// The refused file keeps what a log signed and the witness refused —
	// evidence of the log's misbehaviour; requests nobody signed are only
	// logged, so that anyone on the network cannot fill the disk.
	if evidence != nil {
		ref := Refusal{Time: time.Now().UTC(), Remote: r.RemoteAddr, Status: status, Origin: origin, Reason: reason, Request: string(evidence)}
		if b, err := json.Marshal(ref); err == nil {
			if f, err := os.OpenFile(filepath.Join(s.dir, refusedFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				f.Write(append(b, '\n'))
				f.Sync()
				f.Close()
			}
		}
	}
	if res.size != nil {
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%d\n", *res.size)
		return
	}
	http.Error(w, reason, status)
}

// add runs the checks of add-checkpoint on body and, when they pass,
// persists the new state and returns the cosignature line.
func (s *Server) add(body []byte) result {
	old, hashes, msg, err := parseRequest(body)
	if err != nil {
		return refused(http.StatusBadRequest, "", err.Error(), nil)
	}
	text, _, _ := bytes.Cut(msg, []byte("\n\n"))
	origin, _, _ := strings.Cut(string(text), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.logs[origin]
	if !ok {
		return refused(http.StatusNotFound, origin, "unknown log origin", nil)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return refused(http.StatusForbidden, origin, "no signature by the log's key verifies: "+err.Error(), nil)
	}
	c, err := store.ParseCheckpoint(msg, v)
	if err != nil {
		return refused(http.StatusBadRequest, origin, err.Error(), body)
	}
	if old > c.Size {
		return refused(http.StatusBadRequest, origin, fmt.Sprintf("old size %d is larger than the checkpoint's %d", old, c.Size), body)
	}
	st, err := s.state(origin)
	if err != nil {
		return refused(http.StatusInternalServerError, origin, err.Error(), body)
	}
	if old != st.Size {
		res := refused(http.StatusConflict, origin, fmt.Sprintf("old size does not match: the witness's latest size is %d (the request says %d)", st.Size, old), body)
		res.size = &st.Size
		return res
	}
	if old == c.Size {
		if old > 0 && !bytes.Equal(c.Root, st.Root) {
			return refused(http.StatusConflict, origin, fmt.Sprintf("a different root hash at size %d than the checkpoint the witness cosigned: a split view of the log", old), body)
		}
		if len(hashes) > 0 {
			return refused(http.StatusUnprocessableEntity, origin, "a consistency proof between equal sizes must be empty", body)
		}
	} else if old == 0 {
		if len(hashes) > 0 {
			return refused(http.StatusUnprocessableEntity, origin, "the consistency proof from size 0 must be empty", body)
		}
	} else if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, c.Size, hashes, st.Root, c.Root); err != nil {
		return refused(http.StatusUnprocessableEntity, origin, fmt.Sprintf("the checkpoint of size %d is not consistent with the size %d the witness cosigned: %v", c.Size, old, err), body)
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, s.signer)
	if err != nil {
		return refused(http.StatusInternalServerError, origin, err.Error(), nil)
	}
	next := State{Origin: origin, Size: c.Size, Root: c.Root, Checkpoint: string(msg), Cosigned: time.Now().UTC()}
	b, _ := json.Marshal(next)
	if err := store.WriteReplace(s.statePath(origin), b, 0o600); err != nil {
		return refused(http.StatusInternalServerError, origin, "persisting the witness's state: "+err.Error(), nil)
	}
	return result{status: http.StatusOK, origin: origin, sig: signed[len(n.Text)+1:]}
}

// parseRequest reads an add-checkpoint body: "old N", proof lines, an
// empty line, the checkpoint note.
func parseRequest(body []byte) (old uint64, hashes [][]byte, msg []byte, err error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return 0, nil, nil, errors.New("the body has no old size line")
	}
	num, ok := strings.CutPrefix(string(line), "old ")
	if !ok {
		return 0, nil, nil, errors.New(`the first line is not "old <size>"`)
	}
	old, err = strconv.ParseUint(num, 10, 64)
	if err != nil || strconv.FormatUint(old, 10) != num {
		return 0, nil, nil, fmt.Errorf("old size %q is not a decimal number without leading zeroes", num)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return 0, nil, nil, errors.New("the body ends before the empty line that precedes the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(hashes) == 63 {
			return 0, nil, nil, errors.New("more than 63 consistency proof lines")
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != 32 {
			return 0, nil, nil, errors.New("a consistency proof line is not a base64 SHA-256 hash")
		}
		hashes = append(hashes, h)
	}
	return old, hashes, rest, nil
}
