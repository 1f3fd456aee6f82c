package faketenant

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast/ingest/quickxor"
)

// Drive is a user's OneDrive.
type Drive struct {
	ID     string
	Name   string // document libraries: the library's name
	RootID string
	Items  map[string]*DriveItem
}

// DriveItem is a file or folder. Version counts content changes (cTag) and
// ETag every change.
type DriveItem struct {
	ID         string
	Name       string
	ParentID   string // "" for the root
	Folder     bool
	Content    []byte
	MimeType   string
	Created    time.Time
	Modified   time.Time
	CreatedBy  Address
	ModifiedBy Address
	Version    int
	Seq        int64
	Deleted    bool
}

func (it *DriveItem) eTag() string {
	return fmt.Sprintf("\"{%s},%d\"", strings.ToUpper(it.ID[:8]), it.Seq)
}
func (it *DriveItem) cTag() string {
	return fmt.Sprintf("\"c:{%s},%d\"", strings.ToUpper(it.ID[:8]), it.Version)
}

// newDriveItem adds an item to d, its id fixed by the seed, scope, parent
// and name.
func (t *Tenant) newDriveItem(d *Drive, scope, name, parent string, folder bool, owner Address, at time.Time) *DriveItem {
	id := "01" + strings.ToUpper(graphID("", t.opts.Seed, scope, "item", parent, name)[:32])
	it := &DriveItem{ID: strings.NewReplacer("-", "A", "_", "B").Replace(id), Name: name, ParentID: parent, Folder: folder,
		Created: at, Modified: at, CreatedBy: owner, ModifiedBy: owner, Version: 1}
	it.Seq = t.nextSeq()
	d.Items[it.ID] = it
	return it
}

// seedDrive gives u a OneDrive with a client folder tree.
func (t *Tenant) seedDrive(u *User) {
	d := &Drive{ID: "b!" + graphID("", t.opts.Seed, u.UPN, "drive"), Items: map[string]*DriveItem{}}
	u.Drive = d
	owner := Address{u.DisplayName, u.Mail}
	mk := func(name, parent string, folder bool) *DriveItem {
		return t.newDriveItem(d, u.UPN, name, parent, folder, owner, epoch)
	}
	root := mk("root", "", true)
	d.RootID = root.ID
	docs := mk("Documents", root.ID, true)
	clientsF := mk("Clients", root.ID, true)
	var targets []*DriveItem
	for _, c := range clients[:3] {
		targets = append(targets, mk(c, clientsF.ID, true))
	}
	targets = append(targets, docs)
	n := scaled(t.opts.ItemsPerUser/2, 4)
	for i := 0; i < n; i++ {
		parent := targets[i%len(targets)]
		r := rand.New(rand.NewPCG(t.opts.Seed, uint64(i)<<24^uint64(len(u.UPN))))
		name, mime, content := fileContent(r, i)
		f := mk(name, parent.ID, false)
		f.MimeType, f.Content = mime, content
		f.Modified = epoch.Add(time.Duration(i) * 3 * time.Hour)
	}
}

// fileContent makes a file's name, type and bytes.
func fileContent(r *rand.Rand, i int) (string, string, []byte) {
	topic := topics[r.IntN(len(topics))]
	var b strings.Builder
	switch i % 3 {
	case 0:
		b.WriteString("date,account,description,debit,credit\r\n")
		for j := 0; j < 40+r.IntN(200); j++ {
			fmt.Fprintf(&b, "2025-%02d-%02d,%d,%s,%d.%02d,0.00\r\n", 1+r.IntN(12), 1+r.IntN(28), 4000+r.IntN(900), phrases[r.IntN(len(phrases))][:24], r.IntN(9000), r.IntN(100))
		}
		return fmt.Sprintf("%s ledger %03d.csv", topic, i), "text/csv", []byte(b.String())
	case 1:
		for j := 0; j < 5+r.IntN(30); j++ {
			b.WriteString(phrases[r.IntN(len(phrases))])
			b.WriteString("\n")
		}
		return fmt.Sprintf("%s notes %03d.txt", topic, i), "text/plain", []byte(b.String())
	default:
		// A larger binary-ish working paper.
		p := make([]byte, 20000+r.IntN(200000))
		for j := range p {
			p[j] = byte(r.IntN(64) + 32)
		}
		return fmt.Sprintf("%s working papers %03d.pdf", topic, i), "application/pdf", p
	}
}

func (d *Drive) path(it *DriveItem) string {
	var parts []string
	for it != nil && it.ParentID != "" {
		parts = append([]string{it.Name}, parts...)
		it = d.Items[it.ParentID]
	}
	return "/" + strings.Join(parts, "/")
}

func (d *Drive) byPath(p string) *DriveItem {
	for _, it := range d.Items {
		if !it.Deleted && strings.EqualFold(d.path(it), "/"+strings.Trim(p, "/")) {
			return it
		}
	}
	return nil
}

// descendants returns it and every live item below it.
func (d *Drive) descendants(it *DriveItem) []*DriveItem {
	out := []*DriveItem{it}
	for _, c := range d.Items {
		if c.ParentID == it.ID && !c.Deleted {
			out = append(out, d.descendants(c)...)
		}
	}
	return out
}

