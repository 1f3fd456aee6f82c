package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newUserCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "The service's users: admin, technician, legal, auditor"}
	var role string
	var tenants []string
	add := &cobra.Command{
		Use:   "add NAME --role R [--tenant T ...]",
		Short: "Add a user (password from $HOLDFAST_PASSWORD, the terminal, or one line of stdin)",
		Long: `Add a user of the service's API. Roles: admin (everything, every tenant),
technician (tenants, backups, schedules, restores, status, findings; no content,
no holds), legal (search, item content, holds, exports), auditor (read-only:
reports, verify results, checkpoints and proofs, findings, the audit log). Every
role but admin works on the tenants named with --tenant. The password (at least
12 characters) is stored as an argon2id hash in <data>/access.json (mode 0600).
The change is recorded (access.changed) in the log of every tenant the user
reaches, every tenant for an admin, before it takes effect.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := access.ParseRole(role)
			if err != nil {
				return err
			}
			pw, err := readPassword(g, true)
			if err != nil {
				return err
			}
			a, err := g.application()
			if err != nil {
				return err
			}
			if err := a.AddUser(cmd.Context(), g.actor(), args[0], r, tenants, pw); err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]any{"user": args[0], "role": r, "tenants": tenants})
			}
			g.print("Added %s %s\n", r, args[0])
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin, technician, legal or auditor (required)")
	add.Flags().StringArrayVar(&tenants, "tenant", nil, "a tenant the user works on (repeat for more; none for an admin)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			users, err := app.New(g.Data, app.Options{}).Access().Users()
			if err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]any{"users": users})
			}
			for _, u := range users {
				g.print("%-24s %-10s %s\n", u.Name, u.Role, orAll(u.Tenants))
			}
			return nil
		},
	}
	enrol := &cobra.Command{
		Use:   "totp NAME",
		Short: "Give a user a (new) second factor: prints the otpauth:// URL for an authenticator app, once",
		Long: `Enrol a TOTP second factor (RFC 6238: 30 s, 6 digits) for a user; an admin
cannot sign in without one. The otpauth:// URL and its secret are printed once:
add them to an authenticator app (as a QR code or by hand). Enrolling again
replaces the factor.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.application()
			if err != nil {
				return err
			}
			url, secret, err := a.EnrollTOTP(cmd.Context(), g.actor(), args[0])
			if err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]string{"user": args[0], "otpauth_url": url, "secret": secret})
			}
			g.print("%s\n", url)
			g.say("Secret %s for %s: add it to an authenticator app now; it is not shown again.\n", secret, args[0])
			return nil
		},
	}
	setDisabled := func(disabled bool) *cobra.Command {
		verb, short := "enable", "Let a disabled user sign in again"
		if disabled {
			verb, short = "disable", "Stop a user: no sign-in; their tokens and sessions stop working at once (the user is kept: the evidence names them)"
		}
		return &cobra.Command{
			Use:   verb + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				a, err := g.application()
				if err != nil {
					return err
				}
				if err := a.SetUserDisabled(cmd.Context(), g.actor(), args[0], disabled); err != nil {
					return err
				}
				if g.JSON {
					return g.emit(map[string]any{"user": args[0], "disabled": disabled})
				}
				g.print("User %s %sd\n", args[0], verb)
				return nil
			},
		}
	}
	cmd.AddCommand(add, list, enrol, setDisabled(true), setDisabled(false))
	return cmd
}

func orAll(tenants []string) string {
	if len(tenants) == 0 {
		return "every tenant"
	}
	return strings.Join(tenants, ", ")
}

// readPassword takes a password from $HOLDFAST_PASSWORD, the terminal
// (asked twice when it is a new one), or one line of stdin.
func readPassword(g *globalOptions, isNew bool) (string, error) {
	const op = "password"
	if pw := os.Getenv("HOLDFAST_PASSWORD"); pw != "" {
		return pw, nil
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		g.say("Password: ")
		a, err := term.ReadPassword(int(os.Stdin.Fd()))
		b, err2 := a, error(nil)
		if isNew {
			g.say("\nAgain: ")
			b, err2 = term.ReadPassword(int(os.Stdin.Fd()))
		}
		g.say("\n")
		if err != nil || err2 != nil {
			return "", holdfast.E(op, holdfast.IO, "could not read the password from the terminal")
		}
		if string(a) != string(b) {
			return "", holdfast.E(op, holdfast.Invalid, "the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", holdfast.E(op, holdfast.Invalid, "no password: set HOLDFAST_PASSWORD or give it on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newTokenCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "API tokens for scripts and PSA tools"}
	var user, name, role, expires string
	var tenants []string
	create := &cobra.Command{
		Use:   "create --user U [--name N] [--role R] [--tenant T ...] [--expires 90d]",
		Short: "Issue a token (printed once; only its hash is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var r access.Role
			if role != "" {
				var err error
				if r, err = access.ParseRole(role); err != nil {
					return err
				}
			}
			ttl, err := parseDays(expires)
			if err != nil {
				return err
			}
			a, err := g.application()
			if err != nil {
				return err
			}
			secret, tok, err := a.CreateToken(cmd.Context(), g.actor(), user, name, r, tenants, ttl)
			if err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]any{"token": secret, "id": tok.ID, "role": tok.Role, "tenants": tok.Tenants, "expires": tok.Expires})
			}
			g.print("%s\n", secret)
			g.say("Token %s for %s (%s, %s), expires %s. It is shown only now: store it in your secret manager.\n", tok.ID, tok.User, tok.Role, orAll(tok.Tenants), tok.Expires.Format("2006-01-02"))
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&user, "user", "", "the user the token acts for (required)")
	f.StringVar(&name, "name", "", "what the token is for (e.g. the PSA's name)")
	f.StringVar(&role, "role", "", "a role no wider than the user's (default: the user's)")
	f.StringArrayVar(&tenants, "tenant", nil, "tenants, among the user's (default: the user's)")
	f.StringVar(&expires, "expires", "90d", "lifetime in days (at most 730d)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			toks, err := app.New(g.Data, app.Options{}).Access().Tokens()
			if err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]any{"tokens": toks})
			}
			for _, t := range toks {
				g.print("%-16s %-20s %-16s %-10s expires %s  %s\n", t.ID, t.Name, t.User, t.Role, t.Expires.Format("2006-01-02"), orAll(t.Tenants))
			}
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.application()
			if err != nil {
				return err
			}
			if err := a.RevokeToken(cmd.Context(), g.actor(), args[0]); err != nil {
				return err
			}
			g.print("Revoked token %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// parseDays reads a lifetime such as 90d.
func parseDays(s string) (time.Duration, error) {
	d, ok := strings.CutSuffix(s, "d")
	n, err := strconv.Atoi(d)
	if !ok || err != nil || n < 1 {
		return 0, holdfast.Errorf("--expires", holdfast.Invalid, "%q: give days, e.g. 90d", s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}
