package holdfast

import "fmt"

// MaxTenantNameLen bounds tenant names: they become directory and object names.
const MaxTenantNameLen = 63

// ValidateTenantName checks that name can name a tenant: 1–63 characters of
// lower-case letters, digits, '-' and '_', starting with a letter or digit.
func ValidateTenantName(name string) error {
	const op = "tenant name"
	if name == "" {
		return E(op, Invalid, "a tenant name is required (use --tenant NAME)")
	}
	if len(name) > MaxTenantNameLen {
		return Errorf(op, Invalid, "%q is longer than %d characters", name, MaxTenantNameLen)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_'))
		if !ok {
			return Errorf(op, Invalid, "%q: character %d (%q) is not allowed; use lower-case letters, digits, '-' and '_', starting with a letter or digit", name, i+1, c)
		}
	}
	return nil
}

// Tenant identifies one customer tenant. Its connection settings arrive
// with ingest.
type Tenant struct {
	Name string `json:"name"`
}

func (t Tenant) String() string { return fmt.Sprintf("tenant %s", t.Name) }
