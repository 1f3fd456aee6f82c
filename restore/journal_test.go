package restore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestJournalResume(t *testing.T) {
	dir := t.TempDir()
	h := JournalHeader{Restore: "restore-20261124T000000Z-aaaaaa", Key: "k1", Folder: "Holdfast restore X"}
	j, err := CreateJournal(dir, h)
	if err != nil {
		t.Fatal(err)
	}
	j.SetContainer("mail|u|", "F1")
	j.MarkDone("item1@7")
	j.Close()
	// A crash mid-write leaves a torn last line: ignored.
	f, _ := os.OpenFile(filepath.Join(dir, h.Restore+".journal"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":"done","item":"ite`)
	f.Close()

	if got, err := FindJournal(dir, "other"); err != nil || got != nil {
		t.Fatalf("FindJournal(other key) = %v, %v; want none", got, err)
	}
	r, err := FindJournal(dir, "k1")
	if err != nil || r == nil {
		t.Fatalf("FindJournal: %v %v", r, err)
	}
	if id, ok := r.Container("mail|u|"); !ok || id != "F1" || !r.Done("item1@7") || r.Done("item2@8") || !r.Resumed || r.Header.Folder != h.Folder {
		t.Errorf("resumed journal: container %q %v, done %v, resumed %v, header %+v", id, ok, r.Done("item1@7"), r.Resumed, r.Header)
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if got, _ := FindJournal(dir, "k1"); got != nil {
		t.Error("a finished journal was offered for resuming")
	}
	// Damage in the middle is not a torn tail: an error, not a silent resume.
	os.WriteFile(filepath.Join(dir, "restore-20261125T000000Z-bbbbbb.journal"), []byte("{\"t\":\"header\",\"h\":{\"key\":\"k1\"}}\nxx\n{\"t\":\"finished\"}\n"), 0o600)
	if _, err := FindJournal(dir, "k1"); err == nil {
		t.Error("a journal damaged in the middle was read without error")
	}
}
