package faketenant

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Calendar is a user's calendar with its events; ContactFolder a contact
// folder with its contacts. Both are JSON items with a change sequence.
type Calendar struct {
	ID      string
	Name    string
	Default bool
	Items   map[string]*PIMItem
}

// ContactFolder is a contact folder; the default folder has Default set.
type ContactFolder struct {
	ID      string
	Name    string
	Default bool
	Items   map[string]*PIMItem
}

// PIMItem is an event or a contact.
type PIMItem struct {
	ID          string
	Title       string // subject or display name
	Fields      map[string]any
	Attachments []Attachment // events
	Modified    time.Time
	Seq         int64
	Deleted     bool
}

func (t *Tenant) newPIM(u *User, kind, container string, n int, title string, fields map[string]any) *PIMItem {
	it := &PIMItem{ID: graphID("AAMkAD"+strings.ToUpper(kind[:1]), t.opts.Seed, u.UPN, kind, container, fmt.Sprint(n), fmt.Sprint(t.seq)), Title: title, Fields: fields, Modified: epoch}
	it.Seq = t.nextSeq()
	return it
}

// seedPIM gives u a calendar with meetings and contacts in two folders.
func (t *Tenant) seedPIM(u *User) {
	cal := &Calendar{ID: graphID("AAMkADC", t.opts.Seed, u.UPN, "calendar"), Name: "Calendar", Default: true, Items: map[string]*PIMItem{}}
	u.Calendars = []*Calendar{cal}
	n := scaled(t.opts.ItemsPerUser/3, 3)
	for i := 0; i < n; i++ {
		t.addEvent(u, cal, i)
	}
	def := &ContactFolder{ID: graphID("AAMkADF", t.opts.Seed, u.UPN, "contacts"), Name: "Contacts", Default: true, Items: map[string]*PIMItem{}}
	cl := &ContactFolder{ID: graphID("AAMkADF", t.opts.Seed, u.UPN, "clients"), Name: "Client contacts", Items: map[string]*PIMItem{}}
	u.ContactFolders = []*ContactFolder{def, cl}
	for i := 0; i < n; i++ {
		f := def
		if i%2 == 1 {
			f = cl
		}
		t.addContact(u, f, i)
	}
}

func (t *Tenant) addEvent(u *User, cal *Calendar, i int) *PIMItem {
	r := rand.New(rand.NewPCG(t.opts.Seed, uint64(i)<<32^uint64(len(u.UPN))^0xca1))
	other := t.colleague(u, r)
	client := clients[r.IntN(len(clients))]
	start := epoch.Add(time.Duration(i)*26*time.Hour + time.Duration(r.IntN(8))*time.Hour)
	subject := fmt.Sprintf("%s review with %s", topics[r.IntN(len(topics))], client)
	fields := map[string]any{
		"subject": subject, "isAllDay": false, "showAs": "busy", "importance": "normal", "sensitivity": "normal",
		"body":      map[string]string{"contentType": "text", "content": phrases[r.IntN(len(phrases))]},
		"start":     map[string]string{"dateTime": start.Format("2006-01-02T15:04:05.0000000"), "timeZone": "UTC"},
		"end":       map[string]string{"dateTime": start.Add(time.Hour).Format("2006-01-02T15:04:05.0000000"), "timeZone": "UTC"},
		"location":  map[string]string{"displayName": client + " offices"},
		"organizer": map[string]any{"emailAddress": Address{u.DisplayName, u.Mail}},
		"attendees": []any{map[string]any{"type": "required", "emailAddress": Address{other.DisplayName, other.Mail}, "status": map[string]string{"response": "accepted", "time": start.Add(-48 * time.Hour).Format(time.RFC3339)}}},
		"iCalUId":   guid(t.opts.Seed, "ical", u.UPN, fmt.Sprint(i)),
	}
	it := t.newPIM(u, "event", cal.ID, i, subject, fields)
	if i%3 == 0 {
		// An agenda attached to every third meeting.
		it.Attachments = []Attachment{{ID: graphID("AAMkADA", t.opts.Seed, it.ID), Name: "Agenda " + client + ".txt", ContentType: "text/plain",
			Content: []byte(fmt.Sprintf("Agenda\n1. %s\n2. %s\n", subject, phrases[r.IntN(len(phrases))]))}}
	}
	it.Fields["hasAttachments"] = len(it.Attachments) > 0
	cal.Items[it.ID] = it
	return it
}

func (t *Tenant) addContact(u *User, f *ContactFolder, i int) *PIMItem {
	r := rand.New(rand.NewPCG(t.opts.Seed, uint64(i)<<36^uint64(len(u.UPN))^0xc0))
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	client := clients[r.IntN(len(clients))]
	email := strings.ToLower(first) + "." + strings.ToLower(strings.ReplaceAll(last, "'", "")) + "@" + strings.ToLower(strings.Fields(client)[0]) + ".example"
	name := first + " " + last
	fields := map[string]any{
		"displayName": name, "givenName": first, "surname": last, "companyName": client, "jobTitle": "Finance Director",
		"emailAddresses": []any{map[string]string{"name": name, "address": email}},
		"businessPhones": []string{fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000))}, "mobilePhone": fmt.Sprintf("+44 7700 9%05d", r.IntN(100000)),
		"parentFolderId": f.ID,
	}
	it := t.newPIM(u, "contact", f.ID, i, name, fields)
	f.Items[it.ID] = it
	return it
}

