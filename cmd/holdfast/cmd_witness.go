package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/witness"
	"github.com/spf13/cobra"
)

// witnessServeOptions configure holdfast witness serve.
type witnessServeOptions struct {
	Listen  string
	Key     string
	Data    string
	TLSCert string
	TLSKey  string

	ready func(addr string) // tests: called once listening
}

func newWitnessCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "Witnesses: independent parties that cosign a tenant log's checkpoints (c2sp.org/tlog-witness)",
		Long: `A witness cosigns a log's checkpoint only if it is consistent with the last one it
cosigned for that log, so one log can never show two histories to people who check
cosignatures. An auditor, the customer or another MSP runs one:

  holdfast witness keygen --name witness.example/w1 --key w1.key
  holdfast witness allow --data DIR ORIGIN LOG-VKEY       (once per tenant log)
  holdfast witness serve --listen :8443 --key w1.key --data DIR

and the MSP adds it to a tenant:

  holdfast witness add --tenant T https://witness.example/w1 VKEY

after which every checkpoint the tenant's log issues is submitted to it.`,
	}
	var name, keyFile string
	keygen := &cobra.Command{
		Use:   "keygen --name NAME --key FILE",
		Short: "Make a witness key; prints its vkey",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runWitnessKeygen(g, name, keyFile) },
	}
	keygen.Flags().StringVar(&name, "name", "", "the witness's name, a schema-less URL such as witness.example/w1 (required)")
	keygen.Flags().StringVar(&keyFile, "key", "", "file to write the private key to (required; never overwritten)")

	var so witnessServeOptions
	serve := &cobra.Command{
		Use:   "serve --listen ADDR --key FILE --data DIR",
		Short: "Serve add-checkpoint for the logs added with witness allow",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runWitnessServe(cmd.Context(), g, so) },
	}
	f := serve.Flags()
	f.StringVar(&so.Listen, "listen", "127.0.0.1:8643", "address to listen on")
	f.StringVar(&so.Key, "key", "", "the witness's private key file, from witness keygen (required)")
	f.StringVar(&so.Data, "data", "", "the witness's state directory (required)")
	f.StringVar(&so.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&so.TLSKey, "tls-key", "", "and this key (PEM)")

	var allowData string
	allow := &cobra.Command{
		Use:   "allow --data DIR ORIGIN LOG-VKEY",
		Short: "Let the witness cosign for a log (its checkpoints' origin and its key)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if allowData == "" {
				return holdfast.Errorf("witness allow", holdfast.Invalid, "--data DIR names the witness's state directory")
			}
			if err := witness.AddLog(allowData, args[0], args[1]); err != nil {
				return err
			}
			g.print("The witness in %s now cosigns for log %s (a running witness reads this on SIGHUP)\n", allowData, args[0])
			return nil
		},
	}
	allow.Flags().StringVar(&allowData, "data", "", "the witness's state directory (required)")

	add := &cobra.Command{
		Use:   "add --tenant T URL VKEY",
		Short: "Submit the tenant's checkpoints to a witness from now on",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWitnessAdd(cmd.Context(), g, args[0], args[1])
		},
	}
	remove := &cobra.Command{
		Use:   "remove --tenant T NAME",
		Short: "Stop submitting to a witness (its cosignatures stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, tenant, err := g.tenantApp()
			if err != nil {
				return err
			}
			if err := a.RemoveWitness(cmd.Context(), g.actor(), tenant, args[0]); err != nil {
				return err
			}
			g.print("Witness %s removed from tenant %s\n", args[0], tenant)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list --tenant T",
		Short: "The tenant's witnesses and where each stands",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runWitnessList(cmd.Context(), g) },
	}
	sync := &cobra.Command{
		Use:   "sync --tenant T",
		Short: "Submit the newest checkpoint to every witness that has not cosigned it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, tenant, err := g.tenantApp()
			if err != nil {
				return err
			}
			st, err := a.SyncWitnesses(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return g.witnessStatuses(st)
		},
	}
	cmd.AddCommand(keygen, serve, allow, add, remove, list, sync)
	return cmd
}

func runWitnessKeygen(g *globalOptions, name, keyFile string) error {
	const op = "witness keygen"
	if name == "" || keyFile == "" {
		return holdfast.Errorf(op, holdfast.Invalid, "--name and --key are required")
	}
	skey, vkey, err := witness.GenerateKey(name)
	if err != nil {
		return err
	}
	if err := store.WriteNew(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		return holdfast.E(op, err, "a witness key is never overwritten")
	}
	if g.JSON {
		return g.emit(map[string]string{"name": name, "vkey": vkey, "key_file": keyFile})
	}
	g.print("%s\n", vkey)
	return nil
}

func readWitnessKey(path string) (*witness.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, holdfast.E("witness key", holdfast.IO, err)
	}
	return witness.ParseSignerKey(string(b), nil)
}

