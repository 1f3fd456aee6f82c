package web

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/access"
)

// words splits a shell command line into words, with '…' and "…" quoting
// (what the examples use).
func words(line string) []string {
	var out []string
	var cur strings.Builder
	in := false
	var q rune
	quoted := false
	for _, r := range line {
		switch {
		case q != 0 && r == q:
			q = 0
		case q != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			q, quoted = r, true
		case r == ' ':
			if in || quoted {
				out = append(out, cur.String())
				cur.Reset()
			}
			in, quoted = false, false
			continue
		default:
			cur.WriteRune(r)
		}
		in = true
	}
	if in || quoted {
		out = append(out, cur.String())
	}
	return out
}

// TestAPIDocExamples runs every curl example of docs/API.md, as the role
// its comment names, and wants a 2xx answer.
func TestAPIDocExamples(t *testing.T) {
	b, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	_, examples, ok := strings.Cut(string(b), "## Examples")
	if !ok {
		t.Fatal("docs/API.md has no Examples section")
	}
	f := newFixture(t)
	role := access.Admin
	n := 0
	for _, line := range strings.Split(examples, "\n") {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, "# "); ok {
			who, _, _ := strings.Cut(c, ":")
			if r, err := access.ParseRole(who); err == nil {
				role = r
			} else {
				role = access.Admin
			}
			continue
		}
		if !strings.HasPrefix(line, "curl ") {
			continue
		}
		method, url := "GET", ""
		var body any
		w := words(line)
		for i := 1; i < len(w); i++ {
			switch w[i] {
			case "-X":
				i++
				method = w[i]
			case "-d":
				i++
				if err := json.Unmarshal([]byte(w[i]), &body); err != nil {
					t.Errorf("%s: the body is not JSON: %v", line, err)
				}
			case "-H", "--cacert":
				i++
			default:
				url = w[i]
			}
		}
		path, ok := strings.CutPrefix(url, "$HF")
		if !ok {
			t.Errorf("%s: the URL does not start with $HF", line)
			continue
		}
		resp := f.do(role, method, path, body)
		if resp.Code/100 != 2 {
			t.Errorf("docs/API.md example as %s: %s → %d %s", role, line, resp.Code, resp.Body)
		}
		n++
	}
	if n < 10 {
		t.Errorf("ran %d examples; docs/API.md has more", n)
	}
}

// TestAPIDocMatrix: docs/API.md's table of roles is access's table — a
// row per permission, a ✓ exactly where the role has it — and names every
// route the router serves under the permission the route needs.
func TestAPIDocMatrix(t *testing.T) {
	doc, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[access.Permission][]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 8 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		p := access.Permission(strings.Trim(strings.TrimSpace(cells[1]), "`"))
		rows[p] = cells[2:7]
	}
	for _, p := range access.Permissions() {
		row, ok := rows[p]
		if !ok {
			t.Errorf("docs/API.md has no row for %s", p)
			continue
		}
		for i, r := range access.Roles {
			if got, want := strings.TrimSpace(row[i]) == "✓", access.Allowed(r, p); got != want {
				t.Errorf("docs/API.md says %s may %s: %v, access says %v", r, p, got, want)
			}
		}
	}
	f := newFixture(t)
	for _, r := range f.srv.routes {
		if r.perm == "" || strings.HasPrefix(r.path, consolePath) {
			continue // the console's pages: docs/CONSOLE.md
		}
		path := strings.TrimPrefix(r.path, api)
		path = strings.ReplaceAll(path, "/tenants/:tenant", "/tenants/{t}")
		for _, p := range []string{"case", "index", "sha256", "id", "run", "name", "proposal"} {
			path = strings.ReplaceAll(path, ":"+p, "{"+p+"}")
		}
		if row, ok := rows[r.perm]; !ok || !strings.Contains(row[4], path) {
			t.Errorf("docs/API.md's %s row does not name %s %s", r.perm, r.method, path)
		}
	}
}
