package faketenant

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
var Scenarios = []string{"activity", "disable-user", "unlicense-user", "delete-user", "overwrite-folder", "delete-folder", "hostile-names"}

// Hostile content the "hostile-names" scenario plants in a user's mailbox
// and OneDrive, as a server other than Microsoft's (or an attacker who can
// send mail or share a file) may serve it.
const (
	HostileSubject = "\x1b[31mURGENT\x1b[0m invoice \u202eexe.pdf"
	HostileBody    = "Please pay.\x1b]0;pwned\a\r\n"
	HostileFolder  = "/Hostile"
)

// HostileFiles are the files the scenario writes below HostileFolder, by
// their path there.
var HostileFiles = map[string]string{
	"\x1b[31mred\a\nline.txt":              "terminal escapes in a file name\n",
	"a" + strings.Repeat("é", 70) + ".txt": "a long name of two-byte characters\n",
	"../x.txt":                             "in a folder named ..\n",
	"_/x.txt":                              "in a folder named _\n",
	"Report.txt":                           "upper case\n",
	"report.txt":                           "lower case\n",
}

// ClientFolder is the seeded OneDrive folder the disaster scenarios hit by
// default, in the first user's drive.
const ClientFolder = "/Clients/Harbour Bakery Ltd"

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
		// one deletion; in every drive a new file, an edit and a deletion.
		res.Workload = "mail,onedrive,calendar,contacts,teams"
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
			res.Items += t.driveActivity(u, now)
			res.Items += t.pimActivity(u, now)
		}
		res.Items += t.teamsActivity(now)
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
	case "overwrite-folder", "delete-folder":
		if m.Scenario == "delete-folder" && m.Path != "" && !strings.HasPrefix(m.Path, "/") {
			return t.deleteMailFolder(m, res)
		}
		u, err := pick(0)
		if err != nil {
			return res, err
		}
		path := m.Path
		if path == "" {
			path = ClientFolder
		}
		folder := u.Drive.byPath(path)
		if folder == nil || !folder.Folder {
			return res, fmt.Errorf("no OneDrive folder %q for %s", path, u.UPN)
		}
		res.User, res.Path, res.Workload = u.UPN, path, "onedrive"
		for _, it := range u.Drive.descendants(folder) {
			switch {
			case m.Scenario == "delete-folder":
				it.Deleted = true
				it.Seq = t.nextSeq()
				res.Items++
			case !it.Folder:
				// "An employee overwrote the whole client folder."
				it.Content = []byte(fmt.Sprintf("overwritten by mistake on %s\n", now.Format(time.RFC3339)))
				it.Version++
				it.Modified, it.ModifiedBy = now, Address{u.DisplayName, u.Mail}
				it.Seq = t.nextSeq()
				res.Items++
			}
		}
	case "hostile-names":
		u, err := pick(0)
		if err != nil {
			return res, err
		}
		res.User, res.Workload = u.UPN, "mail,onedrive"
		msg := t.addMessage(u, u.folder("inbox"), 9000+int(t.seq))
		msg.Subject, msg.Body, msg.HasAttach, msg.Attachments = HostileSubject, HostileBody, false, nil
		msg.MIME = buildMIME(msg, msg.Body, rand.New(rand.NewPCG(1, 2)))
		d := u.Drive
		owner := Address{u.DisplayName, u.Mail}
		top := t.newDriveItem(d, u.UPN, strings.TrimPrefix(HostileFolder, "/"), d.RootID, true, owner, now)
		folders := map[string]string{"": top.ID}
		names := make([]string, 0, len(HostileFiles))
		for n := range HostileFiles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			dir, file, ok := strings.Cut(n, "/")
			if !ok {
				dir, file = "", n
			}
			if _, ok := folders[dir]; !ok {
				folders[dir] = t.newDriveItem(d, u.UPN, dir, top.ID, true, owner, now).ID
			}
			it := t.newDriveItem(d, u.UPN, file, folders[dir], false, owner, now)
			it.Content, it.MimeType = []byte(HostileFiles[n]), "text/plain"
			res.Items++
		}
		c := t.Chats[0]
		hm := t.newChatMessage(c.Members[1], HostileChatHTML, now, "")
		c.Messages[hm.ID] = hm
		res.Items += 2
		res.Workload += ",teams"
	default:
		return res, fmt.Errorf("unknown scenario %q (known: %s)", m.Scenario, strings.Join(Scenarios, ", "))
	}
	return res, nil
}

// deleteMailFolder deletes every message of a mail folder (a path such as
// "Inbox/Clients").
func (t *Tenant) deleteMailFolder(m Mutation, res MutationResult) (MutationResult, error) {
	u := t.Users[0]
	if m.User != "" {
		if u = t.user(m.User); u == nil {
			return res, fmt.Errorf("no user %q in the fake tenant", m.User)
		}
	}
	f := u.folderByPath(m.Path)
	if f == nil {
		return res, fmt.Errorf("no mail folder %q for %s", m.Path, u.UPN)
	}
	res.User, res.Path, res.Workload = u.UPN, m.Path, "mail"
	for _, msg := range f.Messages {
		if !msg.Deleted {
			msg.Deleted = true
			msg.Seq = t.nextSeq()
			res.Items++
		}
	}
	return res, nil
}

