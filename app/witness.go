package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/witness"
)

// WitnessTimeout bounds one submission to one witness: a witness that is
// down delays a backup's end by at most this, and never fails it.
const WitnessTimeout = 15 * time.Second

// Witnesses returns the tenant's witnesses: the list of its latest
// witnesses.set record (none if there is none).
func (a *App) Witnesses(ctx context.Context, tenant string) ([]record.Witness, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	return readWitnesses(ctx, s)
}

// readWitnesses reads the tenant's witnesses from its log. Every write
// that issues a checkpoint asks, so the answer is kept in the tenant's
// derived state with the log size it was read through, and only the
// records after that are scanned; a log shorter than that size (rolled
// back, or a new repository under the name) is scanned whole.
func readWitnesses(ctx context.Context, s *store.Store) ([]record.Witness, error) {
	type cached struct {
		Origin    string           `json:"origin"`
		Through   uint64           `json:"through"`
		Witnesses []record.Witness `json:"witnesses"`
	}
	p := filepath.Join(s.StateDir(), "witness-list.json")
	var c cached
	if b, err := os.ReadFile(p); err != nil || json.Unmarshal(b, &c) != nil || c.Origin != s.Config().Origin || c.Through > s.Size() {
		c = cached{Origin: s.Config().Origin}
	}
	size := s.Size()
	if c.Through == size {
		return c.Witnesses, nil
	}
	err := s.Scan(ctx, c.Through, []string{record.TypeWitnessesSet}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("read witnesses", holdfast.Integrity, err)
		}
		var d record.WitnessesSet
		if err := record.Unmarshal(r, r.Type, &d); err != nil {
			return err
		}
		c.Witnesses = d.Witnesses
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Through = size
	if b, err := json.Marshal(c); err == nil {
		store.WriteReplace(p, b, 0o600) // derived: a failure costs a rescan
	}
	return c.Witnesses, nil
}

// AddWitness adds a witness, by its submission URL and vkey, to the
// tenant's witnesses (a witnesses.set record) and submits the newest
// checkpoint to it at once. The witness's operator must have added the
// tenant's log (its origin and log key) for it to cosign; until then the
// status says so.
func (a *App) AddWitness(ctx context.Context, who Actor, tenant, rawURL, vkey string) ([]WitnessStatus, error) {
	const op = "witness add"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	v, err := witness.NewVerifier(vkey)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	if err := checkWitnessURL(rawURL); err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	ws, err := readWitnesses(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if w.Name == v.Name() || w.Key == vkey {
			return nil, holdfast.Errorf(op, holdfast.Exist, "witness %s is already one of tenant %s's witnesses (%s)", w.Name, tenant, w.URL)
		}
	}
	ws = append(ws, record.Witness{Name: v.Name(), Key: vkey, URL: rawURL})
	if err := a.setWitnesses(ctx, s, who, ws, "witness.added", v.Name()); err != nil {
		return nil, err
	}
	return a.syncWitnesses(ctx, tenant, s, ws), nil
}

// RemoveWitness drops a witness from the tenant's witnesses; the
// cosignatures it made stay.
func (a *App) RemoveWitness(ctx context.Context, who Actor, tenant, name string) error {
	const op = "witness remove"
	if err := who.validate(op); err != nil {
		return err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return err
	}
	defer a.closeStore(ctx, s)
	ws, err := readWitnesses(ctx, s)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ws, func(w record.Witness) bool { return w.Name == name })
	if i < 0 {
		return holdfast.Errorf(op, holdfast.NotFound, "tenant %s has no witness %q (holdfast witness list)", tenant, name)
	}
	return a.setWitnesses(ctx, s, who, slices.Delete(ws, i, i+1), "witness.removed", name)
}

func (a *App) setWitnesses(ctx context.Context, s *store.Store, who Actor, ws []record.Witness, change, name string) error {
	if ws == nil {
		ws = []record.Witness{}
	}
	if _, err := s.Append(ctx, record.TypeWitnessesSet, record.WitnessesSet{Witnesses: ws, Change: change, Witness: name, Actor: who.String()}); err != nil {
		return err
	}
	_, _, err := s.Checkpoint(ctx)
	return err
}

// checkWitnessURL accepts an http or https URL without credentials, query
// or fragment: it is written into the log, and a witness needs none.
func checkWitnessURL(raw string) error {
	if strings.Contains(raw, "@") {
		return errors.New("a witness URL carries no credentials (it is written into the tenant's log)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("witness URL %q: want http(s)://host/prefix", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("a witness URL carries no query or fragment (it is written into the tenant's log)")
	}
	return nil
}

// WitnessStatus is where one witness stands with a tenant's log.
type WitnessStatus struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Cosigned uint64 `json:"cosigned_size"`   // the largest checkpoint it cosigned (0: none)
	Latest   uint64 `json:"checkpoint_size"` // the tenant's newest checkpoint
	// Refused is set when the witness refused the log's newest checkpoint
	// as inconsistent with what it cosigned before: the log was rolled
	// back or shows two histories. It is an integrity failure.
	Refused string    `json:"refused,omitempty"`
	Error   string    `json:"error,omitempty"` // unreachable, or does not know the log: tried again later
	At      time.Time `json:"at"`
}

