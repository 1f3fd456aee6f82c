package restore

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/microcosm-cc/bluemonday"
)

// sink is where an export writes files.
type sink interface {
	create(name string) (io.WriteCloser, error)
	close() error
}

type dirSink struct{ root string }

// newDirSink writes into dir, which must not exist or be empty: an export
// never overwrites.
func newDirSink(dir string) (*dirSink, error) {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, holdfast.E("export", holdfast.IO, err)
	case len(ents) > 0:
		return nil, holdfast.Errorf("export", holdfast.Invalid, "%s is not empty; an export never overwrites: choose a new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, holdfast.E("export", holdfast.IO, err)
	}
	return &dirSink{root: dir}, nil
}

func (d *dirSink) create(name string) (io.WriteCloser, error) {
	p := filepath.Join(d.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

func (d *dirSink) close() error { return nil }

type zipSink struct {
	f *os.File
	w *zip.Writer
}

func newZipSink(file string) (*zipSink, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, holdfast.Errorf("export", holdfast.Invalid, "%s exists; an export never overwrites", file)
		}
		return nil, holdfast.E("export", holdfast.IO, err)
	}
	return &zipSink{f: f, w: zip.NewWriter(f)}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (z *zipSink) create(name string) (io.WriteCloser, error) {
	w, err := z.w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
	return nopCloser{w}, err
}

func (z *zipSink) close() error {
	if err := z.w.Close(); err != nil {
		z.f.Close()
		return err
	}
	if err := z.f.Sync(); err != nil {
		z.f.Close()
		return err
	}
	return z.f.Close()
}

// ManifestEntry is one exported file. Every file written is listed; a file
// that is not one item's native (a Teams transcript) has no item, and a
// Teams messages.json names each message it holds.
type ManifestEntry struct {
	Path     string       `json:"path"`
	Item     string       `json:"item,omitempty"`
	Version  uint64       `json:"version,omitempty"` // the item.version record
	Workload string       `json:"workload"`
	SHA256   string       `json:"sha256"`
	Bytes    int64        `json:"bytes"`
	Messages []MessageRef `json:"messages,omitempty"`
	// DerivedFrom names the file this one was made from (a transcript
	// from its messages.json).
	DerivedFrom string `json:"derived_from,omitempty"`
	// Parent names the file this one is an attachment of (an event's).
	Parent string `json:"parent,omitempty"`
}

// MessageRef is one message of a Teams conversation file: its item and
// the item.version record it is, in the order of the file.
type MessageRef struct {
	Item    string `json:"item"`
	Version uint64 `json:"version"`
}

// Failure is an item that could not be restored; restore.performed
// records list them, so record declares it.
type Failure = record.RestoreFailure

// Result is an export's outcome.
type Result struct {
	Items    int             `json:"items"`
	Bytes    int64           `json:"bytes"`
	Failures []Failure       `json:"failed_items"`
	Manifest []ManifestEntry `json:"-"`
}

// ExportOptions say where an export goes and who watches it.
type ExportOptions struct {
	Zip bool // a zip file, not a directory
	// Progress, if set, is told how many of the versions were written.
	Progress func(done, total int64)
}

// Export writes the versions' natives to a directory or a zip file, with
// MANIFEST.json at the root.
func Export(ctx context.Context, lg Log, versions []Version, target string, o ExportOptions) (*Result, error) {
	var s sink
	var err error
	if o.Zip {
		s, err = newZipSink(target)
	} else {
		s, err = newDirSink(target)
	}
	if err != nil {
		return nil, err
	}
	e := &exporter{lg: lg, s: s, names: newNamer(), items: map[string]bool{}, res: &Result{Failures: []Failure{}}}
	teams := map[string][]Version{} // Teams conversations, exported together
	var done int64
	total := int64(len(versions))
	progress := func(n int) {
		done += int64(n)
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			s.close()
			return nil, err
		}
		if v.Workload == holdfast.Teams {
			k := v.Account + "\x00" + v.Path
			teams[k] = append(teams[k], v)
			continue
		}
		if err := e.item(ctx, v); err != nil {
			e.res.Failures = append(e.res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
		}
		progress(1)
	}
	keys := make([]string, 0, len(teams))
	for k := range teams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := e.conversation(ctx, teams[k]); err != nil {
			e.res.Failures = append(e.res.Failures, Failure{Path: teams[k][0].Path, Reason: err.Error()})
		}
		progress(len(teams[k]))
	}
	e.res.Items = len(e.items)
	b, _ := json.MarshalIndent(map[string]any{"format": "holdfast-export/v1", "files": e.res.Manifest}, "", "  ")
	if err := e.write(manifestName, b, nil); err != nil {
		s.close()
		return nil, holdfast.E("export", holdfast.IO, err)
	}
	if err := s.close(); err != nil {
		return nil, holdfast.E("export", holdfast.IO, err)
	}
	return e.res, nil
}

type exporter struct {
	lg    Log
	s     sink
	names *namer
	items map[string]bool // workload|account|item of every item exported
	res   *Result
}

