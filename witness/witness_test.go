package witness

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
	"golang.org/x/mod/sumdb/note"
)

// testLog is a tenant log: a real store that grows and checkpoints.
type testLog struct {
	repo *storetest.Repo
	s    *store.Store
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	dir := t.TempDir()
	repo := storetest.NewRepo(t, store.NewLocal(dir), dir, nil)
	l := &testLog{repo: repo, s: repo.Open(t)}
	t.Cleanup(func() { l.s.Close(context.Background()) })
	return l
}

func (l *testLog) grow(t *testing.T, n int) store.Checkpoint {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if _, err := l.s.Append(ctx, record.TypeAudit, record.Audit{Action: "search", Actor: "t", Time: time.Unix(int64(i), 0).UTC(), Tenant: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := l.s.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// proof returns the consistency proof from old to the latest checkpoint.
func (l *testLog) proof(t *testing.T, old, size uint64) [][]byte {
	t.Helper()
	if old == 0 || old == size {
		return nil
	}
	b, err := l.s.ConsistencyBundle(context.Background(), old, size)
	if err != nil {
		t.Fatal(err)
	}
	return b.Proof
}

func newWitness(t *testing.T, dir string, logs ...*testLog) (*Server, *Signer, *httptest.Server) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	skey, _, err := GenerateKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ParseSignerKey(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		if err := AddLog(dir, l.repo.Config.Origin, l.repo.Config.LogKey); err != nil {
			t.Fatal(err)
		}
	}
	w, err := Open(dir, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(w)
	t.Cleanup(func() { hs.Close(); w.Close() })
	return w, signer, hs
}

func TestCosignatureInteroperatesWithTorchwood(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	const name = "witness.example/w1"
	ours, err := NewSigner(name, priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ours.VerifierKey(), theirs.Verifier().String(); got != want {
		t.Fatalf("vkey: got %s, torchwood %s", got, want)
	}
	v, err := NewVerifier(theirs.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	body := "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	for _, tc := range []struct {
		name   string
		signer note.Signer
		verify note.Verifier
	}{
		{"ours verified by torchwood", ours, theirs.Verifier()},
		{"torchwood's verified by ours", theirs, v},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := note.Sign(&note.Note{Text: body}, tc.signer)
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Open(msg, note.VerifierList(tc.verify))
			if err != nil {
				t.Fatalf("open: %v\n%s", err, msg)
			}
			if ts, err := torchwood.CosignatureTimestamp(n.Sigs[0]); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
				t.Errorf("timestamp %d, %v", ts, err)
			}
			tampered := strings.Replace(string(msg), "\n5\n", "\n6\n", 1)
			if _, err := note.Open([]byte(tampered), note.VerifierList(tc.verify)); err == nil {
				t.Error("a cosignature verified over another checkpoint")
			}
		})
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := GenerateKey("w.example")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSignerKey(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != vkey {
		t.Errorf("vkey from the signer key %s; GenerateKey said %s", s.VerifierKey(), vkey)
	}
	for _, bad := range []string{"", "w+00000000+AQ==", strings.Replace(vkey, "w.example", "x.example", 1), vkey + "x"} {
		if _, err := NewVerifier(bad); err == nil {
			t.Errorf("NewVerifier(%q) accepted", bad)
		}
	}
	// A log's own (type 0x01) key is not a witness key.
	_, logKey, _ := note.GenerateKey(rand.Reader, "log")
	if _, err := NewVerifier(logKey); err == nil {
		t.Error("a type 0x01 key was accepted as a cosigner key")
	}
	if _, _, err := GenerateKey("has space"); err == nil {
		t.Error("a name with a space was accepted")
	}
}

// TestAddCheckpoint walks the protocol: first submission, extension,
// each refusal the spec names, and the state the witness keeps.
func TestAddCheckpoint(t *testing.T) {
	ctx := context.Background()
	l := newTestLog(t)
	stranger := newTestLog(t)
	w, signer, hs := newWitness(t, "", l)
	v, _ := NewVerifier(signer.VerifierKey())

	c1 := l.grow(t, 3)
	sig, err := Submit(ctx, hs.Client(), hs.URL, 0, nil, c1.Note)
	if err != nil {
		t.Fatalf("first submission: %v", err)
	}
	if _, err := note.Open(append(append([]byte{}, c1.Note...), sig...), note.VerifierList(v)); err != nil {
		t.Fatalf("the cosignature does not verify: %v\n%s", err, sig)
	}
	c2 := l.grow(t, 5)
	if _, err := Submit(ctx, hs.Client(), hs.URL, c1.Size, l.proof(t, c1.Size, c2.Size), c2.Note); err != nil {
		t.Fatalf("extension: %v", err)
	}
	if st, _ := w.Latest(c2.Origin); st.Size != c2.Size {
		t.Fatalf("state size %d, want %d", st.Size, c2.Size)
	}
	// The same checkpoint again is cosigned again.
	if _, err := Submit(ctx, hs.Client(), hs.URL, c2.Size, nil, c2.Note); err != nil {
		t.Errorf("resubmission: %v", err)
	}

	c3 := l.grow(t, 2)
	other := stranger.grow(t, 2)
	tests := []struct {
		name   string
		old    uint64
		proof  [][]byte
		note   []byte
		status int
		size   uint64 // for a size conflict
	}{
		{"stale old size", c1.Size, l.proof(t, c1.Size, c3.Size), c3.Note, http.StatusConflict, c2.Size},
		{"smaller checkpoint", c2.Size, nil, c1.Note, http.StatusBadRequest, 0},
		{"unknown origin", 0, nil, other.Note, http.StatusNotFound, 0},
		{"wrong proof", c2.Size, l.proof(t, c1.Size, c3.Size), c3.Note, http.StatusUnprocessableEntity, 0},
		{"no proof", c2.Size, nil, c3.Note, http.StatusUnprocessableEntity, 0},
		{"signed by another key", c2.Size, l.proof(t, c2.Size, c3.Size), resign(t, c3.Note), http.StatusForbidden, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Submit(ctx, hs.Client(), hs.URL, tc.old, tc.proof, tc.note)
			var ce *ConflictError
			var re *RefusedError
			switch {
			case tc.status == http.StatusConflict && errors.As(err, &ce):
				if !ce.SizeKnown || ce.Size != tc.size {
					t.Errorf("conflict size %d (known %v), want %d", ce.Size, ce.SizeKnown, tc.size)
				}
			case errors.As(err, &re):
				if re.Status != tc.status {
					t.Errorf("status %d, want %d (%v)", re.Status, tc.status, err)
				}
			default:
				t.Errorf("got %v, want status %d", err, tc.status)
			}
		})
	}
	if st, _ := w.Latest(c2.Origin); st.Size != c2.Size {
		t.Fatalf("after refusals the state moved to %d, want %d", st.Size, c2.Size)
	}
	// Kept as evidence: the refusals of requests the log signed (not the
	// unknown origin's, nor the one signed by another key).
	refused, err := Refusals(w.dir)
	if err != nil || len(refused) != len(tests)-2 {
		t.Fatalf("refusals kept: %d, %v; want %d", len(refused), err, len(tests)-2)
	}
	for _, r := range refused {
		if !strings.Contains(r.Request, c3.Origin) && !strings.Contains(r.Request, c1.Origin) {
			t.Errorf("a refusal kept without the signed request: %+v", r)
		}
	}
	if _, err := Submit(ctx, hs.Client(), hs.URL, c2.Size, l.proof(t, c2.Size, c3.Size), c3.Note); err != nil {
		t.Errorf("the right submission after the refusals: %v", err)
	}
}

// resign returns the checkpoint signed by a key the witness does not know
// for its origin.
func resign(t *testing.T, msg []byte) []byte {
	t.Helper()
	_, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		t.Fatalf("open without keys: %v", err)
	}
	n := unverified.Note
	skey, _, _ := note.GenerateKey(rand.Reader, "mallory")
	s, _ := note.NewSigner(skey)
	out, err := note.Sign(&note.Note{Text: n.Text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSplitView: two checkpoints of the same size with different roots —
// the witness cosigns at most one, whether they come as first submissions
// or as extensions.
func TestSplitView(t *testing.T) {
	ctx := context.Background()
	// Two stores with the same origin and key, diverging after a common
	// prefix: the same log showing two histories.
	a := newTestLog(t)
	base := a.grow(t, 4)
	forkDir := t.TempDir()
	if err := copyDir(a.repo.Opts.LocalDir, forkDir); err != nil {
		t.Fatal(err)
	}
	b := &testLog{repo: &storetest.Repo{Backend: store.NewLocal(forkDir), Config: a.repo.Config, Signer: a.repo.Signer,
		Opts: store.Options{LocalDir: forkDir, Signer: a.repo.Signer}}}
	b.s = b.repo.Open(t)
	t.Cleanup(func() { b.s.Close(ctx) })
	ca := a.grow(t, 3)
	if _, err := b.s.Append(ctx, record.TypeAudit, record.Audit{Action: "export", Actor: "mallory", Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	cb := b.grow(t, 2)
	if ca.Size != cb.Size || string(ca.Root) == string(cb.Root) {
		t.Fatalf("the fork is not a split view: %d/%d", ca.Size, cb.Size)
	}
	_, _, hs := newWitness(t, "", a)
	if _, err := Submit(ctx, hs.Client(), hs.URL, 0, nil, base.Note); err != nil {
		t.Fatal(err)
	}
	_, errA := Submit(ctx, hs.Client(), hs.URL, base.Size, a.proof(t, base.Size, ca.Size), ca.Note)
	_, errB := Submit(ctx, hs.Client(), hs.URL, base.Size, b.proof(t, base.Size, cb.Size), cb.Note)
	if (errA == nil) == (errB == nil) {
		t.Fatalf("both or neither of two views cosigned: %v / %v", errA, errB)
	}
	// And at equal size with the old size given, a different root is a
	// conflict.
	_, err := Submit(ctx, hs.Client(), hs.URL, cb.Size, nil, cb.Note)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.SizeKnown {
		t.Fatalf("same size, other root: %v; want a root conflict", err)
	}
}

// TestStateSurvivesReopen: a witness reopened on its directory keeps the
// size it cosigned (the SIGKILL test in cmd/holdfast kills a real one).
func TestStateSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	l := newTestLog(t)
	dir := t.TempDir()
	w, _, hs := newWitness(t, dir, l)
	c := l.grow(t, 4)
	if _, err := Submit(ctx, hs.Client(), hs.URL, 0, nil, c.Note); err != nil {
		t.Fatal(err)
	}
	hs.Close()
	w.Close()
	skey, _, _ := GenerateKey("w2")
	s2, _ := ParseSignerKey(skey, nil)
	w2, err := Open(dir, s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	hs2 := httptest.NewServer(w2)
	defer hs2.Close()
	_, err = Submit(ctx, hs2.Client(), hs2.URL, 0, nil, c.Note)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Size != c.Size {
		t.Fatalf("after reopening, old size 0: %v; want a conflict at %d", err, c.Size)
	}
	if _, err := Open(dir, s2, nil); err == nil {
		t.Error("a second witness opened the same directory")
	}
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
}

// FuzzAddCheckpoint: whatever body a client sends, the witness answers
// without panicking, and never cosigns a checkpoint its log's key did not
// sign.
func FuzzAddCheckpoint(f *testing.F) {
	f.Add([]byte("old 0\n\nexample.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/log AAAA\n"))
	f.Add([]byte("old 5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"))
	f.Add([]byte("old 01\n\n"))
	f.Add([]byte(""))
	dir := f.TempDir()
	skey, _, _ := GenerateKey("w.example/fuzz")
	signer, _ := ParseSignerKey(skey, nil)
	lskey, lvkey, _ := note.GenerateKey(rand.Reader, "log")
	logSigner, _ := note.NewSigner(lskey)
	if err := AddLog(dir, "example.com/log", lvkey); err != nil {
		f.Fatal(err)
	}
	w, err := Open(dir, signer, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { w.Close() })
	signed, _ := note.Sign(&note.Note{Text: "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"}, logSigner)
	f.Add(append([]byte("old 0\n\n"), signed...))
	f.Fuzz(func(t *testing.T, body []byte) {
		res := w.add(body)
		status, sig := res.status, res.sig
		if status != http.StatusOK {
			return
		}
		_, _, msg, err := parseRequest(body)
		if err != nil {
			t.Fatalf("cosigned a request that does not parse: %q", body)
		}
		if _, err := note.Open(msg, note.VerifierList(mustVerifier(lvkey))); err != nil {
			t.Fatalf("cosigned a checkpoint the log did not sign: %q", body)
		}
		if len(sig) == 0 {
			t.Fatal("200 without a cosignature")
		}
	})
}

func mustVerifier(vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	return v
}