func (s *Server) driveItemJSON(d *Drive, it *DriveItem) map[string]any {
	m := map[string]any{
		"@odata.type": "#microsoft.graph.driveItem", "id": it.ID, "name": it.Name, "eTag": it.eTag(), "cTag": it.cTag(),
		"createdDateTime": it.Created.Format(time.RFC3339), "lastModifiedDateTime": it.Modified.Format(time.RFC3339),
		"createdBy":      map[string]any{"user": map[string]string{"displayName": it.CreatedBy.Name, "email": it.CreatedBy.Address}},
		"lastModifiedBy": map[string]any{"user": map[string]string{"displayName": it.ModifiedBy.Name, "email": it.ModifiedBy.Address}},
		"size":           len(it.Content),
	}
	// As Microsoft documents for delta, parentReference carries no path.
	if it.ParentID != "" {
		m["parentReference"] = map[string]any{"driveType": "business", "driveId": d.ID, "id": it.ParentID}
	} else {
		m["root"] = map[string]any{}
		m["parentReference"] = map[string]any{"driveType": "business", "driveId": d.ID}
	}
	if it.Deleted {
		m["deleted"] = map[string]string{"state": "deleted"}
		delete(m, "size")
		return m
	}
	if it.Folder {
		n := 0
		for _, c := range d.Items {
			if c.ParentID == it.ID && !c.Deleted {
				n++
			}
		}
		m["folder"] = map[string]int{"childCount": n}
		size := 0
		for _, c := range d.descendants(it) {
			size += len(c.Content)
		}
		m["size"] = size
	} else {
		// OneDrive for Business and SharePoint report only quickXorHash.
		m["file"] = map[string]any{"mimeType": it.MimeType, "hashes": map[string]string{"quickXorHash": quickxor.Sum(it.Content)}}
	}
	return m
}

// serveDrive answers /drives/{id}/...
func (s *Server) serveDrive(w http.ResponseWriter, r *http.Request, p []string) {
	d := s.t.drive(p[0])
	if d == nil {
		graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	switch {
	case len(p) == 1:
		writeJSON(w, map[string]any{"id": d.ID, "driveType": "business", "name": "OneDrive"})
	case len(p) == 4 && p[1] == "items" && (p[3] == "delta()" || p[3] == "delta" || p[3] == "microsoft.graph.delta()") && (p[2] == "root" || p[2] == d.RootID):
		var entries []deltaEntry
		for _, it := range d.Items {
			it := it
			entries = append(entries, deltaEntry{seq: it.Seq, deleted: it.Deleted, render: func() map[string]any { return s.driveItemJSON(d, it) }})
		}
		s.serveDelta(w, r, d.ID, s.base+"/v1.0/$metadata#Collection(driveItem)", entries)
	case len(p) == 4 && p[1] == "items" && p[3] == "content":
		it := d.Items[p[2]]
		if it == nil || it.Deleted || it.Folder {
			graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		// A pre-authenticated download URL, as SharePoint hands out.
		tok := base64.RawURLEncoding.EncodeToString([]byte(d.ID + "|" + it.ID + "|" + strconv.Itoa(it.Version)))
		w.Header().Set("Location", s.base+"/download/"+tok+"?tempauth=v1."+guid(uint64(it.Seq), "tempauth"))
		w.WriteHeader(http.StatusFound)
	case (len(p) == 3 && p[1] == "items" && strings.Contains(p[2], ":/")) || (len(p) == 4 && p[1] == "items" && strings.HasSuffix(p[2], ":")):
		// An item addressed by path below a folder: {parent}:/{name}:
		// (one escaped segment from the SDK, two from other clients).
		parent, name, _ := strings.Cut(strings.Join(p[2:], "/"), ":/")
		if parent == "root" {
			parent = d.RootID
		}
		it := d.child(parent, strings.TrimSuffix(name, ":"))
		if it == nil {
			graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(w, selectFields(r, s.driveItemJSON(d, it)))
	case len(p) == 3 && p[1] == "items":
		it := d.Items[p[2]]
		if p[2] == "root" {
			it = d.Items[d.RootID]
		}
		if it == nil || it.Deleted {
			graphError(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
			return
		}
		writeJSON(w, selectFields(r, s.driveItemJSON(d, it)))
	default:
		graphError(w, http.StatusBadRequest, "invalidRequest", "Invalid request")
	}
}

// serveDownload answers a pre-authenticated download URL. Like SharePoint,
// it rejects a request that also carries a bearer token.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request, tok string) {
	if r.Header.Get("Authorization") != "" {
		graphError(w, http.StatusUnauthorized, "invalidRequest", "Unsupported: the download URL is pre-authenticated; send no Authorization header.")
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	parts := strings.Split(string(raw), "|")
	if err != nil || len(parts) != 3 {
		http.Error(w, "bad download token", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	var content []byte
	found := false
	if d := s.t.drive(parts[0]); d != nil {
		if it := d.Items[parts[1]]; it != nil && !it.Deleted && strconv.Itoa(it.Version) == parts[2] {
			content, found = it.Content, true
		}
	}
	s.mu.Unlock()
	if !found {
		http.Error(w, "the file changed or was deleted since the URL was issued", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	w.Write(content)
}

// drive finds a served drive: a live user's OneDrive or a site's library.
func (t *Tenant) drive(id string) *Drive {
	for _, u := range t.accounts() {
		if u.Drive != nil && u.Drive.ID == id && u.Deleted == nil {
			return u.Drive
		}
	}
	for _, st := range t.Sites {
		for _, d := range st.Drives {
			if d.ID == id {
				return d
			}
		}
	}
	return nil
}
