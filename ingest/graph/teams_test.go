package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// teamsVersions reads back every Teams item version: item → its contents
// (the message JSON, then its hosted contents), newest last.
func (e *env) teamsVersions() map[string][][][]byte {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][][][]byte{}
	err = s.Records(ctx, 0, func(_ []byte, r store.Record) error {
		var d struct {
			Workload, Item string
		}
		if r.Type != record.TypeItemVersion || json.Unmarshal(r.Data, &d) != nil || d.Workload != "teams" {
			return nil
		}
		var contents [][]byte
		for _, ref := range r.Refs {
			var b bytes.Buffer
			if err := s.ReadContent(ctx, ref, &b); err != nil {
				return err
			}
			contents = append(contents, b.Bytes())
		}
		out[d.Item] = append(out[d.Item], contents)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestTeamsCapturesEveryPost: with channel delta limited to eight months
// as Microsoft documents, and new replies not surfacing their thread in
// delta (the documented behaviour), a backup captures every post whatever
// its age, every reply, new, edited and deleted replies in old threads,
// messages deleted before the first run as evidence, each message's JSON
// as Graph sent it, and pasted images.
func TestTeamsCapturesEveryPost(t *testing.T) {
	for _, surface := range []bool{false, true} {
		// Whether or not a new reply brings its thread back in channel
		// delta (undocumented): Holdfast must not depend on it.
		t.Run(map[bool]string{false: "documented", true: "replies surface roots"}[surface], func(t *testing.T) {
			testTeamsCapturesEveryPost(t, faketenant.Options{Seed: 12, RepliesSurfaceRoots: surface})
		})
	}
}

func testTeamsCapturesEveryPost(t *testing.T, o faketenant.Options) {
	e := newEnv(t, o)
	// The seeded tenant's posts are from 2025; a day of activity adds posts
	// from now: the first backup meets both sides of the window.
	if _, err := e.ft.Mutate(faketenant.Mutation{Scenario: "activity"}); err != nil {
		t.Fatal(err)
	}
	res := e.backup(holdfast.Teams)
	if res.Status != ingest.StatusCompleted {
		t.Fatalf("backup: %s %v", res.Status, res.FailedItems)
	}
	check := func(when string) map[string][][][]byte {
		t.Helper()
		got := e.teamsVersions()
		old, live := 0, 0
		for _, it := range e.ft.Truth() {
			if it.Workload != "teams" {
				continue
			}
			live++
			vs := got[it.ID]
			if len(vs) == 0 {
				t.Errorf("%s: %s (%s, last modified %s) was not captured", when, it.ID, it.Path, it.Modified)
				continue
			}
			if mod, _ := time.Parse(time.RFC3339Nano, it.Modified); time.Since(mod) > 8*30*24*time.Hour {
				old++
			}
			// As Graph sent it, byte for byte (milliseconds and all).
			if want := e.ft.MessageJSON(it.ID); !bytes.Equal(vs[len(vs)-1][0], want) {
				t.Errorf("%s: %s stored as\n%s\nserved as\n%s", when, it.ID, vs[len(vs)-1][0], want)
			}
		}
		if old == 0 || live == old {
			t.Errorf("%s: %d of %d messages are older than eight months; the test needs both sides of the window", when, old, live)
		}
		return got
	}
	got := check("first run")
	for id, hosted := range e.ft.HostedContents() {
		vs := got[id]
		if len(vs) == 0 || len(vs[len(vs)-1]) != 1+len(hosted) || !bytes.Equal(vs[len(vs)-1][1], hosted[0]) {
			t.Errorf("%s: its hosted content was not stored byte for byte", id)
		}
	}
	// Deleted before any backup: on record, with the deletion time, once.
	// (The seeded post and reply, and what the activity deleted.)
	unseen := e.records(record.TypeDeletedUnseen)
	seeded := 0
	for _, u := range unseen {
		if strings.Contains(u, `"deleted":"2025-04-02T`) && strings.Contains(u, `"path":"Contoso Accountants/General"`) {
			seeded++
		}
	}
	if seeded != 2 || !strings.Contains(strings.Join(unseen, ""), `"thread":"`) {
		t.Errorf("deleted-before-capture records: %v, want the seeded post and reply among them", unseen)
	}

	// Another day: a new thread, a reply to the oldest thread (which does
	// not come back in delta), a reply edited and one deleted.
	if _, err := e.ft.Mutate(faketenant.Mutation{Scenario: "activity"}); err != nil {
		t.Fatal(err)
	}
	before := len(e.records(record.TypeTombstone))
	res = e.backup(holdfast.Teams)
	if res.Status != ingest.StatusCompleted || res.Workloads[holdfast.Teams].ItemsNew < 3 || res.Workloads[holdfast.Teams].ItemsChanged < 2 || res.Workloads[holdfast.Teams].ItemsDeleted < 2 {
		t.Errorf("second run: %s %+v; want new posts and a reply, an edited reply and an edited chat message, a deleted reply and chat message", res.Status, res.Workloads[holdfast.Teams])
	}
	check("after activity")
	if n := len(e.records(record.TypeTombstone)); n < before+2 {
		t.Errorf("tombstones %d → %d: the deleted reply was not recorded", before, n)
	}
	if again := e.records(record.TypeDeletedUnseen); len(again) != len(unseen) {
		t.Errorf("deleted-before-capture recorded again: %d records", len(again))
	}
}
