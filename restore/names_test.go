package restore

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
)

func TestClean(t *testing.T) {
	long := "a" + strings.Repeat("é", 70) + ".txt"
	tests := []struct{ in, want string }{
		{"report.docx", "report.docx"},
		{"..", "_"},
		{".", "_"},
		{"", "_"},
		{"  trailing dots... ", "trailing dots"},
		{"a/b\\c:d*e?f\"g<h>i|j", "a_b_c_d_e_f_g_h_i_j"},
		{"\x1b[31mred\a\nline.txt", "_[31mred__line.txt"},
		{"evil\u202etxt.exe", "evil_txt.exe"},
		{"bad\xffbyte", "bad_byte"},
		{long, "a" + strings.Repeat("é", 57) + ".txt"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := clean(tt.in)
			if got != tt.want {
				t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !utf8.ValidString(got) || len(got) > maxSegment {
				t.Errorf("clean(%q) = %q: invalid UTF-8 or longer than %d bytes", tt.in, got, maxSegment)
			}
		})
	}
}

func TestNamerKeepsCapturedNamesApart(t *testing.T) {
	n := newNamer()
	a := n.dir("u@x", "onedrive", "/..")
	b := n.dir("u@x", "onedrive", "/_")
	if a == b {
		t.Errorf("folders .. and _ share %q", a)
	}
	if again := n.dir("u@x", "onedrive", "/../"); again != a {
		t.Errorf("the same captured folder got %q, then %q", a, again)
	}
	f1 := n.file(a, clean("Report.docx"))
	f2 := n.file(a, clean("report.docx"))
	if strings.EqualFold(f1, f2) {
		t.Errorf("Report.docx and report.docx share %q / %q on a case-insensitive disk", f1, f2)
	}
	// A file named like a folder, then that folder.
	file := n.file(n.dir("u@x", "onedrive"), clean("x"))
	dir := n.dir("u@x", "onedrive", "/x")
	if strings.EqualFold(file, dir) {
		t.Errorf("file and folder x share %q", file)
	}
}

// FuzzNames: for any captured names, the paths handed out are valid UTF-8
// without control or unsafe characters, segments stay short, distinct
// captured names get distinct paths, and a path survives the manifest's
// JSON unchanged (so the manifest and the package agree).
func FuzzNames(f *testing.F) {
	f.Add("..", "_", "a"+strings.Repeat("é", 70)+".txt")
	f.Add("\x1b]0;x\a", "\xff\xfe", "Report")
	f.Add("dir/..", "dir/../", "report")
	f.Fuzz(func(t *testing.T, d1, d2, name string) {
		n := newNamer()
		seen := map[string]string{}
		for _, c := range []struct{ dir, name string }{{d1, name}, {d2, name}, {d1, strings.ToUpper(name)}, {d2, name + "x"}} {
			p := n.file(n.dir("acct", "onedrive", c.dir), clean(c.name))
			if !utf8.ValidString(p) {
				t.Fatalf("path %q is not valid UTF-8", p)
			}
			for _, seg := range strings.Split(p, "/") {
				if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegment+8 {
					t.Fatalf("path %q has segment %q", p, seg)
				}
				for _, r := range seg {
					if holdfast.IsControl(r) || strings.ContainsRune(unsafeInName, r) {
						t.Fatalf("path %q holds %U", p, r)
					}
				}
			}
			k := strings.ToLower(p)
			if prev, ok := seen[k]; ok {
				t.Fatalf("%q and %q/%q both got %q", prev, c.dir, c.name, p)
			}
			seen[k] = c.dir + "/" + c.name
			b, _ := json.Marshal(ManifestEntry{Path: p})
			var back ManifestEntry
			if err := json.Unmarshal(b, &back); err != nil || back.Path != p {
				t.Fatalf("path %q does not survive the manifest: %q", p, back.Path)
			}
		}
	})
}