// OK reports whether the witness cosigned the newest checkpoint.
func (w WitnessStatus) OK() bool { return w.Latest > 0 && w.Cosigned == w.Latest }

// SyncWitnesses submits the tenant's newest checkpoint to every witness
// that has not cosigned it and keeps the cosignatures. A witness that is
// down is an error in its status, not of the call.
func (a *App) SyncWitnesses(ctx context.Context, tenant string) ([]WitnessStatus, error) {
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	ws, err := readWitnesses(ctx, s)
	if err != nil {
		return nil, err
	}
	return a.syncWitnesses(ctx, tenant, s, ws), nil
}

// WitnessStatuses returns what the last submissions to the tenant's
// witnesses found (kept in the tenant's derived state).
func (a *App) WitnessStatuses(tenant string) ([]WitnessStatus, error) {
	b, err := os.ReadFile(a.witnessStatusFile(tenant))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, holdfast.E("witness status", holdfast.IO, err)
	}
	var out []WitnessStatus
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, holdfast.E("witness status", holdfast.IO, err, a.witnessStatusFile(tenant))
	}
	return out, nil
}

func (a *App) witnessStatusFile(tenant string) string {
	return filepath.Join(a.data.TenantDir(tenant), "state", "witnesses.json")
}

func (a *App) syncWitnesses(ctx context.Context, tenant string, s *store.Store, ws []record.Witness) []WitnessStatus {
	if len(ws) == 0 {
		return nil
	}
	out := make([]WitnessStatus, len(ws))
	latest, err := s.LatestCheckpoint(ctx)
	cosigned, err2 := s.CosignedSizes(ctx)
	prover := s.Prover(latest.Size) // one read of the log for every witness's proofs
	var wg sync.WaitGroup
	for i, w := range ws {
		out[i] = WitnessStatus{Name: w.Name, URL: w.URL, Latest: latest.Size, At: a.now().UTC()}
		if err != nil || err2 != nil {
			out[i].Error = fmt.Sprintf("reading the checkpoints: %v", errors.Join(err, err2))
			continue
		}
		v, verr := witness.NewVerifier(w.Key)
		if verr != nil {
			out[i].Error = verr.Error()
			continue
		}
		for size, hashes := range cosigned {
			if size > out[i].Cosigned && slices.Contains(hashes, v.KeyHash()) {
				out[i].Cosigned = size
			}
		}
		if out[i].Cosigned >= latest.Size {
			continue
		}
		wg.Add(1)
		go func(st *WitnessStatus, w record.Witness, v *witness.Verifier) {
			defer wg.Done()
			submitCheckpoint(ctx, s, prover, latest, w, v, st)
		}(&out[i], w, v)
	}
	wg.Wait()
	for _, st := range out {
		switch {
		case st.Refused != "":
			a.note("witness %s refused checkpoint %d: %s", st.Name, st.Latest, st.Refused)
		case st.Error != "":
			a.note("witness %s has not cosigned checkpoint %d: %s (tried again after the next checkpoint)", st.Name, st.Latest, st.Error)
		}
	}
	if b, err := json.MarshalIndent(out, "", "  "); err == nil {
		if err := store.WriteReplace(a.witnessStatusFile(tenant), b, 0o600); err != nil {
			a.note("the witnesses' status was not saved: %v", err)
		}
	}
	return out
}

// maxChain bounds how many checkpoints one submission round sends a
// witness: the newest ones a witness has not cosigned, oldest first (a
// witness back after a long outage cosigns the newest few; the newest
// vouches for everything before it).
const maxChain = 16

// submitCheckpoint asks witness w to cosign, in order, every checkpoint up
// to c it has not cosigned (at most maxChain), each with a consistency
// proof from the one before, starting from the size it last cosigned as far
// as this store knows; a witness that knows another size says so, and the
// round starts again from there, once.
func submitCheckpoint(ctx context.Context, s *store.Store, prover *store.Prover, c store.Checkpoint, w record.Witness, v *witness.Verifier, st *WitnessStatus) {
	ctx, cancel := context.WithTimeout(ctx, WitnessTimeout)
	defer cancel()
	client := &http.Client{Timeout: WitnessTimeout}
	old := st.Cosigned
	for attempt := 0; attempt < 2; attempt++ {
		if old > c.Size {
			st.Refused = fmt.Sprintf("it has cosigned size %d of this log, beyond its newest checkpoint %d: the log was rolled back", old, c.Size)
			return
		}
		all, err := s.CheckpointSizes(ctx)
		if err != nil {
			st.Error = fmt.Sprintf("listing the checkpoints: %v", err)
			return
		}
		var chain []uint64
		for _, n := range all {
			if n > old && n <= c.Size {
				chain = append(chain, n)
			}
		}
		chain = chain[max(0, len(chain)-maxChain):]
		if len(chain) == 0 {
			// The witness holds this very size: it cosigns it again if it is
			// the same checkpoint, and says so if it is another.
			chain = []uint64{c.Size}
		}
		proofs, err := prover.Chain(ctx, min(old, chain[0]), chain)
		switch {
		case holdfast.Is(holdfast.NotFound, err):
			st.Refused = fmt.Sprintf("it has cosigned size %d of this log, and this log has no checkpoint of that size (its newest is %d): the log was rolled back or forked", old, c.Size)
			return
		case err != nil:
			st.Refused = fmt.Sprintf("it has cosigned size %d of this log, which this log cannot prove its newest checkpoint %d consistent with (%v): the log was rolled back or forked", old, c.Size, err)
			return
		}
		again := false
		for i, n := range chain {
			from := old
			if i > 0 {
				from = chain[i-1]
			}
			if !submitOne(ctx, client, s, n, from, proofs[i], w, v, st, attempt == 0, &old, &again) {
				break
			}
		}
		if !again {
			return
		}
	}
}

