package faketenant

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// serveGraph routes /v1.0/... requests.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, p []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodGet {
		// Writes, as restore makes them: drives, mail, calendars, contacts.
		if r.Method == http.MethodPost && len(p) >= 3 && p[0] == "users" && p[2] == "mailFolders" {
			if u := s.t.user(p[1]); u != nil && u.Deleted == nil {
				s.serveMailWrite(w, r, u, p[2:])
				return
			}
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+p[1]+"' does not exist.")
			return
		}
		if r.Method == http.MethodPost && len(p) >= 3 && p[0] == "users" && (p[2] == "calendars" || p[2] == "contactFolders") {
			if u := s.t.user(p[1]); u != nil && u.Deleted == nil {
				s.servePIMWrite(w, r, u, p[2:])
				return
			}
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+p[1]+"' does not exist.")
			return
		}
		if (r.Method == http.MethodPost || r.Method == http.MethodPut) && len(p) >= 3 && p[0] == "drives" {
			if d := s.t.drive(p[1]); d != nil {
				s.serveDriveWrite(w, r, d, p[2:])
				return
			}
			graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "The fake tenant's Graph does not serve "+r.Method+" here.")
		return
	}
	switch {
	case len(p) == 1 && p[0] == "users":
		s.listUsers(w, r, false)
	case len(p) == 3 && p[0] == "directory" && p[1] == "deletedItems" && (p[2] == "microsoft.graph.user" || p[2] == "graph.user"):
		s.listUsers(w, r, true)
	case len(p) == 1 && p[0] == "groups":
		var all []map[string]any
		for _, g := range s.t.groups() {
			all = append(all, selectFields(r, g))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#groups", all, 999)
	case len(p) >= 1 && p[0] == "teams":
		s.serveTeams(w, r, p[1:])
	case len(p) >= 1 && p[0] == "chats":
		s.serveChats(w, r, p[1:])
	case len(p) >= 1 && p[0] == "sites":
		s.serveSites(w, r, p[1:])
	case len(p) >= 2 && p[0] == "drives":
		s.serveDrive(w, r, p[1:])
	case len(p) >= 2 && p[0] == "users":
		u := s.t.user(p[1])
		if u == nil || u.Deleted != nil {
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", p[1]))
			return
		}
		s.serveUser(w, r, u, p[2:])
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", strings.Join(p, "/")))
	}
}

func (s *Server) pageSize(r *http.Request, max int) int {
	n := s.opts.PageSize
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "odata.maxpagesize="); ok {
				if m, err := strconv.Atoi(v); err == nil && m > 0 {
					n = m
				}
			}
		}
	}
	if t := r.URL.Query().Get("$top"); t != "" {
		if m, err := strconv.Atoi(t); err == nil && m > 0 {
			n = m
		}
	}
	return min(n, max)
}

// nextLink builds an absolute next link with q replacing the query.
func (s *Server) link(r *http.Request, q url.Values) string {
	return s.base + r.URL.EscapedPath() + "?" + q.Encode()
}

func userJSON(u *User) map[string]any {
	lic := []any{}
	if u.Licensed {
		lic = append(lic, map[string]any{"disabledPlans": []string{}, "skuId": "05e9a617-0261-4cee-bb44-138d3ef5d965"})
	}
	var deleted any
	if u.Deleted != nil {
		deleted = u.Deleted.Format(time.RFC3339)
	}
	userType := "Member"
	if u.Guest {
		userType = "Guest"
	}
	return map[string]any{"id": u.ID, "userPrincipalName": u.UPN, "displayName": u.DisplayName, "mail": u.Mail,
		"accountEnabled": u.Enabled, "assignedLicenses": lic, "deletedDateTime": deleted, "userType": userType}
}

