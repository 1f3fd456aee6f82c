// Command holdfast backs up Microsoft 365 tenants into an append-only,
// verifiable store. This file wires the commands together; each command
// lives in cmd_<verb>.go with an options struct and a run function.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/store"
	_ "github.com/holdfast/holdfast/store/s3" // repositories at s3:// URLs
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitIntegrity = 3
	exitFindings  = 4 // policy eval: findings at or above --fail-on
)

// exitCodes maps error kinds to exit codes; kinds not listed exit 1.
var exitCodes = map[holdfast.Kind]int{
	holdfast.Invalid:   exitUsage,
	holdfast.Integrity: exitIntegrity,
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var fe *findingsError
	if errors.As(err, &fe) {
		return exitFindings
	}
	var he *holdfast.Error
	if !errors.As(err, &he) {
		// Errors that are not ours come from argument parsing.
		return exitUsage
	}
	if c, ok := exitCodes[holdfast.KindOf(err)]; ok {
		return c
	}
	return exitError
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	Data   string
	Tenant string
	JSON   bool

	stdout, stderr io.Writer
	stderrTTY      bool
	now            func() time.Time // the clock; time.Now unless a test sets one
	emitted        bool             // a JSON document was written
}

func defaultDataDir() string {
	if d := os.Getenv("HOLDFAST_DATA"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".holdfast"
	}
	return filepath.Join(home, ".local", "share", "holdfast")
}

func (g *globalOptions) dataDir() store.DataDir { return store.DataDir{Dir: g.Data} }

func (g *globalOptions) tenant() (string, error) {
	if g.Tenant == "" {
		return "", holdfast.E("", holdfast.Invalid, "this command needs --tenant NAME")
	}
	return g.Tenant, holdfast.ValidateTenantName(g.Tenant)
}

// masterKey loads the key named by HOLDFAST_MASTER_KEY_FILE, if set.
func masterKey() ([]byte, error) {
	p := os.Getenv(store.MasterKeyEnv)
	if p == "" {
		return nil, nil
	}
	return store.LoadMasterKey(p)
}

// application returns the application layer over --data: this process's
// clock, the master key named by HOLDFAST_MASTER_KEY_FILE, notes said and
// progress drawn here.
func (g *globalOptions) application() (*app.App, error) {
	mk, err := masterKey()
	if err != nil {
		return nil, err
	}
	return app.New(g.Data, app.Options{MasterKey: mk, Now: g.now, Note: func(n string) { g.say("note: %s\n", n) }, Progress: g.drawProgress}), nil
}

// tenantApp is application for a command on --tenant: the tenant's name,
// checked, and the application layer.
func (g *globalOptions) tenantApp() (*app.App, string, error) {
	tenant, err := g.tenant()
	if err != nil {
		return nil, "", err
	}
	a, err := g.application()
	return a, tenant, err
}

// drawProgress draws an operation's progress on a terminal.
func (g *globalOptions) drawProgress(what string, done, total int64) {
	if !g.stderrTTY || total <= 0 {
		return
	}
	switch what {
	case "indexing":
		fmt.Fprintf(g.stderr, "\rindexing: record %d of %d", done, total)
		return
	case "restore", "export":
		fmt.Fprintf(g.stderr, "\r%s: %d of %d items", what, done, total)
		return
	}
	fmt.Fprintf(g.stderr, "\r%s: %3.0f%% (%s of %s)", what, 100*float64(done)/float64(total), humanBytes(done), humanBytes(total))
}

// actor is who runs this command: the user at this host.
func (g *globalOptions) actor() app.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return app.Actor{Name: name, From: host}
}

// say writes a human message to stderr (with --json) or stdout; its
// arguments are made visible (see visible).
func (g *globalOptions) say(format string, args ...any) {
	w := g.stdout
	if g.JSON {
		w = g.stderr
	}
	fmt.Fprintf(w, format, visibleArgs(args)...)
}