// content reads a ref through the store's hash checks.
func (e *exporter) content(ctx context.Context, ref store.Ref) ([]byte, error) {
	var buf bytes.Buffer
	if err := e.lg.ReadContent(ctx, ref, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// write stores one file and its manifest entry (v nil: not an item).
func (e *exporter) write(name string, data []byte, v *Version) error {
	_, err := e.writeEntry(name, data, v)
	return err
}

// writeEntry is write, returning the file's manifest entry to complete.
func (e *exporter) writeEntry(name string, data []byte, v *Version) (*ManifestEntry, error) {
	w, err := e.s.create(name)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if name == manifestName {
		return nil, nil
	}
	sum := sha256.Sum256(data)
	me := ManifestEntry{Path: name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
	if v != nil {
		e.items[string(v.Workload)+"|"+v.Account+"|"+v.Item] = true
		me.Item, me.Version, me.Workload = v.Item, v.Record, string(v.Workload)
	}
	e.res.Manifest = append(e.res.Manifest, me)
	e.res.Bytes += int64(len(data))
	return &e.res.Manifest[len(e.res.Manifest)-1], nil
}

// manifestName is the export's own manifest, which lists every other file.
const manifestName = "MANIFEST.json"

func (e *exporter) item(ctx context.Context, v Version) error {
	var d record.ItemVersion
	if err := json.Unmarshal(v.Data, &d); err != nil {
		return err
	}
	dir := e.names.dir(v.Account, string(v.Workload), v.Path)
	switch v.Workload {
	case holdfast.Mail:
		data, err := e.content(ctx, v.Refs[0])
		if err != nil {
			return err
		}
		subject := "message"
		if d.Mail != nil && d.Mail.Subject != "" {
			subject = d.Mail.Subject
		}
		return e.write(e.names.file(dir, withSuffix(subject, " "+shortID(v.Item)+".eml")), data, &v)
	case holdfast.OneDrive, holdfast.SharePoint:
		if d.File == nil || d.File.Folder || len(v.Refs) == 0 {
			return nil // folders are the tree itself
		}
		data, err := e.content(ctx, v.Refs[0])
		if err != nil {
			return err
		}
		return e.write(e.names.file(dir, clean(d.File.Name)), data, &v)
	case holdfast.Calendar, holdfast.Contacts:
		js, err := e.content(ctx, v.Refs[0])
		if err != nil {
			return err
		}
		var native []byte
		ext := ".ics"
		if v.Workload == holdfast.Calendar {
			native, err = toICS(js)
		} else {
			native, err = toVCF(js)
			ext = ".vcf"
		}
		if err != nil {
			return err
		}
		title := "item"
		if d.PIM != nil && d.PIM.Title != "" {
			title = d.PIM.Title
		}
		name := e.names.file(dir, withSuffix(title, " "+shortID(v.Item)+ext))
		if err := e.write(name, native, &v); err != nil {
			return err
		}
		// Event attachments beside the event.
		adir := ""
		for i, ref := range v.Refs[1:] {
			data, err := e.content(ctx, ref)
			if err != nil {
				return err
			}
			aname := fmt.Sprintf("attachment %d", i+1)
			if d.PIM != nil && i < len(d.PIM.Attachments) {
				aname = d.PIM.Attachments[i].Name
			}
			if adir == "" {
				adir = e.names.unique(dir, clean(strings.TrimSuffix(path.Base(name), ext)+" attachments"))
			}
			me, err := e.writeEntry(e.names.file(adir, clean(aname)), data, &v)
			if err != nil {
				return err
			}
			me.Parent = name
		}
		return nil
	}
	return fmt.Errorf("workload %s cannot be exported", v.Workload)
}

func shortID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// conversation exports a channel's or chat's messages as JSON (each
// message as Graph sent it), their hosted contents (pasted images) as
// files, and a transcript people can read, oldest first.
func (e *exporter) conversation(ctx context.Context, vs []Version) error {
	type msg struct {
		ID        string          `json:"id"`
		ReplyTo   string          `json:"replyToId"`
		Created   string          `json:"createdDateTime"`
		From      json.RawMessage `json:"from"`
		Body      struct{ Content, ContentType string }
		raw       json.RawMessage
		fromName  string
		versionOf Version
	}
	var msgs []msg
	for _, v := range vs {
		data, err := e.content(ctx, v.Refs[0])
		if err != nil {
			return err
		}
		var m msg
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("message %s: %w", v.Item, err)
		}
		m.raw, m.versionOf = data, v
		var from struct{ User struct{ DisplayName string } }
		json.Unmarshal(m.From, &from)
		m.fromName = from.User.DisplayName
		msgs = append(msgs, m)
	}
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].Created < msgs[j].Created })
	dir := e.names.dir(vs[0].Account, "teams", vs[0].Path)
	// Hosted contents are named first: the transcript shows them from
	// their files, which follow the conversation they belong to.
	type hostedFile struct {
		path string
		data []byte
		v    Version
	}
	var hosted []hostedFile
	local := map[string]string{} // hosted content id → its path relative to the transcript
	hdir := ""
	for _, m := range msgs {
		v := m.versionOf
		var d record.ItemVersion
		if err := json.Unmarshal(v.Data, &d); err != nil || d.PIM == nil {
			continue
		}
		for i, ref := range v.Refs[1:] {
			if i >= len(d.PIM.Attachments) {
				break
			}
			data, err := e.content(ctx, ref)
			if err != nil {
				return err
			}
			if hdir == "" {
				hdir = e.names.unique(dir, "hosted contents")
			}
			at := d.PIM.Attachments[i]
			hf := hostedFile{path: e.names.file(hdir, withSuffix(shortID(v.Item), " "+clean(at.Name))), data: data, v: v}
			hosted = append(hosted, hf)
			if at.HostedID != "" {
				local[at.HostedID] = strings.TrimPrefix(hf.path, dir+"/")
			}
		}
	}
	var js bytes.Buffer
	js.WriteString("[\n")
	var h strings.Builder
	title := html.EscapeString(vs[0].Path)
	fmt.Fprintf(&h, "<!doctype html>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'\">\n<title>%s</title>\n<h1>%s</h1>\n", title, title)
	for i, m := range msgs {
		if i > 0 {
			js.WriteString(",\n")
		}
		js.Write(m.raw)
		indent := ""
		if m.ReplyTo != "" {
			indent = ` style="margin-left:2em"`
		}
		fmt.Fprintf(&h, "<div%s><p><b>%s</b> <small>%s</small></p>%s</div>\n", indent, html.EscapeString(m.fromName), html.EscapeString(m.Created), transcriptBody(m.Body.ContentType, m.Body.Content, local))
	}
	js.WriteString("\n]\n")
	first := msgs[0].versionOf
	me, err := e.writeEntry(e.names.file(dir, "messages.json"), js.Bytes(), &first)
	if err != nil {
		return err
	}
	me.Item, me.Version = "", 0 // a conversation: its messages say which items
	for _, m := range msgs {
		v := m.versionOf
		e.items[string(v.Workload)+"|"+v.Account+"|"+v.Item] = true
		me.Messages = append(me.Messages, MessageRef{Item: v.Item, Version: v.Record})
	}
	conv := me.Path
	for _, hf := range hosted {
		he, err := e.writeEntry(hf.path, hf.data, &hf.v)
		if err != nil {
			return err
		}
		he.Parent = conv // a message's pasted image: its item and version say which message
	}
	tr, err := e.writeEntry(e.names.file(dir, "transcript.html"), []byte(h.String()), nil)
	if err != nil {
		return err
	}
	tr.Workload, tr.DerivedFrom = string(holdfast.Teams), conv
	return nil
}

