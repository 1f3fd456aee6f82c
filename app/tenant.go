package app

import (
	"context"
	"os"
	"sort"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/store"
)

// Init creates the data directory, its log signing key and the report
// signer (a self-signed certificate named signerName; holdfast signer
// import replaces it with a CA-issued pair). On an existing directory it
// changes nothing.
func (a *App) Init(signerName string) (store.InitResult, error) {
	res, err := a.data.Init()
	if err != nil {
		return res, err
	}
	if err := reports.CreateSigner(a.SignerDir(), signerName); err != nil {
		return res, err
	}
	return res, nil
}

// AddTenant creates a tenant's repository (its first record is
// tenant.created), encrypted when the App has a master key.
func (a *App) AddTenant(ctx context.Context, who Actor, name string) (store.Config, error) {
	return a.AddTenantAt(ctx, who, name, nil)
}

// AddTenantAt is AddTenant with the repository in remote (an S3 bucket)
// when it is not nil.
func (a *App) AddTenantAt(ctx context.Context, who Actor, name string, remote *store.Remote) (store.Config, error) {
	if err := who.validate("tenant add"); err != nil {
		return store.Config{}, err
	}
	return a.data.AddTenant(ctx, name, store.AddTenantOptions{MasterKey: a.opts.MasterKey, Remote: remote})
}

// Tenants lists the tenants in the data directory.
func (a *App) Tenants() ([]string, error) {
	names, err := a.data.Tenants()
	if names == nil {
		names = []string{}
	}
	return names, err
}

// TenantDir is where a tenant's repository lives.
func (a *App) TenantDir(name string) string { return a.data.TenantDir(name) }

// HasTenant reports whether the tenant's repository exists.
func (a *App) HasTenant(name string) bool {
	_, err := os.Stat(a.data.TenantDir(name))
	return err == nil
}

// TenantProbe is a connection to a tenant as its test sees it (Graph,
// wired by the front door).
type TenantProbe interface {
	Roles(ctx context.Context) ([]string, error)
	Accounts(ctx context.Context) ([]holdfast.Account, error)
}

// TenantTest is what a connection test found.
type TenantTest struct {
	Tenant    string              `json:"tenant"`
	OK        bool                `json:"ok"`
	Roles     []string            `json:"roles"`
	Accounts  int                 `json:"accounts"`
	Departed  int                 `json:"departed"`
	Missing   map[string][]string `json:"missing_permissions"`
	Workloads map[string]bool     `json:"workloads"`
}

// TestTenant authenticates to the tenant, reads the application
// permissions its token holds and, with directory access, counts its
// accounts. required lists, per workload, the permissions it needs: each
// row a set of alternatives, any one of which is enough. Missing
// permissions are a Permission error that names the workloads, with the
// result.
func (a *App) TestTenant(ctx context.Context, tenant string, probe TenantProbe, required map[string][][]string) (*TenantTest, error) {
	if err := holdfast.ValidateTenantName(tenant); err != nil {
		return nil, err
	}
	roles, err := probe.Roles(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(roles)
	res := &TenantTest{Tenant: tenant, Roles: roles, Missing: MissingPermissions(required, roles), Workloads: map[string]bool{}}
	for w := range required {
		res.Workloads[w] = len(res.Missing[w]) == 0
	}
	if res.Workloads["directory"] {
		accts, err := probe.Accounts(ctx)
		if err != nil {
			return nil, err
		}
		res.Accounts = len(accts)
		for _, a := range accts {
			if a.State() != holdfast.StateActive {
				res.Departed++
			}
		}
	}
	res.OK = len(res.Missing) == 0
	if !res.OK {
		var ws []string
		for w := range res.Missing {
			ws = append(ws, w)
		}
		sort.Strings(ws)
		return res, holdfast.Errorf("tenant test", holdfast.Permission, "the app lacks permissions for: %s", strings.Join(ws, ", "))
	}
	return res, nil
}

// MissingPermissions returns, for each workload, the first of each set of
// alternative permissions none of which is granted.
func MissingPermissions(required map[string][][]string, roles []string) map[string][]string {
	have := map[string]bool{}
	for _, r := range roles {
		have[r] = true
	}
	out := map[string][]string{}
	for w, rows := range required {
		for _, alts := range rows {
			ok := false
			for _, a := range alts {
				ok = ok || have[a]
			}
			if !ok {
				out[w] = append(out[w], alts[0])
			}
		}
	}
	return out
}

// Access is the data directory's users and tokens (the service's).
func (a *App) Access() *access.Store { return access.Open(a.data.Dir, a.opts.Now) }