// selectFields keeps only $select'ed properties, and id and the
// instance annotations (@removed, @odata.type, @odata.etag) always, as
// Graph does.
func selectFields(r *http.Request, m map[string]any) map[string]any {
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		return m
	}
	out := map[string]any{"id": m["id"]}
	for k, v := range m {
		if strings.HasPrefix(k, "@") {
			out[k] = v
		}
	}
	for _, f := range strings.Split(sel, ",") {
		if v, ok := m[strings.TrimSpace(f)]; ok {
			out[strings.TrimSpace(f)] = v
		}
	}
	return out
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, deleted bool) {
	var all []map[string]any
	for _, u := range s.t.accounts() {
		if (u.Deleted != nil) == deleted {
			all = append(all, selectFields(r, userJSON(u)))
		}
	}
	ctx := s.base + "/v1.0/$metadata#users"
	if deleted {
		ctx = s.base + "/v1.0/$metadata#directory/deletedItems/microsoft.graph.user"
	}
	s.pageBySkipToken(w, r, ctx, all, 999)
}

// pageBySkipToken pages a list with an opaque $skiptoken.
func (s *Server) pageBySkipToken(w http.ResponseWriter, r *http.Request, odataCtx string, all []map[string]any, max int) {
	off := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err == nil {
			off, err = strconv.Atoi(string(b))
		}
		if err != nil || off < 0 || off > len(all) {
			graphError(w, http.StatusBadRequest, "Directory_InvalidSkipToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
	}
	n := s.pageSize(r, max)
	end := min(off+n, len(all))
	resp := map[string]any{"@odata.context": odataCtx, "value": nonNil(all[off:end])}
	if end < len(all) {
		q := r.URL.Query()
		q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		resp["@odata.nextLink"] = s.link(r, q)
	}
	writeJSON(w, resp)
}

// pageBySkip pages a list with $skip, as mailFolders does.
func (s *Server) pageBySkip(w http.ResponseWriter, r *http.Request, odataCtx string, all []map[string]any, max int) {
	off := 0
	if v := r.URL.Query().Get("$skip"); v != "" {
		var err error
		if off, err = strconv.Atoi(v); err != nil || off < 0 {
			graphError(w, http.StatusBadRequest, "ErrorInvalidUrlQuery", "The value of $skip is invalid.")
			return
		}
	}
	off = min(off, len(all))
	n := s.pageSize(r, max)
	end := min(off+n, len(all))
	resp := map[string]any{"@odata.context": odataCtx, "value": nonNil(all[off:end])}
	if end < len(all) {
		q := r.URL.Query()
		q.Set("$skip", strconv.Itoa(end))
		resp["@odata.nextLink"] = s.link(r, q)
	}
	writeJSON(w, resp)
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func (s *Server) serveUser(w http.ResponseWriter, r *http.Request, u *User, p []string) {
	mailboxPart := len(p) > 0 && (p[0] == "mailboxSettings" || p[0] == "mailFolders" || p[0] == "messages" || p[0] == "calendars" || p[0] == "contacts" || p[0] == "contactFolders")
	switch {
	case mailboxPart && !u.hasMailbox():
		// As Exchange answers for an account without a mailbox (a guest).
		graphError(w, http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	case len(p) > 0 && p[0] == "drive" && u.Drive == nil:
		// As OneDrive answers for an account that has none (a room, a guest).
		graphError(w, http.StatusNotFound, "ResourceNotFound", "User's mysite not found.")
	case len(p) == 0:
		writeJSON(w, selectFields(r, userJSON(u)))
	case p[0] == "mailboxSettings" && len(p) == 1:
		writeJSON(w, map[string]any{"userPurpose": u.Purpose, "timeZone": "GMT Standard Time", "language": map[string]string{"locale": "en-GB"}})
	case p[0] == "drive" && len(p) == 1:
		writeJSON(w, map[string]any{"id": u.Drive.ID, "driveType": "business", "name": "OneDrive",
			"owner": map[string]any{"user": map[string]string{"id": u.ID, "displayName": u.DisplayName, "email": u.Mail}}})
	case p[0] == "drive" && len(p) >= 2:
		s.serveDrive(w, r, append([]string{u.Drive.ID}, p[1:]...))
	case p[0] == "chats" && len(p) == 1:
		s.serveUserChats(w, r, u)
	case p[0] == "calendars":
		s.serveCalendars(w, r, u, p[1:])
	case p[0] == "contacts" || p[0] == "contactFolders":
		s.serveContacts(w, r, u, p)
	case p[0] == "mailFolders":
		s.serveMailFolders(w, r, u, p[1:])
	case p[0] == "messages" && len(p) == 3 && p[2] == "$value":
		s.serveMIME(w, u, p[1])
	case p[0] == "messages" && len(p) == 2:
		m := u.message(p[1])
		if m == nil {
			graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		writeJSON(w, selectFields(r, s.messageJSON(u, m)))
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", p[0]))
	}
}

func folderJSON(u *User, f *Folder) map[string]any {
	children, total := 0, 0
	for _, c := range u.Folders {
		if c.ParentID == f.ID {
			children++
		}
	}
	for _, m := range f.Messages {
		if !m.Deleted {
			total++
		}
	}
	parent := f.ParentID
	if parent == "" {
		parent = graphID("AAMkAD", 0, u.UPN, "msgfolderroot")
	}
	return map[string]any{"id": f.ID, "displayName": f.DisplayName, "parentFolderId": parent, "childFolderCount": children,
		"unreadItemCount": 0, "totalItemCount": total, "sizeInBytes": 0, "isHidden": false}
}

func (s *Server) serveMailFolders(w http.ResponseWriter, r *http.Request, u *User, p []string) {
	odataCtx := s.base + "/v1.0/$metadata#users('" + u.ID + "')/mailFolders"
	if len(p) == 0 {
		var all []map[string]any
		for _, f := range u.Folders {
			if f.ParentID == "" {
				all = append(all, selectFields(r, folderJSON(u, f)))
			}
		}
		s.pageBySkip(w, r, odataCtx, all, 100)
		return
	}
	f := u.folder(p[0])
	if f == nil {
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	switch {
	case len(p) == 1:
		writeJSON(w, selectFields(r, folderJSON(u, f)))
	case len(p) == 2 && p[1] == "childFolders":
		var all []map[string]any
		for _, c := range u.Folders {
			if c.ParentID == f.ID {
				all = append(all, selectFields(r, folderJSON(u, c)))
			}
		}
		s.pageBySkip(w, r, odataCtx+"('"+f.ID+"')/childFolders", all, 100)
	case len(p) == 2 && p[1] == "messages":
		var all []map[string]any
		var live []*Message
		for _, m := range f.Messages {
			if !m.Deleted {
				live = append(live, m)
			}
		}
		// Graph lists a folder's messages newest first.
		sort.Slice(live, func(i, j int) bool {
			if !live[i].Received.Equal(live[j].Received) {
				return live[i].Received.After(live[j].Received)
			}
			return live[i].ID < live[j].ID
		})
		for _, m := range live {
			all = append(all, selectFields(r, s.messageJSON(u, m)))
		}
		s.pageBySkip(w, r, odataCtx+"('"+f.ID+"')/messages", all, 1000)
	case len(p) == 3 && p[1] == "messages" && (p[2] == "delta()" || p[2] == "delta" || p[2] == "microsoft.graph.delta()"):
		s.messagesDelta(w, r, u, f)
	case len(p) == 4 && p[1] == "messages" && p[3] == "$value":
		s.serveMIME(w, u, p[2])
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", strings.Join(p[1:], "/")))
	}
}

func (s *Server) serveMIME(w http.ResponseWriter, u *User, id string) {
	m := u.message(id)
	if m == nil {
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(m.MIME)))
	w.Write(m.MIME)
}

func recipients(as []Address) []map[string]any {
	out := []map[string]any{}
	for _, a := range as {
		out = append(out, map[string]any{"emailAddress": a})
	}
	return out
}

func (s *Server) messageJSON(u *User, m *Message) map[string]any {
	preview := ""
	if i := strings.Index(string(m.MIME), "\r\n\r\n"); i >= 0 {
		preview = string(m.MIME[i+4:])
		preview = preview[:min(len(preview), 120)]
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.message", "@odata.etag": fmt.Sprintf("W/\"CQAAABYAAAA%d\"", m.Seq),
		"id": m.ID, "createdDateTime": m.Received.Format(time.RFC3339), "lastModifiedDateTime": m.Modified.Format(time.RFC3339),
		"changeKey": fmt.Sprintf("CQAAABYAAAA%d", m.Seq), "categories": []string{},
		"receivedDateTime": m.Received.Format(time.RFC3339), "sentDateTime": m.Received.Add(-time.Minute).Format(time.RFC3339),
		"hasAttachments": m.HasAttach, "internetMessageId": m.InternetID, "subject": m.Subject, "bodyPreview": preview,
		"importance": "normal", "parentFolderId": m.FolderID, "conversationId": m.Conversation, "isRead": m.IsRead, "isDraft": false,
		// The whole body, as Graph returns it unless $select leaves it out.
		"body":   map[string]string{"contentType": "text", "content": m.Body},
		"sender": map[string]any{"emailAddress": m.From}, "from": map[string]any{"emailAddress": m.From},
		"toRecipients": recipients(m.To), "ccRecipients": recipients(m.Cc), "bccRecipients": []any{}, "replyTo": []any{},
	}
}

// deltaState is what a delta link or next link encodes.
type deltaState struct {
	Folder string `json:"f"`
	Since  int64  `json:"s"`           // changes after this sequence number
	Snap   int64  `json:"n,omitempty"` // paging: changes up to this one
	Off    int    `json:"o,omitempty"` // paging: items already returned
}

func encodeState(st deltaState) string {
	b, _ := json.Marshal(st)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeState(tok string) (deltaState, bool) {
	var st deltaState
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	return st, true
}

// deltaEntry is one item of a delta feed: its change sequence, whether it
// is deleted, and how it renders.
type deltaEntry struct {
	seq     int64
	deleted bool
	render  func() map[string]any
}

// serveDelta answers a delta request over the entries of one scope (a mail
// folder, a drive): the initial round lists what exists, later rounds what
// changed since the token, paged with $skiptoken, ending with a delta link.
func (s *Server) serveDelta(w http.ResponseWriter, r *http.Request, scope, odataCtx string, entries []deltaEntry) {
	q := r.URL.Query()
	st := deltaState{Folder: scope, Snap: s.t.seq}
	token, isDelta := q.Get("$deltatoken"), true
	if token == "" {
		token, isDelta = q.Get("$skiptoken"), false
	}
	if token != "" {
		var ok bool
		if st, ok = decodeState(token); !ok || st.Folder != scope {
			graphError(w, http.StatusBadRequest, "syncStateInvalid", "The sync state is invalid.")
			return
		}
	}
	if token != "" && isDelta {
		if s.faultRng.Float64() < s.opts.ExpireDelta {
			s.stats.Expired++
			graphError(w, http.StatusGone, "syncStateNotFound", "The sync state was not found. Please resync.")
			return
		}
		// A new round: changes since the token, up to now.
		st.Snap, st.Off = s.t.seq, 0
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].seq < entries[j].seq })
	var items []deltaEntry
	for _, e := range entries {
		if e.seq <= st.Since || e.seq > st.Snap || (st.Since == 0 && e.deleted) {
			continue // an initial round lists only what exists
		}
		items = append(items, e)
	}
	n := s.pageSize(r, 1000)
	off := min(st.Off, len(items))
	end := min(off+n, len(items))
	vals := []map[string]any{}
	for _, e := range items[off:end] {
		vals = append(vals, selectFields(r, e.render()))
	}
	resp := map[string]any{"@odata.context": odataCtx, "value": vals}
	base := url.Values{}
	if sel := q.Get("$select"); sel != "" {
		base.Set("$select", sel)
	}
	if end < len(items) {
		base.Set("$skiptoken", encodeState(deltaState{Folder: scope, Since: st.Since, Snap: st.Snap, Off: end}))
		resp["@odata.nextLink"] = s.link(r, base)
	} else {
		base.Set("$deltatoken", encodeState(deltaState{Folder: scope, Since: st.Snap}))
		resp["@odata.deltaLink"] = s.link(r, base)
	}
	writeJSON(w, resp)
}

func (s *Server) messagesDelta(w http.ResponseWriter, r *http.Request, u *User, f *Folder) {
	var entries []deltaEntry
	for _, m := range f.Messages {
		m := m
		entries = append(entries, deltaEntry{seq: m.Seq, deleted: m.Deleted, render: func() map[string]any {
			if m.Deleted {
				return map[string]any{"@odata.type": "#microsoft.graph.message", "id": m.ID, "@removed": map[string]string{"reason": "deleted"}}
			}
			return s.messageJSON(u, m)
		}})
	}
	s.serveDelta(w, r, f.ID, s.base+"/v1.0/$metadata#Collection(message)", entries)
}
