package main

import (
	"encoding/base64"
	"os"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

type verifyProofOptions struct {
	Key       string
	Witnesses witnessFlags
}

func newVerifyProofCommand(g *globalOptions) *cobra.Command {
	var opts verifyProofOptions
	cmd := &cobra.Command{
		Use:   "verify-proof FILE --key VKEY",
		Short: "Check a proof bundle offline with nothing but the log's public key",
		Long: `The auditor's tool: check a bundle written by holdfast proof against the log's
public verifier key (the text holdfast log-key prints, or a file holding it).
It needs no data directory and no network. Exits 0 when the proof holds and
3 when anything does not match.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerifyProof(g, opts, args[0])
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "the log's verifier key, or a file holding it (required)")
	opts.Witnesses.add(cmd)
	return cmd
}

func loadVerifier(key string) (note.Verifier, error) {
	const op = "--key"
	if key == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "the log's verifier key is required (--key VKEY or --key FILE)")
	}
	if b, err := os.ReadFile(key); err == nil {
		key = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err, "not a verifier key (want NAME+HASH+KEY as holdfast log-key prints)")
	}
	return v, nil
}

func runVerifyProof(g *globalOptions, opts verifyProofOptions, file string) error {
	const op = "verify-proof"
	v, err := loadVerifier(opts.Key)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	b, err := store.ParseBundle(data)
	if err != nil {
		return holdfast.E(op, err, file)
	}
	wp, err := opts.Witnesses.policy()
	if err != nil {
		return err
	}
	res, err := store.VerifyBundle(b, v)
	if err == nil {
		ckpt := b.Checkpoint
		if b.Kind == "consistency" {
			ckpt = b.NewCheckpoint
		}
		res.Witnesses, err = wp.Check([]byte(ckpt))
	}
	if err != nil {
		if g.JSON {
			g.emit(map[string]any{"ok": false, "error": err.Error()})
		}
		return holdfast.E(op, err, file)
	}
	if g.JSON {
		return g.emit(struct {
			OK bool `json:"ok"`
			store.BundleResult
		}{true, res})
	}
	root := base64.StdEncoding.EncodeToString(res.Root)
	switch res.Kind {
	case "inclusion":
		g.print("OK: record %d (%s) is included in log %s at checkpoint %d (root %s), signed by %s\n", res.Index, res.Type, res.Origin, res.Size, root, v.Name())
	case "consistency":
		g.print("OK: the log %s at checkpoint %d is an extension of checkpoint %d (root %s): nothing was altered or removed in between; signed by %s\n", res.Origin, res.NewSize, res.OldSize, root, v.Name())
	}
	if res.Witnesses > 0 {
		g.print("The checkpoint carries the cosignatures of %d of the given witnesses\n", res.Witnesses)
	}
	return nil
}
