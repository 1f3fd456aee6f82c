package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/spf13/cobra"
)

type fakeTenantServeOptions struct {
	Addr  string
	State string
	faketenant.Options
}

func newFakeTenantCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fake-tenant",
		Short: "Run the embedded Microsoft 365 emulator used by the demo and the tests",
	}
	var o fakeTenantServeOptions
	serve := &cobra.Command{
		Use:   "serve --state DIR [--addr 127.0.0.1:PORT]",
		Short: "Serve the fake tenant over HTTPS until interrupted",
		Long: `Serve a seeded Microsoft 365 tenant (Graph v1.0 subset and the identity
platform's client-credentials flow) over HTTPS with its own CA, written to
the state directory. Prints one JSON line with everything holdfast tenant
add needs, then serves until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFakeTenantServe(cmd.Context(), g, o)
		},
	}
	f := serve.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:0", "listen address (port 0 picks one)")
	f.StringVar(&o.State, "state", "", "state directory: CA and server.json (required)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the generated tenant")
	f.IntVar(&o.Users, "users", 15, "users, three of them departed")
	f.IntVar(&o.ItemsPerUser, "items-per-user", 24, "messages per mailbox")
	f.Float64Var(&o.Fault429, "fault-429", 0, "probability of a 429 with Retry-After per request")
	f.Float64Var(&o.Fault503, "fault-503", 0, "probability of a 503 per request")
	f.Float64Var(&o.FaultReset, "fault-reset", 0, "probability of a dropped connection per request")
	f.Float64Var(&o.ExpireDelta, "expire-delta", 0, "probability that a delta token has expired (410)")
	f.DurationVar(&o.Latency, "latency", 0, "added latency per request")
	f.DurationVar(&o.RetryAfter, "retry-after", 0, "Retry-After of throttling answers (default 1s)")
	f.IntVar(&o.LargeMailbox, "large-mailbox", 0, "make the first user's mailbox this many times --items-per-user")
	// Microsoft's published limits, enforced unless --no-limits; zero
	// takes Microsoft's figure (for the tenant's size).
	f.BoolVar(&o.NoLimits, "no-limits", false, "enforce none of Microsoft's throttling limits")
	f.Float64Var(&o.Limits.Scale, "limit-scale", 1, "divide every limit's window by this (the same shape in less time)")
	f.IntVar(&o.Limits.MailboxRequests, "mailbox-requests", 0, "Exchange requests per mailbox per 10 minutes (default 10,000)")
	f.IntVar(&o.Limits.MailboxConcurrency, "mailbox-concurrency", 0, "Exchange concurrent requests per mailbox (default 4)")
	f.IntVar(&o.Limits.SharePointUnits, "sharepoint-units", 0, "SharePoint resource units per minute (default by tenant size: 1,200 up to 1,000 licences)")
	f.IntVar(&o.Limits.TeamsMessagesRate, "teams-messages-rps", 0, "Teams channel and chat message reads per second (default 20)")
	f.IntVar(&o.Limits.TeamsOtherRate, "teams-rps", 0, "other Teams reads per second (default 30)")
	f.IntVar(&o.Limits.DirectoryUnits, "directory-units", 0, "directory resource units per 10 seconds (default by tenant size: 3,500 under 50 users)")
	var m faketenant.Mutation
	var mstate string
	mutate := &cobra.Command{
		Use:   "mutate --state DIR --scenario NAME [--user UPN] [--path PATH]",
		Short: "Change the running fake tenant: activity, departures, the disaster",
		Long:  "Scenarios: activity, disable-user, unlicense-user, delete-user, delete-folder. Prints one JSON line saying what changed.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFakeTenantMutate(g, mstate, m)
		},
	}
	mf := mutate.Flags()
	mf.StringVar(&mstate, "state", "", "the state directory of the running fake tenant (required)")
	mf.StringVar(&m.Scenario, "scenario", "", "what to do (required)")
	mf.StringVar(&m.User, "user", "", "the user (UPN) to act on")
	mf.StringVar(&m.Path, "path", "", "the folder path to act on")
	cmd.AddCommand(serve, mutate)
	return cmd
}

func runFakeTenantServe(ctx context.Context, g *globalOptions, o fakeTenantServeOptions) error {
	if o.State == "" {
		return holdfast.E("fake-tenant serve", holdfast.Invalid, "--state DIR is required")
	}
	if err := os.MkdirAll(o.State, 0o700); err != nil {
		return holdfast.E("fake-tenant serve", holdfast.IO, err)
	}
	srv, err := faketenant.New(o.Options, o.State)
	if err != nil {
		return holdfast.E("fake-tenant serve", err)
	}
	info, err := srv.Start(o.Addr)
	if err != nil {
		return holdfast.E("fake-tenant serve", holdfast.IO, err)
	}
	defer srv.Close()
	b, _ := json.Marshal(info)
	g.stdout.Write(append(b, '\n'))
	g.emitted = true
	<-ctx.Done()
	return nil
}

func runFakeTenantMutate(g *globalOptions, state string, m faketenant.Mutation) error {
	const op = "fake-tenant mutate"
	if state == "" || m.Scenario == "" {
		return holdfast.E(op, holdfast.Invalid, "--state DIR and --scenario NAME are required")
	}
	b, err := os.ReadFile(filepath.Join(state, "server.json"))
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err, "is the fake tenant running with this --state?")
	}
	var info faketenant.Info
	if err := json.Unmarshal(b, &info); err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	body, _ := json.Marshal(m)
	req, _ := http.NewRequest(http.MethodPost, info.AdminURL+"/mutate", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+info.ClientSecret)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Do(req)
	if err != nil {
		return holdfast.E(op, holdfast.IO, err, "is the fake tenant running?")
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return holdfast.Errorf(op, holdfast.Invalid, "%s", bytes.TrimSpace(out))
	}
	var res faketenant.MutationResult
	if err := json.Unmarshal(out, &res); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	line, _ := json.Marshal(res)
	g.stdout.Write(append(line, '\n'))
	g.emitted = true
	return nil
}
