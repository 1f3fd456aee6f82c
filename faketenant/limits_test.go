package faketenant

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

// answer is one throttling-relevant answer: status, Graph's error code and
// Retry-After.
type answer struct {
	status     int
	code       string
	retryAfter int
}

func (c *client) try(path string) answer {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.info.GraphEndpoint+"/v1.0"+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error struct{ Code string } }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &body)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return answer{resp.StatusCode, body.Error.Code, ra}
}

func limited(t *testing.T, l graphlimit.Limits) (*Server, *client) {
	s, c := start(t, Options{Limits: l})
	_, tok := c.getToken(c.info.ClientID, c.info.ClientSecret)
	c.token = tok["access_token"].(string)
	return s, c
}

// TestMailboxLimitIsPerMailbox: Exchange's 10,000 requests in any 10
// minutes, here 5 in any 10 minutes / 600 = 1 s, are counted per mailbox:
// the sixth request to one mailbox is refused with ApplicationThrottled and
// a Retry-After, another mailbox is untouched, and once the window has
// passed the first mailbox is served again.
func TestMailboxLimitIsPerMailbox(t *testing.T) {
	s, c := limited(t, graphlimit.Limits{MailboxRequests: 5, Scale: 600})
	alice, ben := c.info.Users[0], c.info.Users[1]
	for i := 0; i < 5; i++ {
		if a := c.try("/users/" + alice + "/mailFolders"); a.status != 200 {
			t.Fatalf("request %d: %+v", i+1, a)
		}
	}
	a := c.try("/users/" + alice + "/mailFolders")
	if a.status != 429 || a.code != "ApplicationThrottled" || a.retryAfter < 1 {
		t.Fatalf("sixth request to one mailbox: got %+v, want 429 ApplicationThrottled with Retry-After", a)
	}
	if b := c.try("/users/" + ben + "/mailFolders"); b.status != 200 {
		t.Errorf("another mailbox: got %+v, want 200", b)
	}
	if got := s.Stats().LimitedMailbox; got != 1 {
		t.Errorf("LimitedMailbox = %d, want 1", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if a := c.try("/users/" + alice + "/mailFolders"); a.status != 200 {
		t.Errorf("after the window: got %+v, want 200", a)
	}
}

// TestMailboxConcurrency: with four requests to one mailbox in flight, a
// fifth is refused with Exchange's MailboxConcurrency answer; another
// mailbox is served, and once one of the four ends the mailbox is too.
func TestMailboxConcurrency(t *testing.T) {
	s, c := limited(t, graphlimit.Limits{})
	alice, ben := c.info.Users[0], c.info.Users[1]
	s.mu.Lock()
	charge := graphlimit.Classify("GET", []string{"users", s.t.user(alice).ID, "mailFolders"}, nil)
	s.mu.Unlock()
	var releases []func()
	for i := 0; i < 4; i++ { // four requests in flight, as the server counts them
		release, refused := s.limits.admit(charge)
		if refused != nil {
			t.Fatalf("request %d of 4 refused: %+v", i+1, refused)
		}
		releases = append(releases, release)
	}
	if a := c.try("/users/" + alice + "/mailFolders"); a.status != 429 || a.code != "ApplicationThrottled" {
		t.Errorf("fifth concurrent request: got %+v, want 429 ApplicationThrottled", a)
	}
	if a := c.try("/users/" + ben + "/mailFolders"); a.status != 200 {
		t.Errorf("another mailbox: got %+v, want 200", a)
	}
	releases[0]()
	if a := c.try("/users/" + alice + "/mailFolders"); a.status != 200 {
		t.Errorf("after one ended: got %+v, want 200", a)
	}
	if got := s.Stats().LimitedConcurrency; got != 1 {
		t.Errorf("LimitedConcurrency = %d, want 1", got)
	}
}

// TestServiceLimits: SharePoint counts resource units (an initial delta
// costs 2, a delta page with a token 1) and answers activityLimitReached;
// the directory answers Request_ThrottledTemporarily; Teams allows 4
// requests a second on one channel.
func TestServiceLimits(t *testing.T) {
	t.Run("sharepoint", func(t *testing.T) {
		_, c := limited(t, graphlimit.Limits{SharePointUnits: 5, Scale: 60})
		var d struct{ ID string }
		c.get("/users/"+c.info.Users[0]+"/drive", &d)     // 1 unit
		c.get("/drives/"+d.ID+"/items/root/delta()", nil) // 2 units
		c.get("/drives/"+d.ID+"/items/root/delta()", nil) // 2 units: 5 in all
		a := c.try("/drives/" + d.ID + "/items/root/delta()")
		if a.status != 429 || a.code != "activityLimitReached" || a.retryAfter < 1 {
			t.Errorf("over the units: got %+v, want 429 activityLimitReached with Retry-After", a)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, c := limited(t, graphlimit.Limits{DirectoryUnits: 4, Scale: 10})
		for i := 0; i < 2; i++ {
			if a := c.try("/users"); a.status != 200 { // 2 units each
				t.Fatalf("request %d: %+v", i+1, a)
			}
		}
		if a := c.try("/users"); a.status != 429 || a.code != "Request_ThrottledTemporarily" {
			t.Errorf("over the units: got %+v, want 429 Request_ThrottledTemporarily", a)
		}
	})
	t.Run("teams channel", func(t *testing.T) {
		s, c := limited(t, graphlimit.Limits{})
		var teams page
		c.get("/teams", &teams)
		team := teams.Value[0]["id"].(string)
		var chans page
		c.get("/teams/"+team+"/channels", &chans) // counts against the team, not the channel
		ch := chans.Value[0]["id"].(string)
		got := 0
		for i := 0; i < 6; i++ {
			if a := c.try("/teams/" + team + "/channels/" + ch + "/messages"); a.status == 200 {
				got++
			} else if a.code != "TooManyRequests" {
				t.Errorf("refused with %+v, want TooManyRequests", a)
			}
		}
		if got != graphlimit.TeamsPerTarget || s.Stats().LimitedTeams != 2 {
			t.Errorf("6 requests to one channel at once: %d served, %d refused; want 4 and 2", got, s.Stats().LimitedTeams)
		}
	})
}
