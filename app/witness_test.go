package app

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/holdfast/holdfast/witness"
)

// TestRetryWitnesses: a witness that is down when a write ends is asked
// again by RetryWitnesses (serve calls it every reload) once it is up, and
// a witness that has cosigned the newest checkpoint is not asked again.
func TestRetryWitnesses(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	who := Actor{Name: "alice", From: "ws1"}
	if _, err := a.SetSchedule(ctx, who, "contoso", ScheduleChange{Paused: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	s, err := a.Open(ctx, "contoso", ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.Config()
	closeStore(ctx, s)

	dir := t.TempDir()
	skey, vkey, _ := witness.GenerateKey("w.example/retry")
	signer, _ := witness.ParseSignerKey(skey, nil)
	if err := witness.AddLog(filepath.Join(dir, "w"), cfg.Origin, cfg.LogKey); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down for now

	st, err := a.AddWitness(ctx, who, "contoso", "http://"+addr, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].OK() || st[0].Error == "" {
		t.Fatalf("a witness that is down: %+v; want an error and no cosignature", st)
	}

	w, err := witness.Open(filepath.Join(dir, "w"), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	var requests atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { requests.Add(1); w.ServeHTTP(rw, r) })}
	go srv.Serve(ln)
	defer srv.Close()

	a.RetryWitnesses(ctx)
	got, err := a.WitnessStatuses("contoso")
	if err != nil || len(got) != 1 || !got[0].OK() {
		t.Fatalf("after RetryWitnesses with the witness up: %+v, %v; want the newest checkpoint cosigned", got, err)
	}
	if st, _ := w.Latest(cfg.Origin); st.Size != got[0].Latest {
		t.Errorf("the witness holds size %d, the status says %d", st.Size, got[0].Latest)
	}
	before := requests.Load()
	a.RetryWitnesses(ctx)
	if requests.Load() != before {
		t.Errorf("a cosigned checkpoint was submitted again (%d requests)", requests.Load()-before)
	}
}
