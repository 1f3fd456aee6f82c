package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// fakeTeams is a tenant with one team and one channel, written by hand:
// the engine's Teams part is tested on its own. The parts of Source the
// test does not exercise are the nil interface: calling them panics.
type fakeTeams struct {
	ingest.Source
	threads   []thread
	hosted    map[string][]byte // hosted content id → bytes
	hostedErr error
	fetched   int
}

type thread struct {
	root    ingest.JSONItem
	replies []ingest.JSONItem
}

func (f *fakeTeams) Accounts(context.Context) ([]holdfast.Account, error) { return nil, nil }
func (f *fakeTeams) Groups(context.Context) ([]ingest.Group, error)       { return nil, nil }
func (f *fakeTeams) Teams(context.Context) ([]ingest.Team, error) {
	return []ingest.Team{{ID: "t1", Name: "Firm", Channels: []ingest.Container{{ID: "c1", Name: "General"}}}}, nil
}
func (f *fakeTeams) ChannelThreads(_ context.Context, teamID, channelID string, each func(ingest.JSONItem, []ingest.JSONItem) error) error {
	for _, t := range f.threads {
		if err := each(t.root, append([]ingest.JSONItem(nil), t.replies...)); err != nil {
			return err
		}
	}
	return nil
}
func (f *fakeTeams) ChannelHostedContent(_ context.Context, teamID, channelID, messageID, replyID, id string) ([]byte, error) {
	f.fetched++
	if f.hostedErr != nil {
		return nil, f.hostedErr
	}
	return f.hosted[id], nil
}

func msg(id, etag, body string, hosted ...string) ingest.JSONItem {
	js, _ := json.Marshal(map[string]any{"id": id, "etag": etag, "body": map[string]string{"content": body}})
	return ingest.JSONItem{ID: id, ChangeKey: etag, Title: body, Content: js, Hosted: hosted, Modified: time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC)}
}

func records(t *testing.T, s *store.Store, typ string) []string {
	t.Helper()
	var out []string
	s.Records(context.Background(), 0, func(raw []byte, r store.Record) error {
		if r.Type == typ {
			out = append(out, string(raw))
		}
		return nil
	})
	return out
}

func TestChannelsPart(t *testing.T) {
	ctx := context.Background()
	d := store.DataDir{Dir: t.TempDir()}
	d.Init()
	if _, err := d.AddTenant(ctx, "acme", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	run := func(src *fakeTeams) (*ingest.Result, *store.Store) {
		t.Helper()
		s, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ingest.Run(ctx, src, s, ingest.Options{Workloads: []holdfast.Workload{holdfast.Teams}})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		s.Close(ctx)
		r, _ := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{ReadOnly: true})
		return res, r
	}
	gone := msg("r2", "", "")
	gone.Removed, gone.Deleted, gone.Content = true, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), nil
	src := &fakeTeams{
		threads: []thread{
			{root: msg("m1", "1", `<img src=".../hostedContents/h1/$value">`, "h1"), replies: []ingest.JSONItem{msg("r1", "1", "re"), gone}},
			{root: msg("m2", "1", "second")},
		},
		hosted: map[string][]byte{"h1": []byte("\x89PNG\r\n\x1a\nimage")},
	}
	// A hosted content that cannot be fetched: the message is not
	// recorded without it, and is tried again next run.
	src.hostedErr = errors.New("503")
	res, s := run(src)
	if c := res.Workloads[holdfast.Teams]; c.ItemsNew != 2 || len(res.FailedItems) != 1 || res.FailedItems[0].Item != "m1" {
		t.Fatalf("hosted content failing: %+v, failures %v; want m2 and r1 captured, m1 failed", c, res.FailedItems)
	}
	if n := len(records(t, s, record.TypeDeltaPosition)); n != 0 {
		t.Errorf("the channel's position was recorded although m1 failed (%d delta.position records)", n)
	}

	src.hostedErr = nil
	res, s = run(src)
	if c := res.Workloads[holdfast.Teams]; c.ItemsNew != 1 {
		t.Errorf("second run: %+v, want m1 new", c)
	}
	vs := records(t, s, record.TypeItemVersion)
	m1 := ""
	for _, v := range vs {
		if strings.Contains(v, `"item":"m1"`) {
			m1 = v
		}
	}
	if strings.Count(m1, `"sha256"`) != 2 || !strings.Contains(m1, `"hosted_id":"h1"`) || !strings.Contains(m1, `"name":"hosted 1.png"`) {
		t.Errorf("m1's version does not carry its hosted content as a second ref:\n%s", m1)
	}
	unseen := records(t, s, record.TypeDeletedUnseen)
	if len(unseen) != 1 || !strings.Contains(unseen[0], `"item":"m1/r2"`) || !strings.Contains(unseen[0], `"thread":"m1"`) || !strings.Contains(unseen[0], `"deleted":"2024-05-01T00:00:00Z"`) {
		t.Errorf("deleted before capture: %v", unseen)
	}

	// m2 vanishes from the channel; r1 is edited.
	src.threads = []thread{{root: msg("m1", "1", `<img src=".../hostedContents/h1/$value">`, "h1"), replies: []ingest.JSONItem{msg("r1", "2", "re (edited)"), gone}}}
	fetched := src.fetched
	res, s = run(src)
	if c := res.Workloads[holdfast.Teams]; c.ItemsChanged != 1 || c.ItemsDeleted != 1 || c.ItemsNew != 0 {
		t.Errorf("third run: %+v, want r1 changed and m2 deleted", c)
	}
	if src.fetched != fetched {
		t.Errorf("hosted contents of an unchanged message fetched again (%d requests)", src.fetched-fetched)
	}
	if ts := records(t, s, record.TypeTombstone); len(ts) != 1 || !strings.Contains(ts[0], `"item":"m2"`) || !strings.Contains(ts[0], "no longer in the channel") {
		t.Errorf("tombstones: %v, want m2's", ts)
	}
	if n := len(records(t, s, record.TypeDeletedUnseen)); n != 1 {
		t.Errorf("the reply deleted before capture was recorded %d times", n)
	}
}
