package restore

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
)

// memDrive is a hand-written DriveWriter: folders and files by id.
type memDrive struct {
	names map[string]string // id → parent|name
	files map[string]string // parent|name → content
	n     int
}

func (m *memDrive) CreateFolder(_ context.Context, drive, parent, name string) (string, error) {
	for _, v := range m.names {
		if v == parent+"|"+name {
			return "", holdfast.E("create folder", holdfast.Exist, fmt.Errorf("create folder %q: name already exists", name))
		}
	}
	m.n++
	id := fmt.Sprint("f", m.n)
	m.names[id] = parent + "|" + name
	return id, nil
}

func (m *memDrive) UploadFile(_ context.Context, drive, parent, name string, size int64, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	if int64(len(b)) != size {
		return "", fmt.Errorf("got %d bytes, want %d", len(b), size)
	}
	if _, ok := m.files[parent+"|"+name]; ok {
		return "", holdfast.E("upload", holdfast.Exist, "name already exists")
	}
	m.files[parent+"|"+name] = string(b)
	return "x", nil
}

func (m *memDrive) Child(_ context.Context, drive, parent, name string) (string, int64, error) {
	for id, v := range m.names {
		if v == parent+"|"+name {
			return id, 0, nil
		}
	}
	if c, ok := m.files[parent+"|"+name]; ok {
		return "file", int64(len(c)), nil
	}
	return "", 0, holdfast.E("child", holdfast.NotFound, name)
}

func (m *memDrive) UserDrive(_ context.Context, user string) (string, error) {
	return "drive-of-" + user, nil
}

func restoreWith(t *testing.T, s Log, m *memDrive, folder string, vs []Version) (*TenantResult, error) {
	t.Helper()
	j, err := CreateJournal(t.TempDir(), JournalHeader{Restore: "r1", Folder: folder})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	tr := &Tenant{Log: s, Drives: m, Journal: j}
	return tr.Run(context.Background(), vs)
}

func (m *memDrive) path(id string) string {
	if id == "root" {
		return ""
	}
	v := m.names[id]
	for i := 0; i < len(v); i++ {
		if v[i] == '|' {
			return m.path(v[:i]) + "/" + v[i+1:]
		}
	}
	return v
}

func TestToDrives(t *testing.T) {
	ctx := context.Background()
	s, moments := fixture(t)
	vs, err := Select(ctx, s, Scope{Workload: holdfast.OneDrive, At: moments[1].Add(time.Minute)})
	if err != nil || len(vs) != 1 {
		t.Fatal(vs, err)
	}
	// The fixture's records name no stream; give them the drive's.
	vs[0].Data = []byte(`{"stream":"onedrive/alice/drive1","file":{"name":"ledger.csv"}}`)
	m := &memDrive{names: map[string]string{}, files: map[string]string{}}
	res, err := restoreWith(t, s, m, "Holdfast restore T", vs)
	if err != nil || res.Items != 1 || len(res.Failures) != 0 {
		t.Fatalf("ToDrives: %+v %v", res, err)
	}
	var where, content string
	for k, v := range m.files {
		where, content = k, v
	}
	if content != "ledger version 2" {
		t.Errorf("restored content %q, want version 2", content)
	}
	var parent string
	for i := 0; i < len(where); i++ {
		if where[i] == '|' {
			parent = where[:i]
		}
	}
	if got := m.path(parent); got != "/Holdfast restore T/Clients/Harbour" {
		t.Errorf("restored into %q, want the original tree under the restore folder", got)
	}
	// The restore folder exists now: a second restore must not merge into it.
	if _, err := restoreWith(t, s, m, "Holdfast restore T", vs); err == nil {
		t.Error("a second restore into an existing folder name succeeded")
	}
	teams := []Version{{Workload: holdfast.Teams, Item: "x"}}
	if _, err := restoreWith(t, s, m, "Other", teams); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("Teams into the tenant: %v, want Invalid", err)
	}
}