// driveActivity adds a file, edits one and deletes one in u's Documents.
func (t *Tenant) driveActivity(u *User, now time.Time) int {
	d := u.Drive
	docs := d.byPath("/Documents")
	var files []*DriveItem
	for _, it := range d.Items {
		if it.ParentID == docs.ID && !it.Folder && !it.Deleted {
			files = append(files, it)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ID < files[j].ID })
	n := 0
	if len(files) >= 2 {
		files[0].Content = append(append([]byte(nil), files[0].Content...), []byte("\nRevised figures attached.\n")...)
		files[0].Version++
		files[0].Modified = now
		files[0].Seq = t.nextSeq()
		files[1].Deleted = true
		files[1].Seq = t.nextSeq()
		n += 2
	}
	it := t.newDriveItem(d, u.UPN, fmt.Sprintf("Minutes %d.txt", t.seq), docs.ID, false, Address{u.DisplayName, u.Mail}, now)
	it.Content, it.MimeType = []byte("Minutes of the client meeting.\n"), "text/plain"
	return n + 1
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
	Attachments int    `json:"attachments,omitempty"` // events
	Title       string `json:"title,omitempty"`       // events and contacts (their JSON is re-serialised by clients, so they compare by title); files: their name
	Account     string `json:"account"`
	Workload    string `json:"workload"`
	Path        string `json:"path"`
	ID          string `json:"id"`
	SHA256      string `json:"sha256"` // of the content (MIME for mail)
	Modified    string `json:"modified"`
}

// Truth lists every live message and file of every account Graph serves, sorted, for
// tests to compare a backup against.
func (s *Server) Truth() []TruthItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TruthItem
	for _, u := range s.t.accounts() {
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
		for _, c := range u.Calendars {
			for _, it := range livePIM(c.Items) {
				out = append(out, TruthItem{Account: u.UPN, Workload: "calendar", Path: c.Name, ID: it.ID, Title: it.Title, Modified: it.Modified.Format(time.RFC3339), Attachments: len(it.Attachments)})
			}
		}
		for _, f := range u.ContactFolders {
			for _, it := range livePIM(f.Items) {
				out = append(out, TruthItem{Account: u.UPN, Workload: "contacts", Path: f.Name, ID: it.ID, Title: it.Title, Modified: it.Modified.Format(time.RFC3339)})
			}
		}
		if u.Drive == nil {
			continue
		}
		for _, it := range u.Drive.Items {
			if it.Deleted || it.Folder {
				continue
			}
			sum := sha256.Sum256(it.Content)
			out = append(out, TruthItem{Account: u.UPN, Workload: "onedrive", Path: u.Drive.path(u.Drive.Items[it.ParentID]), ID: it.ID, Title: it.Name,
				SHA256: hex.EncodeToString(sum[:]), Modified: it.Modified.Format(time.RFC3339)})
		}
	}
	for _, st := range s.t.Sites {
		for _, d := range st.Drives {
			for _, it := range d.Items {
				if it.Deleted || it.Folder {
					continue
				}
				sum := sha256.Sum256(it.Content)
				out = append(out, TruthItem{Account: st.WebURL, Workload: "sharepoint", Path: LibraryPath(d.Name, d.path(d.Items[it.ParentID])), ID: it.ID, Title: it.Name,
					SHA256: hex.EncodeToString(sum[:]), Modified: it.Modified.Format(time.RFC3339)})
			}
		}
	}
	for _, tm := range s.t.Teams {
		for _, ch := range tm.Channels {
			for _, m := range ch.Messages {
				if m.Deleted == nil {
					out = append(out, TruthItem{Account: "team:" + tm.Name, Workload: "teams", Path: tm.Name + "/" + ch.Name, ID: m.ID, Title: m.Body, Modified: m.Modified.Format(time.RFC3339Nano)})
				}
				for _, rep := range m.Replies {
					if rep.Deleted == nil {
						out = append(out, TruthItem{Account: "team:" + tm.Name, Workload: "teams", Path: tm.Name + "/" + ch.Name, ID: m.ID + "/" + rep.ID, Title: rep.Body, Modified: rep.Modified.Format(time.RFC3339Nano)})
					}
				}
			}
		}
	}
	for _, c := range s.t.Chats {
		for _, m := range c.Messages {
			if m.Deleted == nil {
				out = append(out, TruthItem{Account: "chat:" + c.ID, Workload: "teams", Path: "chats/" + c.ID, ID: m.ID, Title: m.Body, Modified: m.Modified.Format(time.RFC3339Nano)})
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

// LibraryPath is how a document library item's folder path is written:
// the library's name, then the path within it ("/Documents/Harbour Bakery Ltd").
func LibraryPath(library, path string) string {
	return "/" + library + strings.TrimSuffix(path, "/")
}

func sortPIM(items []*PIMItem) {
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
}

// MailDoc is a live message as tests of search see it: the fields the
// generator chose, not what a parser makes of the MIME.
type MailDoc struct {
	Account     string
	ID          string
	Folder      string
	Subject     string
	From        Address
	To, Cc      []Address
	Body        string
	Attachments []string
	AttachText  string
	Received    time.Time
	Size        int
}

// MailCorpus lists every live message of every account Graph serves.
func (s *Server) MailCorpus() []MailDoc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []MailDoc
	for _, u := range s.t.accounts() {
		if u.Deleted != nil {
			continue
		}
		for _, f := range u.Folders {
			for _, m := range f.Messages {
				if m.Deleted {
					continue
				}
				out = append(out, MailDoc{Account: u.UPN, ID: m.ID, Folder: f.DisplayName, Subject: m.Subject, From: m.From, To: m.To, Cc: m.Cc,
					Body: m.Body, Attachments: m.Attachments, AttachText: m.AttachText, Received: m.Received, Size: len(m.MIME)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