// transcriptPolicy keeps a message's formatting and drops everything that
// acts: scripts, event handlers, styles that load, frames, forms, and
// every image but the message's own hosted contents, exported beside the
// transcript (tracking pixels never load). Links stay, inert until
// clicked, marked nofollow and opened apart.
var transcriptPolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "b", "i", "u", "s", "strong", "em", "del", "ins", "sub", "sup", "span", "div",
		"ul", "ol", "li", "blockquote", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
		"table", "thead", "tbody", "tr", "th", "td", "at")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("https", "http", "mailto")
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^hosted contents( \(\d+\))?/[^:?#\\]+$`)).OnElements("img")
	p.AllowAttrs("alt").OnElements("img")
	return p
}()

// transcriptBody renders a message body for the transcript: HTML
// sanitised, hosted images pointed at their exported files; text escaped.
func transcriptBody(contentType, content string, local map[string]string) string {
	if !strings.EqualFold(contentType, "html") {
		return "<pre>" + html.EscapeString(content) + "</pre>"
	}
	content = hostedSrc.ReplaceAllStringFunc(content, func(src string) string {
		m := hostedSrc.FindStringSubmatch(src)
		if p, ok := local[html.UnescapeString(m[2])]; ok {
			return `src="` + html.EscapeString(p) + `"`
		}
		return `src=""`
	})
	return transcriptPolicy.Sanitize(content)
}

// hostedSrc finds an img src that names a hosted content.
var hostedSrc = regexp.MustCompile(`src="([^"]*/hostedContents/([^/"]{1,1000})/\$value)"`)

// CheckExport re-reads an exported directory and compares every file with
// its manifest entry. It returns how many files matched and what did not.
func CheckExport(dir string, manifest []ManifestEntry) (int, []Failure) {
	ok := 0
	var bad []Failure
	for _, e := range manifest {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil {
			bad = append(bad, Failure{Item: e.Item, Path: e.Path, Reason: err.Error()})
			continue
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != e.SHA256 || int64(len(data)) != e.Bytes {
			bad = append(bad, Failure{Item: e.Item, Path: e.Path, Reason: "the restored file does not match its manifest hash"})
			continue
		}
		ok++
	}
	return ok, bad
}
