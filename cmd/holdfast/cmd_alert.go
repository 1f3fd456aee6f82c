package main

import (
	"context"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/alert"
	"github.com/spf13/cobra"
)

func newAlertCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "alert", Short: "Where holdfast serve sends alerts: webhooks and e-mail",
		Long: `Alerts on a failed or partial backup, a verify that found damage, a failed job,
and policy findings at or above a severity (default high). Webhooks receive the
event as JSON with X-Holdfast-Event, X-Holdfast-Delivery and
X-Holdfast-Signature: sha256=HMAC-SHA256(secret, body); failed deliveries are
retried after 5 s, 30 s, 2 min and 10 min, and every attempt is listed at
GET /api/v1/alerts/deliveries. The channels live in <data>/alerts.json (mode 0600).
Events: ` + strings.Join(alert.Events, ", ") + `.`}
	var events, tenants []string
	var severity string
	add := &cobra.Command{
		Use:   "webhook-add URL [--event E ...] [--min-severity S] [--tenant T ...]",
		Short: "Add a webhook; its signing secret is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := alert.Load(g.Data)
			if err != nil {
				return err
			}
			w, err := c.AddWebhook(args[0], events, severity, tenants)
			if err != nil {
				return err
			}
			if err := alert.Save(g.Data, c); err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]any{"id": w.ID, "secret": w.Secret, "destination": alert.Where(w.URL)})
			}
			g.print("%s\n", w.Secret)
			g.say("Webhook %s to %s; the line above is its signing secret, shown only now: give it to the receiver.\n", w.ID, alert.Where(w.URL))
			return nil
		},
	}
	add.Flags().StringArrayVar(&events, "event", nil, "an event to send (repeat; default: every event)")
	add.Flags().StringVar(&severity, "min-severity", "high", "findings below this severity are not sent (low, medium, high, critical)")
	add.Flags().StringArrayVar(&tenants, "tenant", nil, "only this tenant's events (repeat; default: every tenant)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the channels (never their secrets or full URLs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := alert.Load(g.Data)
			if err != nil {
				return err
			}
			type view struct {
				ID          string   `json:"id"`
				Destination string   `json:"destination"`
				Events      []string `json:"events"`
				MinSeverity string   `json:"min_severity"`
				Tenants     []string `json:"tenants"`
			}
			out := []view{}
			for _, w := range c.Webhooks {
				out = append(out, view{w.ID, alert.Where(w.URL), w.Events, w.MinSeverity, w.Tenants})
			}
			if c.SMTP != nil {
				out = append(out, view{"smtp", "smtp " + c.SMTP.Addr + " to " + strings.Join(c.SMTP.To, ", "), c.SMTP.Events, c.SMTP.MinSeverity, nil})
			}
			if g.JSON {
				return g.emit(map[string]any{"channels": out})
			}
			for _, v := range out {
				g.print("%-14s %-40s events %s, findings from %s\n", v.ID, v.Destination, orAll(v.Events), v.MinSeverity)
			}
			return nil
		},
	}
	remove := &cobra.Command{
		Use:   "webhook-remove ID",
		Short: "Remove a webhook",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := alert.Load(g.Data)
			if err != nil {
				return err
			}
			for i, w := range c.Webhooks {
				if w.ID == args[0] {
					c.Webhooks = append(c.Webhooks[:i], c.Webhooks[i+1:]...)
					return alert.Save(g.Data, c)
				}
			}
			return holdfast.Errorf("alert webhook-remove", holdfast.NotFound, "no webhook %s (holdfast alert list)", args[0])
		},
	}
	var smtp alert.SMTP
	smtpSet := &cobra.Command{
		Use:   "smtp-set --addr HOST:PORT --from ADDR --to ADDR [--to ADDR ...] [--username U --password-env VAR]",
		Short: "Send alerts by e-mail too",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if smtp.Addr == "" || smtp.From == "" || len(smtp.To) == 0 {
				return holdfast.E("alert smtp-set", holdfast.Invalid, "--addr, --from and --to are required")
			}
			c, err := alert.Load(g.Data)
			if err != nil {
				return err
			}
			s := smtp
			c.SMTP = &s
			return alert.Save(g.Data, c)
		},
	}
	f := smtpSet.Flags()
	f.StringVar(&smtp.Addr, "addr", "", "SMTP server host:port (STARTTLS when it offers it)")
	f.StringVar(&smtp.From, "from", "", "sender address")
	f.StringArrayVar(&smtp.To, "to", nil, "recipient (repeat)")
	f.StringVar(&smtp.Username, "username", "", "SMTP user, for PLAIN authentication")
	f.StringVar(&smtp.PasswordEnv, "password-env", "HOLDFAST_SMTP_PASSWORD", "environment variable holding the SMTP password (never stored)")
	f.StringArrayVar(&smtp.Events, "event", nil, "an event to send (repeat; default: every event)")
	f.StringVar(&smtp.MinSeverity, "min-severity", "high", "findings below this severity are not sent")
	test := &cobra.Command{
		Use:   "test [--tenant T]",
		Short: "Send a test event on every channel and show each attempt",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n := alert.NewNotifier(g.Data, nil)
			n.Backoff = nil // one try each
			tenant := g.Tenant
			if tenant == "" {
				tenant = "test"
			}
			n.Notify(context.Background(), alert.Event{Event: alert.JobFailed, Tenant: tenant, Summary: "a test of holdfast's alert channels"})
			n.Wait()
			attempts := n.Attempts()
			if g.JSON {
				return g.emit(map[string]any{"attempts": attempts})
			}
			failed := 0
			for _, a := range attempts {
				status := "ok"
				if !a.OK {
					status, failed = "FAILED: "+a.Error, failed+1
				}
				g.print("%-50s %s\n", a.Channel, status)
			}
			if len(attempts) == 0 {
				g.print("No channel takes this event (holdfast alert webhook-add, smtp-set)\n")
			}
			if failed > 0 {
				return holdfast.Errorf("alert test", holdfast.Other, "%d of %d channels failed", failed, len(attempts))
			}
			return nil
		},
	}
	cmd.AddCommand(add, list, remove, smtpSet, test)
	return cmd
}