func runWitnessServe(ctx context.Context, g *globalOptions, o witnessServeOptions) error {
	const op = "witness serve"
	if o.Key == "" || o.Data == "" {
		return holdfast.Errorf(op, holdfast.Invalid, "--key FILE and --data DIR are required")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return holdfast.Errorf(op, holdfast.Invalid, "--tls-cert and --tls-key go together")
	}
	signer, err := readWitnessKey(o.Key)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(g.stderr, nil))
	w, err := witness.Open(o.Data, signer, log)
	if err != nil {
		return err
	}
	defer w.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() {
		if o.TLSCert != "" {
			served <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
			return
		}
		served <- srv.Serve(ln)
	}()
	addr := ln.Addr().String()
	g.say("Witness %s serving add-checkpoint on %s; vkey %s\n", signer.Name(), addr, signer.VerifierKey())
	log.Info("serving", "addr", addr, "name", signer.Name(), "vkey", signer.VerifierKey())
	if o.ready != nil {
		o.ready(addr)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := w.Reload(); err != nil {
				log.Error("reload", "error", err.Error())
			} else {
				log.Info("reloaded the list of logs")
			}
		case err := <-served:
			return holdfast.E(op, holdfast.IO, err)
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			return nil
		}
	}
}

func runWitnessAdd(ctx context.Context, g *globalOptions, url, vkey string) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	st, err := a.AddWitness(ctx, g.actor(), tenant, url, vkey)
	if err != nil {
		return err
	}
	return g.witnessStatuses(st)
}

func runWitnessList(ctx context.Context, g *globalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	ws, err := a.Witnesses(ctx, tenant)
	if err != nil {
		return err
	}
	st, err := a.WitnessStatuses(tenant)
	if err != nil {
		return err
	}
	byName := map[string]app.WitnessStatus{}
	for _, s := range st {
		byName[s.Name] = s
	}
	out := make([]app.WitnessStatus, 0, len(ws))
	for _, w := range ws {
		s, ok := byName[w.Name]
		if !ok {
			s = app.WitnessStatus{Name: w.Name, URL: w.URL, Error: "not submitted to yet"}
		}
		out = append(out, s)
	}
	if len(out) == 0 && !g.JSON {
		g.print("Tenant %s has no witnesses (holdfast witness add)\n", tenant)
		return nil
	}
	return g.witnessStatuses(out)
}

func (g *globalOptions) witnessStatuses(st []app.WitnessStatus) error {
	if g.JSON {
		if st == nil {
			st = []app.WitnessStatus{}
		}
		return g.emit(map[string]any{"witnesses": st})
	}
	for _, s := range st {
		switch {
		case s.Refused != "":
			g.print("%-32s REFUSED checkpoint %d: %s\n", s.Name, s.Latest, s.Refused)
		case s.OK():
			g.print("%-32s cosigned checkpoint %d (%s)\n", s.Name, s.Cosigned, s.URL)
		case s.Error != "":
			g.print("%-32s has cosigned up to %d of %d: %s\n", s.Name, s.Cosigned, s.Latest, s.Error)
		default:
			g.print("%-32s has cosigned up to %d of %d\n", s.Name, s.Cosigned, s.Latest)
		}
	}
	for _, s := range st {
		if s.Refused != "" {
			return holdfast.Errorf("witness", holdfast.Integrity, "witness %s refused the tenant's newest checkpoint: %s", s.Name, s.Refused)
		}
	}
	return nil
}

// witnessFlags are the --witness and --witness-threshold flags of every
// command that verifies a checkpoint.
type witnessFlags struct {
	Keys      []string
	Threshold int
}

func (w *witnessFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&w.Keys, "witness", nil, "a witness's vkey (or a file holding it): the checkpoint must carry the witnesses' cosignatures (repeatable)")
	cmd.Flags().IntVar(&w.Threshold, "witness-threshold", 0, "how many of the --witness keys must have cosigned (default: all)")
}

// vkeys returns the keys given, read from files where a file was named.
func (w *witnessFlags) vkeys() []string {
	out := make([]string, 0, len(w.Keys))
	for _, k := range w.Keys {
		if b, err := os.ReadFile(k); err == nil {
			k = strings.TrimSpace(string(b))
		}
		out = append(out, k)
	}
	return out
}

// policy parses the flags into the store's witness policy.
func (w *witnessFlags) policy() (store.WitnessPolicy, error) {
	var p store.WitnessPolicy
	for _, k := range w.vkeys() {
		v, err := witness.NewVerifier(k)
		if err != nil {
			return p, holdfast.E("--witness", err)
		}
		p.Witnesses = append(p.Witnesses, v)
	}
	if w.Threshold < 0 || w.Threshold > len(p.Witnesses) {
		return p, holdfast.Errorf("--witness-threshold", holdfast.Invalid, "%d: want 1 to the %d witnesses given", w.Threshold, len(p.Witnesses))
	}
	p.Threshold = w.Threshold
	return p, nil
}