// submitOne sends checkpoint n with the proof from size from; it says
// whether to go on with the next, and sets again (with old the witness's
// size) when the round should start over from the witness's size.
func submitOne(ctx context.Context, client *http.Client, s *store.Store, n, from uint64, proof [][]byte, w record.Witness, v *witness.Verifier, st *WitnessStatus, mayRetry bool, old *uint64, again *bool) bool {
	c, err := s.CheckpointAt(ctx, n)
	if err != nil {
		st.Error = fmt.Sprintf("reading checkpoint %d: %v", n, err)
		return false
	}
	if from == n {
		proof = nil
	}
	sig, err := witness.Submit(ctx, client, w.URL, from, proof, c.Note)
	var conflict *witness.ConflictError
	var refused *witness.RefusedError
	switch {
	case err == nil:
		if err := s.AddCosignature(ctx, n, v, sig); err != nil {
			st.Error = fmt.Sprintf("its answer: %v", err)
			return false
		}
		st.Cosigned = n
		return true
	case errors.As(err, &conflict) && conflict.SizeKnown && mayRetry:
		*old, *again = conflict.Size, true
	case errors.As(err, &conflict):
		st.Refused = fmt.Sprintf("it holds another checkpoint of this log at size %d: the log shows two histories (%s)", n, err)
	case errors.As(err, &refused) && refused.Status == http.StatusUnprocessableEntity:
		st.Refused = fmt.Sprintf("checkpoint %d is not consistent with size %d, which it cosigned: the log was rolled back or forked (%v)", n, from, err)
	case errors.As(err, &refused) && (refused.Status == http.StatusNotFound || refused.Status == http.StatusForbidden):
		st.Error = fmt.Sprintf("it does not witness this log (%v); its operator adds it with: holdfast witness allow --data DIR %s %s", err, c.Origin, s.Config().LogKey)
	default:
		st.Error = err.Error()
	}
	return false
}

// closeStore closes s; when s issued a checkpoint and the tenant has
// witnesses, the newest checkpoint goes to them first, so that every
// write ends witnessed (or with the reason it is not in the status).
func (a *App) closeStore(ctx context.Context, s *store.Store) {
	if s.Issued() {
		a.witnessNow(ctx, s)
	}
	closeStore(ctx, s)
}

// witnessNow submits the newest checkpoint to the tenant's witnesses, if
// it has any: at the end of a write, and before an export carries the
// checkpoint.
func (a *App) witnessNow(ctx context.Context, s *store.Store) {
	ws, err := readWitnesses(ctx, s)
	if err != nil {
		a.note("the tenant's witnesses could not be read: %v", err)
		return
	}
	if len(ws) > 0 {
		a.syncWitnesses(context.WithoutCancel(ctx), s.Config().Tenant, s, ws)
	}
}

// RetryWitnesses submits again, for every tenant, a newest checkpoint
// that one of its witnesses has not cosigned: the witness was down, or the
// write that issued it ended before it could submit. A witness that
// refused the newest checkpoint is not asked again until the log grows.
// Tenants are taken eight at a time, so that a witness that is down for
// all of them costs minutes, not hours.
func (a *App) RetryWitnesses(ctx context.Context) {
	tenants, err := a.Tenants()
	if err != nil {
		return
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, t := range tenants {
		sts, err := a.WitnessStatuses(t)
		if err != nil || len(sts) == 0 {
			continue
		}
		size, _, known, _ := a.data.LogMark(t)
		need := false
		for _, st := range sts {
			grew := known && st.Latest < size
			need = need || grew || (!st.OK() && st.Refused == "")
		}
		if !need || ctx.Err() != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(t string) {
			defer func() { <-sem; wg.Done() }()
			if _, err := a.SyncWitnesses(ctx, t); err != nil {
				a.note("tenant %s: submitting to its witnesses: %v", t, err)
			}
		}(t)
	}
	wg.Wait()
}
