package web

import (
	"bytes"
	"net/http"

	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/policy"
	"github.com/labstack/echo/v5"
)

// loadPolicies is the embedded policy bundle.
func loadPolicies() (*policy.Bundle, error) { return policy.LoadBundle("") }

// policies are the policy bundle's files and hash: what findings are
// evaluated against.
func (s *Server) policies(c *echo.Context, p *access.Principal) error {
	b, err := loadPolicies()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"policy_hash": b.Hash, "files": b.Files})
}

// testPolicies runs the bundle's own Rego tests.
func (s *Server) testPolicies(c *echo.Context, p *access.Principal) error {
	b, err := loadPolicies()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	pass, fail, err := b.Test(c.Request().Context(), &out, false)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"passed": pass, "failed": fail, "output": out.String()})
}

func (s *Server) policySettings(c *echo.Context, p *access.Principal) error {
	st, err := s.app.PolicySettings(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) setPolicySettings(c *echo.Context, p *access.Principal) error {
	var b struct {
		Profile       *string  `json:"profile"`
		RetentionDays *int     `json:"retention_days"`
		RPOHours      *float64 `json:"rpo_hours"`
		Workloads     *string  `json:"workloads"` // comma-separated
		RequiredYears *int     `json:"required_years"`
		RequireWORM   *bool    `json:"require_worm"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	st, err := s.app.SetPolicy(c.Request().Context(), actor(c, p), c.Param("tenant"), app.SettingsChange{Profile: b.Profile, RetentionDays: b.RetentionDays,
		RPOHours: b.RPOHours, Workloads: b.Workloads, RequiredYears: b.RequiredYears, RequireWORM: b.RequireWORM})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// accounts are the tenant's accounts with their state, kind and last
// capture per workload (coverage).
func (s *Server) accounts(c *echo.Context, p *access.Principal) error {
	st, err := s.app.KeptStatus(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"accounts": st.Accounts})
}