func pimJSON(odataType string, it *PIMItem) map[string]any {
	if it.Deleted {
		return map[string]any{"@odata.type": odataType, "id": it.ID, "@removed": map[string]string{"reason": "deleted"}}
	}
	m := map[string]any{"@odata.type": odataType, "id": it.ID, "changeKey": fmt.Sprintf("EQAAABYAAA%d", it.Seq),
		"createdDateTime": epoch.Format(time.RFC3339), "lastModifiedDateTime": it.Modified.Format(time.RFC3339),
		"@odata.etag": fmt.Sprintf("W/\"EQAAABYAAA%d\"", it.Seq), "categories": []string{}}
	for k, v := range it.Fields {
		m[k] = v
	}
	return m
}

func pimEntries(items map[string]*PIMItem, odataType string) []deltaEntry {
	var out []deltaEntry
	for _, it := range items {
		it := it
		out = append(out, deltaEntry{seq: it.Seq, deleted: it.Deleted, render: func() map[string]any { return pimJSON(odataType, it) }})
	}
	return out
}

// serveCalendars answers /users/{id}/calendars[/{id}[/events/delta()]].
func (s *Server) serveCalendars(w http.ResponseWriter, r *http.Request, u *User, p []string) {
	if len(p) == 0 {
		var all []map[string]any
		for _, c := range u.Calendars {
			all = append(all, selectFields(r, map[string]any{"id": c.ID, "name": c.Name, "isDefaultCalendar": c.Default, "canEdit": true,
				"owner": map[string]string{"name": u.DisplayName, "address": u.Mail}}))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#users('"+u.ID+"')/calendars", all, 100)
		return
	}
	var cal *Calendar
	for _, c := range u.Calendars {
		if c.ID == p[0] {
			cal = c
		}
	}
	if cal == nil {
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		return
	}
	if len(p) == 4 && p[1] == "events" && p[3] == "attachments" {
		it := cal.Items[p[2]]
		if it == nil || it.Deleted {
			graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		var all []map[string]any
		for _, a := range it.Attachments {
			all = append(all, map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "id": a.ID, "name": a.Name, "contentType": a.ContentType,
				"size": len(a.Content), "isInline": false, "lastModifiedDateTime": it.Modified.Format(time.RFC3339), "contentBytes": base64.StdEncoding.EncodeToString(a.Content)})
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#Collection(attachment)", all, 100)
		return
	}
	if len(p) == 3 && p[1] == "events" && (p[2] == "delta()" || p[2] == "delta") {
		s.serveDelta(w, r, cal.ID, s.base+"/v1.0/$metadata#Collection(event)", pimEntries(cal.Items, "#microsoft.graph.event"))
		return
	}
	graphError(w, http.StatusBadRequest, "BadRequest", "Unsupported calendar request")
}

// serveContacts answers /users/{id}/contacts/delta() (the default folder)
// and /users/{id}/contactFolders[/{id}/contacts/delta()].
func (s *Server) serveContacts(w http.ResponseWriter, r *http.Request, u *User, p []string) {
	isDelta := func(x string) bool { return x == "delta()" || x == "delta" }
	switch {
	case p[0] == "contacts" && len(p) == 2 && isDelta(p[1]):
		def := u.ContactFolders[0]
		s.serveDelta(w, r, def.ID, s.base+"/v1.0/$metadata#Collection(contact)", pimEntries(def.Items, "#microsoft.graph.contact"))
	case p[0] == "contactFolders" && len(p) == 1:
		// The default Contacts folder is not listed among contactFolders.
		var all []map[string]any
		for _, f := range u.ContactFolders[1:] {
			all = append(all, selectFields(r, map[string]any{"id": f.ID, "displayName": f.Name, "parentFolderId": u.ContactFolders[0].ID}))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#users('"+u.ID+"')/contactFolders", all, 100)
	case p[0] == "contactFolders" && len(p) == 3 && p[2] == "contacts":
		for _, f := range u.ContactFolders {
			if f.ID == p[1] {
				var all []map[string]any
				for _, it := range livePIM(f.Items) {
					all = append(all, selectFields(r, pimJSON("#microsoft.graph.contact", it)))
				}
				s.pageBySkip(w, r, s.base+"/v1.0/$metadata#users('"+u.ID+"')/contactFolders('"+f.ID+"')/contacts", all, 1000)
				return
			}
		}
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	case p[0] == "contactFolders" && len(p) == 4 && p[2] == "contacts" && isDelta(p[3]):
		for _, f := range u.ContactFolders {
			if f.ID == p[1] {
				s.serveDelta(w, r, f.ID, s.base+"/v1.0/$metadata#Collection(contact)", pimEntries(f.Items, "#microsoft.graph.contact"))
				return
			}
		}
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Unsupported contacts request")
	}
}

// pimActivity adds an event, reschedules one and cancels one; adds a
// contact and deletes one.
func (t *Tenant) pimActivity(u *User, now time.Time) int {
	cal := u.Calendars[0]
	live := livePIM(cal.Items)
	n := 0
	if len(live) >= 2 {
		live[0].Fields["location"] = map[string]string{"displayName": "Teams meeting"}
		live[0].Modified, live[0].Seq = now, t.nextSeq()
		live[1].Deleted, live[1].Seq = true, t.nextSeq()
		n += 2
	}
	t.addEvent(u, cal, 500+int(t.seq))
	t.addContact(u, u.ContactFolders[1], 500+int(t.seq))
	n += 2
	if cs := livePIM(u.ContactFolders[0].Items); len(cs) > 0 {
		cs[0].Deleted, cs[0].Seq = true, t.nextSeq()
		n++
	}
	return n
}

func livePIM(items map[string]*PIMItem) []*PIMItem {
	var out []*PIMItem
	for _, it := range items {
		if !it.Deleted {
			out = append(out, it)
		}
	}
	sortPIM(out)
	return out
}

// Attachment is a file attached to an event.
type Attachment struct {
	ID          string
	Name        string
	ContentType string
	Content     []byte
}
