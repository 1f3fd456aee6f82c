package faketenant

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Mutation asks the tenant to change: a scenario, optionally for one user
// and one folder path.
type Mutation struct {
	Scenario string `json:"scenario"`
	User     string `json:"user,omitempty"`
	Path     string `json:"path,omitempty"`
}

// MutationResult says what a mutation changed.
type MutationResult struct {
	Scenario string `json:"scenario"`
	User     string `json:"user,omitempty"`
	Workload string `json:"workload,omitempty"`
	Path     string `json:"path,omitempty"`
	Items    int    `json:"items"`
}

// Scenarios lists the mutations Mutate knows.
var Scenarios = []string{"activity", "disable-user", "unlicense-user", "delete-user", "delete-folder"}

// Mutate applies a scenario.
func (s *Server) Mutate(m Mutation) (MutationResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.t
	res := MutationResult{Scenario: m.Scenario, User: m.User, Path: m.Path}
	pick := func(def int) (*User, error) {
		if m.User == "" {
			return t.Users[def], nil
		}
		u := t.user(m.User)
		if u == nil {
			return nil, fmt.Errorf("no user %q in the fake tenant", m.User)
		}
		return u, nil
	}
	now := time.Now().UTC()
	switch m.Scenario {
	case "activity":
		// In every live mailbox: two new messages, one read-state change,
		// one deletion.
		res.Workload = "mail"
		for i, u := range t.Users {
			if u.Deleted != nil || (m.User != "" && !strings.EqualFold(m.User, u.UPN)) {
				continue
			}
			inbox := u.folder("inbox")
			var live []*Message
			for _, msg := range inbox.Messages {
				if !msg.Deleted {
					live = append(live, msg)
				}
			}
			base := 1000 + int(t.seq)
			t.addMessage(u, inbox, base+i*2)
			t.addMessage(u, inbox, base+i*2+1)
			res.Items += 2
			sort.Slice(live, func(a, b int) bool { return live[a].ID < live[b].ID })
			if len(live) >= 2 {
				live[0].IsRead = !live[0].IsRead
				live[0].Modified = now
				live[0].Seq = t.nextSeq()
				live[1].Deleted = true
				live[1].Seq = t.nextSeq()
				res.Items += 2
			}
		}
	case "disable-user", "unlicense-user", "delete-user":
		u, err := pick(1)
		if err != nil {
			return res, err
		}
		res.User = u.UPN
		switch m.Scenario {
		case "disable-user":
			u.Enabled = false
		case "unlicense-user":
			u.Licensed = false
		case "delete-user":
			u.Deleted = &now
		}
		res.Items = 1
	case "delete-folder":
		u, err := pick(0)
		if err != nil {
			return res, err
		}
		path := m.Path
		if path == "" {
			path = "Inbox/Clients/Harbour Bakery"
		}
		f := u.folderByPath(path)
		if f == nil {
			return res, fmt.Errorf("no mail folder %q for %s", path, u.UPN)
		}
		res.User, res.Path, res.Workload = u.UPN, path, "mail"
		for _, msg := range f.Messages {
			if !msg.Deleted {
				msg.Deleted = true
				msg.Seq = t.nextSeq()
				res.Items++
			}
		}
	default:
		return res, fmt.Errorf("unknown scenario %q (known: %s)", m.Scenario, strings.Join(Scenarios, ", "))
	}
	return res, nil
}

// FolderPath returns the display path of a mail folder ("Inbox/Clients").
func (u *User) FolderPath(f *Folder) string {
	var parts []string
	for f != nil {
		parts = append([]string{f.DisplayName}, parts...)
		f = u.folder(f.ParentID)
		if f != nil && f.ParentID == "" && len(parts) > 8 {
			break
		}
	}
	return strings.Join(parts, "/")
}

func (u *User) folderByPath(path string) *Folder {
	for _, f := range u.Folders {
		if strings.EqualFold(u.FolderPath(f), path) {
			return f
		}
	}
	return nil
}

// TruthItem is one live item as the tenant holds it.
type TruthItem struct {
	Account  string `json:"account"`
	Workload string `json:"workload"`
	Path     string `json:"path"`
	ID       string `json:"id"`
	SHA256   string `json:"sha256"` // of the content (MIME for mail)
	Modified string `json:"modified"`
}

// Truth lists every live item of every mailbox Graph serves, sorted, for
// tests to compare a backup against.
func (s *Server) Truth() []TruthItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TruthItem
	for _, u := range s.t.Users {
		if u.Deleted != nil {
			continue
		}
		for _, f := range u.Folders {
			for _, m := range f.Messages {
				if m.Deleted {
					continue
				}
				sum := sha256.Sum256(m.MIME)
				out = append(out, TruthItem{Account: u.UPN, Workload: "mail", Path: u.FolderPath(f), ID: m.ID,
					SHA256: hex.EncodeToString(sum[:]), Modified: m.Modified.Format(time.RFC3339)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account+out[i].ID < out[j].Account+out[j].ID })
	return out
}

// serveAdmin is the test and CLI API: POST /admin/mutate, GET /admin/truth,
// GET /admin/stats. It needs the client secret as a bearer token.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, p []string) {
	if r.Header.Get("Authorization") != "Bearer "+s.t.ClientSecret {
		graphError(w, http.StatusUnauthorized, "Unauthorized", "the admin API needs the client secret as a bearer token")
		return
	}
	switch {
	case len(p) == 1 && p[0] == "mutate" && r.Method == http.MethodPost:
		var m Mutation
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		res, err := s.Mutate(m)
		if err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		writeJSON(w, res)
	case len(p) == 1 && p[0] == "truth":
		writeJSON(w, s.Truth())
	case len(p) == 1 && p[0] == "stats":
		writeJSON(w, s.Stats())
	default:
		http.NotFound(w, r)
	}
}
