package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/graphlimit"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// A crashed backup is a child process running ingest.Run against the fake
// tenant served by the parent test, SIGKILLed at a random moment.

const crashEnv = "HOLDFAST_INGEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashChild(spec))
	}
	if spec := os.Getenv(fakeChildEnv); spec != "" {
		os.Exit(fakeTenantChild(spec))
	}
	os.Exit(m.Run())
}

type crashSpec struct {
	Info faketenant.Info `json:"info"`
	Data string          `json:"data"`
}

func crashChild(spec string) int {
	var s crashSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	c, err := graph.New(connOf(s.Info, true))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := store.DataDir{Dir: s.Data}.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := ingest.Run(ctx, c, st, ingest.Options{Workloads: workloads, CommitInterval: 50 * time.Millisecond}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st.Close(ctx)
	return 0
}

func TestBackupCrashSafety(t *testing.T) {
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv("HOLDFAST_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	// Enough work, slowly enough served, that kills land mid-run. The
	// client is unmetered and the fake tenant's limits are scaled so that
	// twenty runs in a row fit in them: kill times scale with the work,
	// not with quota waits.
	e := newEnv(t, faketenant.Options{Seed: 11, ItemsPerUser: 60, Latency: 2 * time.Millisecond, Limits: graphlimit.Limits{Scale: 60}})
	e.client, _ = graph.New(connOf(e.info, true))
	start := time.Now()
	e.backup(workloads...)
	clean := time.Since(start)
	want := e.captured()

	crashed := newDataDir(t, "contoso")
	spec, _ := json.Marshal(crashSpec{Info: e.info, Data: crashed.Dir})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	// Kill at a random moment of a run: early ones die with most of the
	// work ahead, later ones during the incremental walk of every stream.
	// A run that finishes first is not counted, and the window shrinks to
	// the length of that run: once the killed runs have committed most of
	// the work, a run is only the incremental walk (and on a loaded
	// machine, process start-up is a good part of it).
	window := max(400*time.Millisecond, clean*8/10)
	kills, round := 0, 0
	for ; kills < rounds && round < 4*rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+string(spec))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		at := window/10 + time.Duration(rng.Int64N(int64(window*9/10)))
		timer := time.AfterFunc(at, func() { cmd.Process.Signal(syscall.SIGKILL) })
		cmd.Wait()
		took := time.Since(began)
		timer.Stop()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			kills++
			continue
		}
		if !cmd.ProcessState.Success() {
			t.Fatalf("round %d: the backup failed on its own, not killed: %v: %s", round, cmd.ProcessState, stderr.Bytes())
		}
		window = took * 9 / 10
	}
	if kills < rounds {
		t.Fatalf("only %d of %d runs were killed mid-backup; the test is not exercising crashes", kills, round)
	}
	// A final run to completion.
	e2 := &env{t: t, ft: e.ft, info: e.info, data: crashed, client: e.client}
	res := e2.backup(workloads...)
	got := e2.captured()
	if len(got) != len(want) {
		t.Errorf("after %d kills: %d items, clean run %d", kills, len(got), len(want))
	}
	for k, v := range want {
		if g := got[k]; g.sha != v.sha || g.change != v.change || g.deleted != v.deleted || g.path != v.path {
			t.Errorf("%s: after kills %+v, clean run %+v", k, g, v)
		}
	}
	// No duplicates: each (item, change) is one version.
	seen := map[string]int{}
	for _, raw := range e2.records(record.TypeItemVersion) {
		var r struct {
			Data struct{ Account, Item, Change string }
		}
		json.Unmarshal([]byte(raw), &r)
		seen[r.Data.Account+"|"+r.Data.Item+"|"+r.Data.Change]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("version %s stored %d times", k, n)
		}
	}
	s, _ := crashed.OpenTenant(context.Background(), "contoso", store.OpenTenantOptions{})
	defer s.Close(context.Background())
	if rep, err := s.Verify(context.Background(), store.VerifyOptions{}); err != nil || !rep.OK {
		t.Errorf("verify after kills: %v %v", err, rep.Failures)
	}
	if res.ItemsNew >= len(want) {
		t.Errorf("the killed runs committed nothing; the test is not exercising resumption")
	}
	t.Logf("clean run %v; %d of %d runs killed; the final run captured the remaining %d of %d; %d versions, none duplicated", clean, kills, round, res.ItemsNew, len(want), len(seen))
}
