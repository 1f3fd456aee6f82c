package faketenant

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Writes to mailboxes, as restore uses them: create a mail folder (POST
// mailFolders or mailFolders/{id}/childFolders, 409 ErrorFolderExists on a
// name taken) and create a message from MIME (POST
// mailFolders/{id}/messages with a base64 text/plain body). Called with
// the tenant locked.
func (s *Server) serveMailWrite(w http.ResponseWriter, r *http.Request, u *User, p []string) {
	switch {
	case len(p) == 1 || (len(p) == 3 && p[2] == "childFolders"):
		parent := ""
		if len(p) == 3 {
			f := u.folder(p[1])
			if f == nil {
				graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
				return
			}
			parent = f.ID
		}
		var body struct {
			DisplayName string `json:"displayName"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		var taken []string
		for _, f := range u.Folders {
			if f.ParentID == parent {
				taken = append(taken, f.DisplayName)
			}
		}
		if !newFolderName(w, body.DisplayName, taken, "A mail folder needs a displayName.") {
			return
		}
		f := &Folder{ID: graphID("AAMkAD", s.t.opts.Seed, u.UPN, "created", parent, body.DisplayName, fmt.Sprint(time.Now().UnixNano())), DisplayName: body.DisplayName, ParentID: parent, Messages: map[string]*Message{}}
		u.Folders = append(u.Folders, f)
		writeJSONStatus(w, http.StatusCreated, folderJSON(u, f))
	case len(p) == 3 && p[2] == "messages":
		f := u.folder(p[1])
		if f == nil {
			graphError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			graphError(w, http.StatusBadRequest, "ErrorInvalidRequest", "This fake tenant creates messages from MIME only: a base64 text/plain body.")
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 150<<20))
		if err != nil {
			graphError(w, http.StatusBadRequest, "ErrorInvalidRequest", err.Error())
			return
		}
		mime, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil || len(mime) == 0 {
			graphError(w, http.StatusBadRequest, "UnableToDeserializePostBody", "The MIME content is not valid base64.")
			return
		}
		now := time.Now().UTC()
		m := &Message{ID: graphID("AAMkAGI", s.t.opts.Seed, u.UPN, f.ID, "created", fmt.Sprint(now.UnixNano())), FolderID: f.ID, MIME: mime,
			Subject: headerOf(mime, "Subject"), Received: now, Modified: now, InternetID: headerOf(mime, "Message-ID")}
		m.Seq = s.t.nextSeq()
		f.Messages[m.ID] = m
		writeJSONStatus(w, http.StatusCreated, s.messageJSON(u, m))
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Unsupported mail write")
	}
}

// headerOf returns a top-level MIME header's raw value.
func headerOf(mime []byte, name string) string {
	head, _, _ := strings.Cut(string(mime), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
