package faketenant

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Site is a SharePoint site with its document libraries.
type Site struct {
	ID     string // hostname,site guid,web guid
	Name   string
	WebURL string
	Drives []*Drive
}

// seedSites creates the firm's SharePoint: a Clients site whose
// Documents library holds a folder per client.
func (t *Tenant) seedSites() {
	host := strings.Split(t.Domain, ".")[0] + ".sharepoint.com"
	for _, name := range []string{"Clients", "Finance"} {
		st := &Site{Name: name, WebURL: "https://" + host + "/sites/" + name,
			ID: host + "," + guid(t.opts.Seed, "site", name) + "," + guid(t.opts.Seed, "web", name)}
		d := &Drive{ID: "b!" + graphID("", t.opts.Seed, "site", name, "drive"), Name: "Documents", Items: map[string]*DriveItem{}}
		st.Drives = append(st.Drives, d)
		owner := Address{t.Users[0].DisplayName, t.Users[0].Mail}
		mk := func(name, parent string, folder bool) *DriveItem {
			return t.newDriveItem(d, st.Name, name, parent, folder, owner, epoch)
		}
		root := mk("root", "", true)
		d.RootID = root.ID
		var folders []*DriveItem
		if name == "Clients" {
			for _, c := range clients {
				folders = append(folders, mk(c, root.ID, true))
			}
		} else {
			folders = append(folders, mk("Budgets", root.ID, true), mk("Policies", root.ID, true))
		}
		n := scaled(t.opts.ItemsPerUser, 6)
		for i := 0; i < n; i++ {
			r := rand.New(rand.NewPCG(t.opts.Seed, uint64(i)<<28^uint64(len(name))))
			fname, mime, content := fileContent(r, i)
			f := mk(fname, folders[i%len(folders)].ID, false)
			f.MimeType, f.Content = mime, content
			f.Modified = epoch.Add(time.Duration(i) * 5 * time.Hour)
		}
		t.Sites = append(t.Sites, st)
	}
}

func (s *Server) siteJSON(st *Site) map[string]any {
	return map[string]any{"id": st.ID, "name": st.Name, "displayName": st.Name, "webUrl": st.WebURL,
		"createdDateTime": epoch.Format(time.RFC3339), "siteCollection": map[string]string{"hostname": strings.Split(st.ID, ",")[0]}}
}

// serveSites answers /sites, /sites/{id} and /sites/{id}/drives.
func (s *Server) serveSites(w http.ResponseWriter, r *http.Request, p []string) {
	if len(p) == 0 {
		// App-only site enumeration is GET /sites?search=*.
		if r.URL.Query().Get("search") == "" {
			graphError(w, http.StatusBadRequest, "invalidRequest", "Listing sites needs a search query, e.g. /sites?search=*")
			return
		}
		var all []map[string]any
		for _, st := range s.t.Sites {
			all = append(all, selectFields(r, s.siteJSON(st)))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#sites", all, 200)
		return
	}
	var st *Site
	for _, x := range s.t.Sites {
		if x.ID == p[0] {
			st = x
		}
	}
	if st == nil {
		graphError(w, http.StatusNotFound, "itemNotFound", fmt.Sprintf("Requested site could not be found: %s", p[0]))
		return
	}
	switch {
	case len(p) == 1:
		writeJSON(w, selectFields(r, s.siteJSON(st)))
	case len(p) == 2 && p[1] == "drives":
		var all []map[string]any
		for _, d := range st.Drives {
			all = append(all, map[string]any{"id": d.ID, "name": d.Name, "driveType": "documentLibrary", "webUrl": st.WebURL + "/Shared%20Documents"})
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#drives", all, 200)
	default:
		graphError(w, http.StatusBadRequest, "invalidRequest", "Invalid request")
	}
}
