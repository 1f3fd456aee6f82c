package app

import (
	"context"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/record"
)

// The service's users and tokens are changed here, and every change is an
// access.changed record in the log of each tenant it reaches (every tenant
// for an admin), written before the change takes effect: an auditor reads
// in a tenant's own log who could reach its data, from when, and who
// granted it.

// AddUser adds a user of the service.
func (a *App) AddUser(ctx context.Context, who Actor, name string, role access.Role, tenants []string, password string) error {
	const op = "user add"
	if err := who.validate(op); err != nil {
		return err
	}
	return a.Access().AddUser(name, role, tenants, password, a.recordAccess(ctx, who, op))
}

// SetUserDisabled disables a user (their tokens and sessions stop working
// at once) or enables them again.
func (a *App) SetUserDisabled(ctx context.Context, who Actor, name string, disabled bool) error {
	const op = "user disable"
	if err := who.validate(op); err != nil {
		return err
	}
	return a.Access().SetDisabled(name, disabled, a.recordAccess(ctx, who, op))
}

// ChangePassword changes a user's own password, given the current one.
func (a *App) ChangePassword(ctx context.Context, who Actor, name, current, password string) error {
	const op = "password change"
	if err := who.validate(op); err != nil {
		return err
	}
	return a.Access().ChangePassword(name, current, password, a.recordAccess(ctx, who, op))
}

// EnrollTOTP gives a user a new second factor; the URL and secret are
// returned once.
func (a *App) EnrollTOTP(ctx context.Context, who Actor, name string) (url, secret string, err error) {
	const op = "user totp"
	if err := who.validate(op); err != nil {
		return "", "", err
	}
	return a.Access().EnrollTOTP(name, a.recordAccess(ctx, who, op))
}

// CreateToken issues an API token; the secret is returned once.
func (a *App) CreateToken(ctx context.Context, who Actor, user, name string, role access.Role, tenants []string, ttl time.Duration) (string, access.Token, error) {
	const op = "token create"
	if err := who.validate(op); err != nil {
		return "", access.Token{}, err
	}
	return a.Access().CreateToken(user, name, role, tenants, ttl, a.recordAccess(ctx, who, op))
}

// RevokeToken removes an API token.
func (a *App) RevokeToken(ctx context.Context, who Actor, id string) error {
	const op = "token revoke"
	if err := who.validate(op); err != nil {
		return err
	}
	return a.Access().RevokeToken(id, a.recordAccess(ctx, who, op))
}

// recordAccess writes a change into the log of every tenant it reaches,
// beside a running backup if need be (the record is deposited). A tenant
// named that does not exist refuses the change before any record is
// written.
func (a *App) recordAccess(ctx context.Context, who Actor, op string) access.Recorder {
	return func(ch access.Change) error {
		tenants := ch.Tenants
		if len(tenants) == 0 {
			all, err := a.Tenants()
			if err != nil {
				return holdfast.E(op, err)
			}
			tenants = all
		}
		for _, t := range tenants {
			if !a.HasTenant(t) {
				return holdfast.Errorf(op, holdfast.NotFound, "no tenant %s in %s", t, a.data.Dir)
			}
		}
		data := record.AccessChanged{Change: ch.Change, User: ch.User, Role: string(ch.Role), Tenants: ch.Tenants, Token: ch.Token, Expires: ch.Expires, Actor: who.String()}
		for _, t := range tenants {
			if err := a.logAccess(ctx, t, data); err != nil {
				return holdfast.Errorf(op, holdfast.KindOf(err), "recording the change in tenant %s's log: %w (the change was not made)", t, err)
			}
		}
		return nil
	}
}

func (a *App) logAccess(ctx context.Context, tenant string, data record.AccessChanged) error {
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return err
	}
	defer a.closeStore(ctx, s)
	_, err = logRead(ctx, s, record.TypeAccessChanged, data)
	return err
}
