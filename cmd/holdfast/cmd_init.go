package main

import (
	"os"

	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

func newInitCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the data directory and the log signing identity",
		Long: `Create the data directory and the Ed25519 identity that signs every tenant's
log checkpoints. The private key is written with mode 0600; the public
verifier key is printed in signed-note form: give it to auditors, who check
proofs and checkpoints with it. Running init again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInit(g)
		},
	}
}

func runInit(g *globalOptions) error {
	// The report-signing key gets a certificate from the data directory's
	// own report-signing CA (holdfast signer import replaces it with a pair
	// from a public CA).
	host, _ := os.Hostname()
	res, err := app.New(g.Data, app.Options{}).Init("Holdfast report signer (" + host + ")")
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(res)
	}
	for _, n := range res.Notes {
		g.print("note: %s\n", n)
	}
	if res.Created {
		g.print("Created data directory %s\n", res.Dir)
		g.print("Created the log signing key %s (mode 0600; keep it secret and backed up)\n", res.KeyFile)
	} else {
		g.print("Data directory %s already exists; nothing changed\n", res.Dir)
	}
	g.print("Log verifier key (give this to auditors):\n%s\n", res.LogKey)
	if res.Created {
		g.print("Reports are signed by a certificate of this directory's report-signing CA; give auditors the CA once: holdfast signer ca --out report-ca.pem\n")
	}
	return nil
}
