package faketenant

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Writes to drives, as restore uses them: create a folder
// (POST items/{parent}/children), upload a small file
// (PUT items/{parent}:/{name}:/content), or a large one through an upload
// session (POST items/{parent}:/{name}:/createUploadSession, then PUT byte
// ranges to the session's pre-authenticated URL). Names collide as in
// OneDrive: with conflictBehavior fail a 409 nameAlreadyExists.

const maxSimpleUpload = 4 << 20 // Graph: simple upload up to 4 MB

type uploadSession struct {
	drive  *Drive
	parent string
	name   string
	size   int64
	data   []byte
}

func (d *Drive) child(parent, name string) *DriveItem {
	for _, it := range d.Items {
		if it.ParentID == parent && !it.Deleted && strings.EqualFold(it.Name, name) {
			return it
		}
	}
	return nil
}

// serveDriveWrite handles POST and PUT under /drives/{id}/items/...; it is
// called with the tenant locked.
func (s *Server) serveDriveWrite(w http.ResponseWriter, r *http.Request, d *Drive, p []string) {
	// p: items, {parent}[:], ... — the SDK sends "{parent}:/{name}:" as one
	// escaped segment, other clients as two; Graph takes both.
	if len(p) >= 2 {
		if a, b, ok := strings.Cut(p[1], ":/"); ok {
			p = append([]string{p[0], a + ":", b}, p[2:]...)
		}
	}
	if len(p) < 3 || p[0] != "items" {
		graphError(w, http.StatusBadRequest, "invalidRequest", "Invalid request")
		return
	}
	parentID := strings.TrimSuffix(p[1], ":")
	if parentID == "root" {
		parentID = d.RootID
	}
	parent := d.Items[parentID]
	if parent == nil || parent.Deleted || !parent.Folder {
		graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	switch {
	case r.Method == http.MethodPost && len(p) == 3 && p[2] == "children":
		var body struct {
			Name     string          `json:"name"`
			Folder   json.RawMessage `json:"folder"`
			Conflict string          `json:"@microsoft.graph.conflictBehavior"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" || body.Folder == nil {
			graphError(w, http.StatusBadRequest, "invalidRequest", "A folder needs a name and a folder facet.")
			return
		}
		if s.conflict(w, d, parentID, body.Name, body.Conflict) {
			return
		}
		it := s.t.newDriveItem(d, "created", body.Name, parentID, true, Address{"Holdfast", "holdfast@app"}, time.Now().UTC())
		writeJSONStatus(w, http.StatusCreated, s.driveItemJSON(d, it))
	case r.Method == http.MethodPut && len(p) == 4 && strings.HasSuffix(p[1], ":") && strings.HasSuffix(p[2], ":") && p[3] == "content":
		name := strings.TrimSuffix(p[2], ":")
		if s.conflict(w, d, parentID, name, r.URL.Query().Get("@microsoft.graph.conflictBehavior")) {
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, maxSimpleUpload+1))
		if err != nil {
			graphError(w, http.StatusBadRequest, "invalidRequest", err.Error())
			return
		}
		if len(data) > maxSimpleUpload {
			graphError(w, http.StatusRequestEntityTooLarge, "requestTooLarge", "Simple upload is limited to 4 MB; use an upload session.")
			return
		}
		it := s.t.newDriveItem(d, "uploaded", name, parentID, false, Address{"Holdfast", "holdfast@app"}, time.Now().UTC())
		it.Content, it.MimeType = data, "application/octet-stream"
		writeJSONStatus(w, http.StatusCreated, s.driveItemJSON(d, it))
	case r.Method == http.MethodPost && len(p) == 4 && strings.HasSuffix(p[2], ":") && p[3] == "createUploadSession":
		name := strings.TrimSuffix(p[2], ":")
		var body struct {
			Item struct {
				Conflict string `json:"@microsoft.graph.conflictBehavior"`
			} `json:"item"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		if s.conflict(w, d, parentID, name, body.Item.Conflict) {
			return
		}
		tok := base64.RawURLEncoding.EncodeToString([]byte(guid(uint64(time.Now().UnixNano()), "upload", name)))
		s.uploadsMu.Lock()
		if s.uploads == nil {
			s.uploads = map[string]*uploadSession{}
		}
		s.uploads[tok] = &uploadSession{drive: d, parent: parentID, name: name, size: -1}
		s.uploadsMu.Unlock()
		writeJSON(w, map[string]any{"uploadUrl": s.base + "/upload/" + tok, "expirationDateTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "nextExpectedRanges": []string{"0-"}})
	default:
		graphError(w, http.StatusBadRequest, "invalidRequest", "Unsupported drive write")
	}
}

// conflict answers 409 if name exists under parent and the caller asked
// to fail on conflicts (the default for Holdfast's restores).
func (s *Server) conflict(w http.ResponseWriter, d *Drive, parent, name, behaviour string) bool {
	if d.child(parent, name) == nil || behaviour == "replace" || behaviour == "rename" {
		return false
	}
	graphError(w, http.StatusConflict, "nameAlreadyExists", "The specified item name already exists. Item: "+name)
	return true
}

// serveUpload takes one byte range of an upload session. Like SharePoint's
// upload URLs it is pre-authenticated and refuses a bearer token.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, tok string) {
	if r.Header.Get("Authorization") != "" {
		graphError(w, http.StatusUnauthorized, "invalidRequest", "The upload URL is pre-authenticated; send no Authorization header.")
		return
	}
	s.uploadsMu.Lock()
	sess := s.uploads[tok]
	s.uploadsMu.Unlock()
	if sess == nil {
		graphError(w, http.StatusNotFound, "itemNotFound", "The upload session does not exist or has expired.")
		return
	}
	var first, last, total int64
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil || last < first || last >= total {
		graphError(w, http.StatusBadRequest, "invalidRange", "Content-Range must be bytes first-last/total")
		return
	}
	if first != int64(len(sess.data)) {
		writeJSONStatus(w, http.StatusRequestedRangeNotSatisfiable, map[string]any{"error": map[string]string{"code": "invalidRange", "message": "expected range starting at " + strconv.Itoa(len(sess.data))}})
		return
	}
	chunk, err := io.ReadAll(io.LimitReader(r.Body, last-first+2))
	if err != nil || int64(len(chunk)) != last-first+1 {
		graphError(w, http.StatusBadRequest, "invalidRequest", "the body does not match Content-Range")
		return
	}
	sess.data = append(sess.data, chunk...)
	if int64(len(sess.data)) < total {
		writeJSONStatus(w, http.StatusAccepted, map[string]any{"nextExpectedRanges": []string{fmt.Sprintf("%d-", len(sess.data))}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conflict(w, sess.drive, sess.parent, sess.name, "") {
		return
	}
	it := s.t.newDriveItem(sess.drive, "uploaded", sess.name, sess.parent, false, Address{"Holdfast", "holdfast@app"}, time.Now().UTC())
	it.Content, it.MimeType = sess.data, "application/octet-stream"
	s.uploadsMu.Lock()
	delete(s.uploads, tok)
	s.uploadsMu.Unlock()
	writeJSONStatus(w, http.StatusCreated, s.driveItemJSON(sess.drive, it))
}
