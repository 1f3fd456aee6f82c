package faketenant

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Writes of calendars and contacts, as restore uses them: POST calendars,
// POST calendars/{id}/events, POST contactFolders, POST
// contactFolders/{id}/contacts. Names collide with 409 ErrorFolderExists.
// Called with the tenant locked.
func (s *Server) servePIMWrite(w http.ResponseWriter, r *http.Request, u *User, p []string) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		graphError(w, http.StatusBadRequest, "UnableToDeserializePostBody", "The request body is not JSON.")
		return
	}
	str := func(k string) string { v, _ := body[k].(string); return v }
	now := time.Now().UTC()
	switch {
	case p[0] == "calendars" && len(p) == 1:
		name := str("name")
		var taken []string
		for _, c := range u.Calendars {
			taken = append(taken, c.Name)
		}
		if !newFolderName(w, name, taken, "A calendar needs a name.") {
			return
		}
		c := &Calendar{ID: graphID("AAMkADC", s.t.opts.Seed, u.UPN, "created", name, fmt.Sprint(now.UnixNano())), Name: name, Items: map[string]*PIMItem{}}
		u.Calendars = append(u.Calendars, c)
		writeJSONStatus(w, http.StatusCreated, map[string]any{"id": c.ID, "name": c.Name, "isDefaultCalendar": false, "canEdit": true})
	case p[0] == "calendars" && len(p) == 3 && p[2] == "events":
		for _, c := range u.Calendars {
			if c.ID == p[1] {
				if str("subject") == "" || body["start"] == nil || body["end"] == nil {
					graphError(w, http.StatusBadRequest, "ErrorInvalidRequest", "An event needs a subject, a start and an end.")
					return
				}
				if txn := str("transactionId"); txn != "" {
					// Graph: a create repeated with the same transactionId
					// returns the event the first one made.
					for _, it := range c.Items {
						if !it.Deleted && it.Fields["transactionId"] == txn {
							writeJSONStatus(w, http.StatusCreated, pimJSON("#microsoft.graph.event", it))
							return
						}
					}
				}
				it := s.t.newPIM(u, "event", c.ID, int(now.UnixNano()%1e9), str("subject"), body)
				it.Modified = now
				c.Items[it.ID] = it
				writeJSONStatus(w, http.StatusCreated, pimJSON("#microsoft.graph.event", it))
				return
			}
		}
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	case p[0] == "calendars" && len(p) == 5 && p[2] == "events" && p[4] == "attachments":
		var it *PIMItem
		for _, c := range u.Calendars {
			if c.ID == p[1] && c.Items[p[3]] != nil && !c.Items[p[3]].Deleted {
				it = c.Items[p[3]]
			}
		}
		if it == nil {
			graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		content, err := base64.StdEncoding.DecodeString(str("contentBytes"))
		if str("@odata.type") != "#microsoft.graph.fileAttachment" || str("name") == "" || err != nil {
			graphError(w, http.StatusBadRequest, "ErrorInvalidRequest", "A file attachment needs @odata.type #microsoft.graph.fileAttachment, a name and base64 contentBytes.")
			return
		}
		if len(content) > 3<<20 {
			graphError(w, http.StatusRequestEntityTooLarge, "ErrorRequestEntityTooLarge", "Attachments over 3 MB need an upload session.")
			return
		}
		a := Attachment{ID: graphID("AAMkADA", s.t.opts.Seed, it.ID, str("name"), fmt.Sprint(now.UnixNano())), Name: str("name"), ContentType: str("contentType"), Content: content}
		it.Attachments = append(it.Attachments, a)
		it.Fields["hasAttachments"] = true
		it.Modified, it.Seq = now, s.t.nextSeq()
		writeJSONStatus(w, http.StatusCreated, map[string]any{"@odata.type": "#microsoft.graph.fileAttachment", "id": a.ID, "name": a.Name,
			"contentType": a.ContentType, "size": len(a.Content), "isInline": false})
	case p[0] == "contactFolders" && len(p) == 1:
		name := str("displayName")
		var taken []string
		for _, f := range u.ContactFolders {
			taken = append(taken, f.Name)
		}
		if !newFolderName(w, name, taken, "A contact folder needs a displayName.") {
			return
		}
		f := &ContactFolder{ID: graphID("AAMkADF", s.t.opts.Seed, u.UPN, "created", name, fmt.Sprint(now.UnixNano())), Name: name, Items: map[string]*PIMItem{}}
		u.ContactFolders = append(u.ContactFolders, f)
		writeJSONStatus(w, http.StatusCreated, map[string]any{"id": f.ID, "displayName": f.Name, "parentFolderId": u.ContactFolders[0].ID})
	case p[0] == "contactFolders" && len(p) == 3 && p[2] == "contacts":
		for _, f := range u.ContactFolders {
			if f.ID == p[1] {
				body["parentFolderId"] = f.ID
				it := s.t.newPIM(u, "contact", f.ID, int(now.UnixNano()%1e9), str("displayName"), body)
				it.Modified = now
				f.Items[it.ID] = it
				writeJSONStatus(w, http.StatusCreated, pimJSON("#microsoft.graph.contact", it))
				return
			}
		}
		graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Unsupported write")
	}
}

// newFolderName answers 400 for an empty name and 409 ErrorFolderExists for
// a name already taken (case-insensitively, as Exchange compares); it
// reports whether the name may be created.
func newFolderName(w http.ResponseWriter, name string, taken []string, missing string) bool {
	if name == "" {
		graphError(w, http.StatusBadRequest, "ErrorInvalidRequest", missing)
		return false
	}
	for _, t := range taken {
		if strings.EqualFold(t, name) {
			graphError(w, http.StatusConflict, "ErrorFolderExists", "A folder with the specified name already exists.")
			return false
		}
	}
	return true
}
