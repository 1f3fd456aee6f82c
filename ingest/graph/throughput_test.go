package graph_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/holdfast/holdfast/store"
)

// TestThrottledMailboxDoesNotHoldBackOthers: Exchange throttles one
// mailbox for five minutes (every request to it answers 429 with a
// Retry-After of minutes). Every other mailbox is backed up meanwhile; the
// throttled one waits alone. Cancelled, and run again once the throttling
// is over, the backup holds what a clean run does.
func TestThrottledMailboxDoesNotHoldBackOthers(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 5})
	alice := e.info.Users[0]
	e.ft.ThrottleMailbox(alice, 5*time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	othersDone := make(chan ingest.Progress, 1)
	var once sync.Once
	runErr := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := ingest.Run(ctx, e.client, s, ingest.Options{Workloads: []holdfast.Workload{holdfast.Mail}, Progress: func(p ingest.Progress) {
			if p.Accounts > 1 && p.AccountsDone == p.Accounts-1 {
				once.Do(func() { othersDone <- p })
			}
		}})
		runErr <- err
	}()
	var p ingest.Progress
	select {
	case p = <-othersDone:
	case err := <-runErr:
		t.Fatalf("the run ended before the others were done: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the other mailboxes were not backed up while one was throttled")
	}
	took := time.Since(start)
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: got %v, want context.Canceled", err)
	}
	s.Close(context.Background())
	for _, a := range p.PerAccount {
		switch {
		case a.Account == alice && (a.State == ingest.AccountDone || a.MailSeen != 0):
			t.Errorf("the throttled mailbox: %+v, want nothing seen", a)
		case a.Account != alice && a.State != ingest.AccountDone:
			t.Errorf("%s: %s while another mailbox was throttled, want done", a.Account, a.State)
		}
	}
	if took > time.Minute {
		t.Errorf("the other mailboxes took %v with one throttled", took)
	}
	if st := e.ft.Stats(); st.LimitedMailbox == 0 {
		t.Errorf("the mailbox was not throttled: %+v", st)
	}
	t.Logf("others done after %v: %d of %d messages seen", took.Round(time.Millisecond), p.MailSeen, p.MailExpected)

	// The throttling is over; a new run (a new process) finishes the job.
	e.ft.ThrottleMailbox(alice, 0)
	e.client, _ = graph.New(connOf(e.info, false))
	e.backup(workloads...)
	e.compare()
}

// TestLargestMailboxFirst: the run starts with the largest mailbox, as the
// folders' item counts tell, and its progress names every account with
// what it holds and what was seen.
func TestLargestMailboxFirst(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 5, Users: 6, ItemsPerUser: 10, LargeMailbox: 8})
	ctx := context.Background()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	var last ingest.Progress
	res, err := ingest.Run(ctx, e.client, s, ingest.Options{Workloads: []holdfast.Workload{holdfast.Mail}, Accounts: 1, Progress: func(p ingest.Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if len(last.PerAccount) == 0 || last.PerAccount[0].Account != e.info.Users[0] {
		t.Fatalf("start order %+v, want %s (80 messages) first", last.PerAccount, e.info.Users[0])
	}
	for i, a := range last.PerAccount {
		if i > 0 && a.MailExpected > last.PerAccount[i-1].MailExpected {
			t.Errorf("%s (%d messages) started after %s (%d)", a.Account, a.MailExpected, last.PerAccount[i-1].Account, last.PerAccount[i-1].MailExpected)
		}
		if a.State != ingest.AccountDone || a.MailSeen != a.MailExpected {
			t.Errorf("%s at the end: %+v, want done with every message seen", a.Account, a)
		}
	}
	if last.MailExpected != int64(res.ItemsNew) || last.AccountsDone != last.Accounts {
		t.Errorf("final progress: %d messages expected, %d accounts of %d done; the run captured %d", last.MailExpected, last.AccountsDone, last.Accounts, res.ItemsNew)
	}
}
