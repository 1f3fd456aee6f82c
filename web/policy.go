package web

import "github.com/holdfast/holdfast/policy"

// loadPolicies is the embedded policy bundle.
func loadPolicies() (*policy.Bundle, error) { return policy.LoadBundle("") }
