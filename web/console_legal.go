package web

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/labstack/echo/v5"
)

// The legal team's pages: holds, and the exports of their cases.

func (s *Server) holdsPage(c *echo.Context, p *access.Principal) error {
	ctx := c.Request().Context()
	tenant := c.Param("tenant")
	holds, err := s.app.Holds(ctx, tenant)
	if err != nil {
		return err
	}
	// Custodians are picked from the tenant's accounts (people, not sites,
	// teams or chats).
	var accounts []string
	if st, err := s.app.KeptStatus(ctx, tenant); err == nil {
		for _, a := range st.Accounts {
			if a.Person() {
				accounts = append(accounts, a.UPN)
			}
		}
	}
	sort.Strings(accounts)
	sort.SliceStable(holds, func(i, j int) bool { return holds[i].Active() && !holds[j].Active() })
	return s.render(c, http.StatusOK, "holds.html", p, "Holds", map[string]any{"Tenant": tenant, "Holds": holds, "Accounts": accounts, "Done": c.QueryParam("done")})
}

// formDate reads a yyyy-mm-dd field (empty: none).
func formDate(c *echo.Context, field string) (*time.Time, error) {
	v := strings.TrimSpace(c.FormValue(field))
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, holdfast.Errorf("hold", holdfast.Invalid, "%s %q: want a date such as 2026-01-31", field, v)
	}
	return &t, nil
}

func (s *Server) placeHoldForm(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	form, err := c.FormValues()
	if err != nil {
		return holdfast.E("hold", holdfast.Invalid, err)
	}
	custodians := append(form["custodian"], strings.FieldsFunc(c.FormValue("custodians"), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' })...)
	o := app.HoldOptions{Case: c.FormValue("case"), Custodians: custodians, Query: c.FormValue("query"), Reason: c.FormValue("reason")}
	if o.From, err = formDate(c, "from"); err != nil {
		return err
	}
	if o.To, err = formDate(c, "to"); err != nil {
		return err
	}
	res, err := s.app.PlaceHold(c.Request().Context(), actor(c, p), tenant, o)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, consolePath+"/tenants/"+tenant+"/holds?done="+url.QueryEscape("Placed hold "+res.Case))
}

func (s *Server) releaseHoldForm(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	name, err := s.app.ReleaseHold(c.Request().Context(), actor(c, p), tenant, c.Param("case"), c.FormValue("reason"))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, consolePath+"/tenants/"+tenant+"/holds?done="+url.QueryEscape("Released hold "+name))
}

func (s *Server) exportsPage(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	list, err := s.listExports(tenant)
	if err != nil {
		return err
	}
	holds, err := s.app.Holds(c.Request().Context(), tenant)
	if err != nil {
		return err
	}
	var cases []string
	for _, h := range holds {
		if h.Active() {
			cases = append(cases, h.Case)
		}
	}
	return s.render(c, http.StatusOK, "exports.html", p, "Exports", map[string]any{"Tenant": tenant, "Exports": list, "Cases": cases,
		"Case": c.QueryParam("case"), "Done": c.QueryParam("done")})
}

func (s *Server) exportForm(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	id, _, err := s.startExport(c, p, app.ExportOptions{Case: c.FormValue("case"), Query: c.FormValue("query"), LoadFile: c.FormValue("load_file")})
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, consolePath+"/tenants/"+tenant+"/exports?done="+url.QueryEscape("Export "+id+" started"))
}
