package restore

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
)

// Names in an export come from the tenant: hostile, and unconstrained by
// any filesystem. Every path segment is cleaned (clean), and the names
// handed out are distinct: two captured names that clean to the same name
// — ".." and "_", "Report" and "report", a file and a folder of one name —
// never share a path. Folders keep the name they were first given, so all
// of one captured folder's items land together.

// maxSegment is the longest path segment written, in bytes (filesystems
// allow 255; room is left for " (N)" and for the zip and manifest).
const maxSegment = 120

// unsafeInName are the characters no filesystem or archive takes in a name.
const unsafeInName = `/\:*?"<>|`

// clean makes one path segment safe on every filesystem: valid UTF-8,
// without control characters or the characters of unsafeInName, not
// empty, "." or "..", without trailing dots or spaces (Windows), and at
// most maxSegment bytes, cut on a character boundary and keeping a short
// extension.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "_")
	s = strings.Map(func(r rune) rune {
		if holdfast.IsControl(r) || strings.ContainsRune(unsafeInName, r) {
			return '_'
		}
		return r
	}, s)
	s = strings.TrimRight(strings.TrimSpace(s), ". ")
	if s == "" {
		return "_"
	}
	if len(s) > maxSegment {
		ext := path.Ext(s)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		s = cutUTF8(strings.TrimSuffix(s, ext), maxSegment-len(ext)) + ext
	}
	return s
}

// FileName is a name from the tenant made safe to offer as a file's name
// (a download's Content-Disposition): clean's rules.
func FileName(s string) string { return clean(s) }

// withSuffix is the cleaned s shortened to leave room for suffix (ours,
// already safe: " 1a2b3c4d.eml"), then suffix.
func withSuffix(s, suffix string) string {
	return cutUTF8(clean(s), maxSegment-len(suffix)) + suffix
}

// cutUTF8 returns at most n bytes of s, never splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// namer hands out the export's paths.
type namer struct {
	dirs map[string]string // captured folder (its raw segments) → its path in the export
	used map[string]bool   // every path handed out, files and folders, folded for case
}

func newNamer() *namer { return &namer{dirs: map[string]string{}, used: map[string]bool{}} }

// key folds a path for case-insensitive filesystems (Windows, macOS).
func key(p string) string { return strings.ToLower(p) }

// dir returns the export path of the folder whose captured path is the
// segments of parts ("/"-separated), creating distinct names as needed.
func (n *namer) dir(parts ...string) string {
	raw, out := "", ""
	for _, p := range parts {
		for _, seg := range strings.Split(p, "/") {
			if seg == "" {
				continue
			}
			raw += "\x00" + seg
			if got, ok := n.dirs[raw]; ok {
				out = got
				continue
			}
			out = n.unique(out, clean(seg))
			n.dirs[raw] = out
		}
	}
	return out
}

// file returns a distinct path for a file named name (already cleaned) in
// the export folder dir.
func (n *namer) file(dir, name string) string { return n.unique(dir, name) }

// unique returns dir/name, or dir/name with " (2)", " (3)"… before its
// extension, whichever is not handed out yet, and marks it handed out.
func (n *namer) unique(dir, name string) string {
	join := func(s string) string {
		if dir == "" {
			return s
		}
		return dir + "/" + s
	}
	ext := path.Ext(name)
	if ext == name {
		ext = "" // ".profile": all name, no extension
	}
	base := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		p := join(name)
		if i > 1 {
			p = join(fmt.Sprintf("%s (%d)%s", base, i, ext))
		}
		if !n.used[key(p)] {
			n.used[key(p)] = true
			return p
		}
	}
}
