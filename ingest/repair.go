package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// RepairSource is what a repair fetches content again with.
type RepairSource interface {
	MessageMIME(ctx context.Context, userID, messageID string) (io.ReadCloser, error)
	DriveItemContent(ctx context.Context, driveID, itemID string) (io.ReadCloser, error)
}

// RepairStore is the store a repair works on (opened with Repair).
type RepairStore interface {
	Store
	MissingPacks() []store.ID
	MissingBlobs(ctx context.Context) (map[store.ID]bool, error)
	RecordRepair(ctx context.Context, rec store.RepairRecord) (uint64, error)
}

// RepairOptions tune Repair.
type RepairOptions struct {
	// DryRun finds what is missing and what the tenant still has, and
	// changes nothing.
	DryRun bool
	// Actor is who repairs, for the record.
	Actor string
	// ScratchDir holds a fetched file while its hash is checked (default:
	// the system's temporary directory).
	ScratchDir string
}

// RepairResult is what a repair found and did.
type RepairResult struct {
	DryRun    bool                    `json:"dry_run"`
	LostPacks []store.ID              `json:"lost_packs"`
	Recovered []store.RepairedVersion `json:"recovered"`
	Lost      []store.RepairedVersion `json:"lost"`
	Record    uint64                  `json:"record,omitempty"` // the store.repair record
}

// Repair fetches again from the tenant every captured version whose
// content is in a missing pack and still exists there unchanged: a file or
// a message whose bytes hash to what was captured makes the blob whole
// again. What cannot be fetched, or has changed since, is lost for good.
// Unless DryRun, it then records the repair, which accounts for the
// missing packs and lets the store take writes again.
func Repair(ctx context.Context, src RepairSource, st RepairStore, opts RepairOptions) (*RepairResult, error) {
	const op = "repair"
	res := &RepairResult{DryRun: opts.DryRun, LostPacks: st.MissingPacks(), Recovered: []store.RepairedVersion{}, Lost: []store.RepairedVersion{}}
	if len(res.LostPacks) == 0 {
		return res, nil
	}
	missing, err := st.MissingBlobs(ctx)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	// Every record whose content was in a missing pack, in log order.
	type candidate struct {
		rec store.Record
		ref int
	}
	var cands []candidate
	err = st.Records(ctx, 0, func(_ []byte, r store.Record) error {
		for i, ref := range r.Refs {
			for _, b := range ref.Blobs() {
				if missing[b] {
					cands = append(cands, candidate{rec: r, ref: i})
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	recovered := map[store.ID]bool{} // content fetched whole in this repair
	var lost []store.RepairedVersion
	for _, c := range cands {
		rv := store.RepairedVersion{Record: c.rec.Index, Type: c.rec.Type, SHA256: c.rec.Refs[c.ref].SHA256}
		var v record.ItemVersion
		if c.rec.Type == record.TypeItemVersion {
			if err := json.Unmarshal(c.rec.Data, &v); err == nil {
				rv.Workload, rv.Account, rv.Item = string(v.Workload), v.Account, v.Item
			}
		}
		if recovered[rv.SHA256] {
			res.Recovered = append(res.Recovered, rv)
			continue
		}
		why := refetch(ctx, src, st, c.rec, v, c.ref, opts)
		if why != "" {
			rv.Reason = why
			lost = append(lost, rv)
			continue
		}
		recovered[rv.SHA256] = true
		res.Recovered = append(res.Recovered, rv)
	}
	// Content is content: a version whose own item changed is whole again
	// when another item held the same bytes and was fetched.
	for _, rv := range lost {
		if recovered[rv.SHA256] {
			rv.Reason = ""
			res.Recovered = append(res.Recovered, rv)
		} else {
			res.Lost = append(res.Lost, rv)
		}
	}
	if opts.DryRun {
		return res, nil
	}
	if err := st.Flush(ctx); err != nil {
		return nil, holdfast.E(op, err)
	}
	idx, err := st.RecordRepair(ctx, store.RepairRecord{LostPacks: res.LostPacks, Recovered: res.Recovered, Lost: res.Lost, Actor: opts.Actor})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	res.Record = idx
	return res, nil
}

// refetch fetches the content of ref i of r again and, if it hashes to
// what was captured, stores it (unless dry run). It returns why it could
// not, or "".
func refetch(ctx context.Context, src RepairSource, st RepairStore, r store.Record, v record.ItemVersion, i int, opts RepairOptions) string {
	want := r.Refs[i]
	var open func() (io.ReadCloser, error)
	switch {
	case r.Type != record.TypeItemVersion:
		return "not an item's content: nothing to fetch it from"
	case v.Workload == holdfast.Mail && i == 0:
		open = func() (io.ReadCloser, error) { return src.MessageMIME(ctx, v.AccountID, v.Item) }
	case (v.Workload == holdfast.OneDrive || v.Workload == holdfast.SharePoint) && i == 0:
		parts := strings.SplitN(v.Stream, "/", 3) // workload/account/drive
		if len(parts) != 3 {
			return "the record does not name the item's drive"
		}
		open = func() (io.ReadCloser, error) { return src.DriveItemContent(ctx, parts[2], v.Item) }
	default:
		return fmt.Sprintf("%s content cannot be fetched again byte for byte", v.Workload)
	}
	rc, err := open()
	if errors.Is(err, ErrGone) {
		return "no longer in the tenant"
	}
	if err != nil {
		return "could not be fetched: " + holdfast.RedactURLs(err.Error())
	}
	defer rc.Close()
	// To a scratch file first: nothing enters the store unless it is the
	// content that was captured.
	f, err := os.CreateTemp(opts.ScratchDir, "holdfast-repair-")
	if err != nil {
		return "could not be fetched: " + err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		return "could not be fetched: " + holdfast.RedactURLs(err.Error())
	}
	if n != want.Size || store.ID(h.Sum(nil)) != want.SHA256 {
		return "changed in the tenant since it was captured: the captured version is gone"
	}
	if opts.DryRun {
		return ""
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "could not be stored: " + err.Error()
	}
	ref, err := st.PutBlob(ctx, f)
	if err != nil {
		return "could not be stored: " + err.Error()
	}
	if ref.SHA256 != want.SHA256 || len(ref.Chunks) != len(want.Chunks) {
		return "stored content does not match the captured reference"
	}
	return ""
}