// print writes human output, its arguments made visible; with --json it
// does nothing.
func (g *globalOptions) print(format string, args ...any) {
	if !g.JSON {
		fmt.Fprintf(g.stdout, format, visibleArgs(args)...)
	}
}

// emitWith emits v and returns err: a command whose result stands beside
// its error (a restore with failed items) prints both.
func (g *globalOptions) emitWith(v any, err error) error {
	if eerr := g.emit(v); eerr != nil {
		return eerr
	}
	return err
}

// emit writes v as the one JSON document on stdout.
func (g *globalOptions) emit(v any) error {
	g.emitted = true
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return holdfast.E("write output", holdfast.IO, err)
	}
	return nil
}

func (g *globalOptions) endProgress() {
	if g.stderrTTY {
		fmt.Fprint(g.stderr, "\r\033[K")
	}
}

func humanBytes(n int64) string { return holdfast.HumanBytes(n) }

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "holdfast",
		Short: "Back up Microsoft 365 into an append-only, verifiable store",
		Long: `Holdfast backs up Microsoft 365 tenants into an append-only store whose record
log is a Merkle tree with signed checkpoints, so that anyone can verify that
nothing captured was altered or removed.

Exit codes: 0 ok, 1 error, 2 usage or invalid input, 3 integrity failure.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Data, "data", defaultDataDir(), "data directory (env HOLDFAST_DATA)")
	pf.StringVar(&g.Tenant, "tenant", "", "tenant name")
	pf.BoolVar(&g.JSON, "json", false, "print one JSON document on stdout")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return holdfast.E(c.CommandPath(), holdfast.Invalid, err)
	})
	root.AddCommand(
		newInitCommand(g),
		newTenantCommand(g),
		newCloudCommand(g),
		newLogKeyCommand(g),
		newVerifyCommand(g),
		newCheckpointCommand(g),
		newRepairCommand(g),
		newProofCommand(g),
		newVerifyProofCommand(g),
		newLogCommand(g),
		newGenerateCommand(g),
		newBackupCommand(g),
		newStatusCommand(g),
		newFakeTenantCommand(g),
		newRestoreCommand(g),
		newRestoreTestCommand(g),
		newSearchCommand(g),
		newScheduleCommand(g),
		newServeCommand(g),
		newUserCommand(g),
		newTokenCommand(g),
		newAlertCommand(g),
		newItemCommand(g),
		newIndexCommand(g),
		newHoldCommand(g), newDisposalCommand(g),
		newExportCommand(g),
		newVerifyExportCommand(g),
		newPolicyCommand(g),
		newReportCommand(g),
		newSignerCommand(g),
		newWitnessCommand(g),
	)
	return root
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runAt(ctx, args, stdout, stderr, time.Now)
}

// runAt is run on the clock now: tests pass one they control.
func runAt(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	g := &globalOptions{stdout: stdout, stderr: stderr, now: now}
	if f, ok := stderr.(*os.File); ok {
		g.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	// HOLDFAST_PROGRESS=1 draws progress on stderr even when it is not a
	// terminal (a log file, a CI job, a test).
	if os.Getenv("HOLDFAST_PROGRESS") == "1" {
		g.stderrTTY = true
	}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if err != nil {
		fmt.Fprintf(stderr, "holdfast: %s\n", holdfast.Visible(err.Error(), true))
		if code == exitUsage {
			var he *holdfast.Error
			if !errors.As(err, &he) {
				fmt.Fprintln(stderr, "Run 'holdfast --help' for usage.")
			}
		}
		if g.JSON && !g.emitted {
			_ = g.emit(map[string]any{"error": err.Error(), "kind": holdfast.KindOf(err).String(), "exit_code": code})
		}
	}
	return code
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// readInput reads a file the user names, refusing one larger than limit
// bytes rather than reading it whole.
func readInput(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; it is not what was asked for", path, limit)
	}
	return b, nil
}
