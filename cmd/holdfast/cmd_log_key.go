package main

import "github.com/spf13/cobra"

func newLogKeyCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "log-key",
		Short: "Print the public key that verifies checkpoints and proofs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vkey, err := g.dataDir().LogKey()
			if err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]string{"log_vkey": vkey})
			}
			g.print("%s\n", vkey)
			return nil
		},
	}
}
