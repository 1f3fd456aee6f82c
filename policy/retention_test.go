package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/record"
)

func TestRetentionSchedule(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	settings := record.PolicySettings{Profile: "none", RetentionDays: 3000, RPOHours: 24, Workloads: []string{"mail"}}
	for _, tc := range []struct {
		name, data, rego string
		profile          string
		want             string // the rules' names, or the error's words
		wantErr          bool
	}{
		{name: "settings only", want: "retention-days"},
		{name: "data for the tenant and for all",
			data: `{"holdfast": {"retention_schedule": {"contoso": [{"name": "mail-3y", "workloads": ["mail"], "query": "-subject:contract", "keep_days": 1100, "from": "received"}],
				"*": [{"name": "departed-1y", "keep_days": 365, "from": "departure"}], "fabrikam": [{"name": "other", "keep_days": 1, "from": "received"}]}}}`,
			want: "departed-1y mail-3y retention-days"},
		{name: "a rule in Rego", rego: "package holdfast.retention\nimport rego.v1\nrules contains {\"name\": \"teams-2y\", \"workloads\": [\"teams\"], \"keep_days\": 731, \"from\": \"modified\"} if input.tenant == \"contoso\"\n",
			want: "retention-days teams-2y"},
		{name: "below the profile", profile: "sox", want: "2557 days (7 years) the sox profile requires", wantErr: true},
		{name: "unknown workload", data: `{"holdfast": {"retention_schedule": {"*": [{"name": "x", "workloads": ["fax"], "keep_days": 10, "from": "received"}]}}}`, want: `unknown workload "fax"`, wantErr: true},
		{name: "bad query", data: `{"holdfast": {"retention_schedule": {"*": [{"name": "x", "query": "subject:(", "keep_days": 10, "from": "received"}]}}}`, want: `retention rule "x"`, wantErr: true},
		{name: "unknown field", data: `{"holdfast": {"retention_schedule": {"*": [{"name": "x", "keep_years": 10, "keep_days": 10, "from": "received"}]}}}`, want: "keep_years", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.data != "" {
				os.WriteFile(filepath.Join(dir, "data.json"), []byte(tc.data), 0o600)
			}
			if tc.rego != "" {
				os.WriteFile(filepath.Join(dir, "mine.rego"), []byte(tc.rego), 0o600)
			}
			if tc.data == "" && tc.rego == "" {
				dir = "" // the embedded bundle alone
			}
			b, err := LoadBundle(dir)
			if err != nil {
				t.Fatal(err)
			}
			s := settings
			if tc.profile != "" {
				s.Profile, s.RetentionDays = tc.profile, 2000
			}
			rules, err := b.Retention(ctx, RetentionInput{Tenant: "contoso", Settings: s, At: at})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, %v; want an error with %q", rules, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range rules {
				names = append(names, r.Name)
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Errorf("rules %q, want %q", got, tc.want)
			}
		})
	}
}
