package app

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
)

// blockedSource is a tenant of one mailbox whose only folder's delta
// hands over one page of messages, then hangs until released: a backup
// that runs for as long as a test wants.
type blockedSource struct {
	ingest.Source // the workloads a mail-only backup never reads
	paged         chan struct{}
	release       chan struct{}
}

func (s blockedSource) Accounts(context.Context) ([]holdfast.Account, error) {
	return []holdfast.Account{{ID: "u1", UPN: "alice@contoso.example", Enabled: true, Licensed: true}}, nil
}
func (s blockedSource) Groups(context.Context) ([]ingest.Group, error) { return nil, nil }
func (s blockedSource) MailFolders(context.Context, string) ([]ingest.MailFolder, error) {
	return []ingest.MailFolder{{ID: "f1", Path: "Inbox", Items: 3}}, nil
}
func (s blockedSource) MessagesDelta(ctx context.Context, _, _, _ string, page func([]ingest.MessageChange) error) (string, error) {
	var changes []ingest.MessageChange
	for _, id := range []string{"m1", "m2", "m3"} {
		changes = append(changes, ingest.MessageChange{ID: id, Meta: ingest.MessageMeta{Subject: "invoice " + id, ChangeKey: "c1"}})
	}
	if err := page(changes); err != nil {
		return "", err
	}
	close(s.paged)
	select {
	case <-s.release:
		return "delta-link", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
func (s blockedSource) MessageMIME(_ context.Context, _, id string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("Subject: invoice " + id + "\r\n\r\nbody\r\n")), nil
}

// TestSearchBesideABackupDoesNotWaitForIt: the index follows a backup while
// it runs, but lets go of it every indexHold, so a search beside a running
// backup answers instead of waiting for the run to end; once it ends, the
// search finds what it captured.
func TestSearchBesideABackupDoesNotWaitForIt(t *testing.T) {
	hold := indexHold
	indexHold = 200 * time.Millisecond
	defer func() { indexHold = hold }()
	a := newApp(t)
	ctx := context.Background()
	who := Actor{Name: "test"}
	src := blockedSource{paged: make(chan struct{}), release: make(chan struct{})}
	backed := make(chan error, 1)
	go func() {
		_, err := a.Backup(ctx, who, "contoso", src, BackupOptions{Workloads: []holdfast.Workload{holdfast.Mail}})
		backed <- err
	}()
	<-src.paged
	time.Sleep(3 * indexIdle) // the index has been looked at beside the run
	searched := make(chan error, 1)
	go func() {
		_, err := a.Search(ctx, who, "contoso", SearchOptions{Query: "invoice", Limit: 10})
		searched <- err
	}()
	select {
	case err := <-searched:
		if err != nil {
			t.Fatalf("search beside the backup: %v", err)
		}
	case <-time.After(30 * time.Second):
		close(src.release)
		t.Fatal("a search waited for the running backup")
	}
	close(src.release)
	if err := <-backed; err != nil {
		t.Fatal(err)
	}
	res, err := a.Search(ctx, who, "contoso", SearchOptions{Query: "invoice", Limit: 10})
	if err != nil || res.Total != 3 {
		t.Fatalf("after the backup: %v, %+v; want its 3 messages", err, res)
	}
}
