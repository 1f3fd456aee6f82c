package app

import (
	"context"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// GenerateOptions describe synthetic demo and benchmark data.
type GenerateOptions struct {
	Items int    // number of items
	Size  int    // approximate size of each item in bytes
	Seed  uint64 // the same seed gives the same content
}

// Generated is the result of Generate.
type Generated struct {
	Items      int              `json:"items"`
	Bytes      int64            `json:"bytes"`
	First      uint64           `json:"first_record"`
	Last       uint64           `json:"last_record"`
	Checkpoint uint64           `json:"checkpoint"`
	Seconds    float64          `json:"duration_s"`
	Signed     store.Checkpoint `json:"-"`
}

// Generate stores synthetic messages as synthetic.item records (never
// item versions: nothing mistakes them for captured data) and issues a
// checkpoint.
func (a *App) Generate(ctx context.Context, who Actor, tenant string, o GenerateOptions) (*Generated, error) {
	if err := who.validate("generate"); err != nil {
		return nil, err
	}
	if o.Items <= 0 || o.Size <= 0 {
		return nil, holdfast.E("generate", holdfast.Invalid, "--items and --size must be positive")
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	start := a.now()
	res := &Generated{Items: o.Items}
	prog := a.progress("generate")
	for i := 0; i < o.Items; i++ {
		msg := synth.Message(o.Seed, i, o.Size)
		ref, err := s.PutBytes(ctx, msg)
		if err != nil {
			return nil, err
		}
		idx, err := s.Append(ctx, record.TypeSynthetic, synth.Meta(o.Seed, i), ref)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			res.First = idx
		}
		res.Last = idx
		res.Bytes += int64(len(msg))
		if prog != nil && i%200 == 0 {
			prog(int64(i), int64(o.Items))
		}
	}
	c, _, err := s.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	res.Checkpoint, res.Signed = c.Size, c
	res.Seconds = a.now().Sub(start).Seconds()
	return res, nil
}
