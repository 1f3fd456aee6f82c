package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/disposal"
	"github.com/labstack/echo/v5"
)

// The API and console of disposal (docs/RETENTION.md): the schedule is the
// embedded policy bundle's, with the tenant's settings.

// disposalRow is a proposal and its state, as the API lists it.
type disposalRow struct {
	*disposal.Proposal
	State string `json:"state"`
}

func (s *Server) disposals(c *echo.Context, p *access.Principal) error {
	list, err := s.app.Disposals(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	rows := []disposalRow{}
	for _, d := range list {
		rows = append(rows, disposalRow{d, d.State()})
	}
	return c.JSON(http.StatusOK, map[string]any{"disposals": rows})
}

func (s *Server) disposalPlan(c *echo.Context, p *access.Principal) error {
	at, err := app.ParseAsOf(c.QueryParam("as_of"))
	if err != nil {
		return err
	}
	plan, err := s.app.DisposalPlan(c.Request().Context(), actor(c, p), c.Param("tenant"), app.DisposalOptions{AsOf: at})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, plan)
}

func (s *Server) proposeDisposal(c *echo.Context, p *access.Principal) error {
	var b struct {
		AsOf   string `json:"as_of"`
		Reason string `json:"reason"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	at, err := app.ParseAsOf(b.AsOf)
	if err != nil {
		return err
	}
	idx, plan, err := s.app.ProposeDisposal(c.Request().Context(), actor(c, p), c.Param("tenant"), app.DisposalOptions{AsOf: at, Reason: b.Reason})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"proposal": idx, "plan": plan})
}

func proposalParam(c *echo.Context) (uint64, error) {
	n, err := strconv.ParseUint(c.Param("proposal"), 10, 64)
	if err != nil {
		return 0, holdfast.Errorf("disposal", holdfast.Invalid, "proposal %q is not a record index", c.Param("proposal"))
	}
	return n, nil
}

func (s *Server) reviewDisposal(c *echo.Context, p *access.Principal) error {
	n, err := proposalParam(c)
	if err != nil {
		return err
	}
	var b struct {
		Decision string `json:"decision"` // approved or rejected
		Reason   string `json:"reason"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	idx, err := s.app.ReviewDisposal(c.Request().Context(), actor(c, p), string(p.Role), c.Param("tenant"), n, b.Decision, b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"proposal": n, "review": idx, "decision": b.Decision})
}

func (s *Server) executeDisposal(c *echo.Context, p *access.Principal) error {
	n, err := proposalParam(c)
	if err != nil {
		return err
	}
	res, err := s.app.ExecuteDisposal(c.Request().Context(), actor(c, p), c.Param("tenant"), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// The console's page: the proposals, a plan on request, and the forms
// each role may use.

func (s *Server) disposalsPage(c *echo.Context, p *access.Principal) error {
	ctx := c.Request().Context()
	tenant := c.Param("tenant")
	list, err := s.app.Disposals(ctx, tenant)
	if err != nil {
		return err
	}
	rows := make([]disposalRow, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- { // newest first
		rows = append(rows, disposalRow{list[i], list[i].State()})
	}
	data := map[string]any{"Tenant": tenant, "Disposals": rows, "Done": c.QueryParam("done"), "AsOf": c.QueryParam("as_of")}
	if c.QueryParam("plan") != "" && access.Allowed(p.Role, access.ProposeDisposal) {
		at, err := app.ParseAsOf(c.QueryParam("as_of"))
		if err != nil {
			return err
		}
		plan, err := s.app.DisposalPlan(ctx, actor(c, p), tenant, app.DisposalOptions{AsOf: at})
		if err != nil {
			return err
		}
		data["Plan"] = plan
	}
	return s.render(c, http.StatusOK, "disposals.html", p, "Disposals", data)
}

func (s *Server) proposeDisposalForm(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	at, err := app.ParseAsOf(c.FormValue("as_of"))
	if err != nil {
		return err
	}
	idx, _, err := s.app.ProposeDisposal(c.Request().Context(), actor(c, p), tenant, app.DisposalOptions{AsOf: at, Reason: c.FormValue("reason")})
	if err != nil {
		return err
	}
	return back(c, "/tenants/"+tenant+"/disposals", "Proposed disposal "+strconv.FormatUint(idx, 10)+": a second person with the legal role reviews it")
}

func (s *Server) reviewDisposalForm(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	n, err := proposalParam(c)
	if err != nil {
		return err
	}
	decision := c.FormValue("decision")
	if _, err := s.app.ReviewDisposal(c.Request().Context(), actor(c, p), string(p.Role), tenant, n, decision, c.FormValue("reason")); err != nil {
		return err
	}
	return back(c, "/tenants/"+tenant+"/disposals", "Disposal "+strconv.FormatUint(n, 10)+" "+decision)
}

func (s *Server) executeDisposalForm(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	n, err := proposalParam(c)
	if err != nil {
		return err
	}
	res, err := s.app.ExecuteDisposal(c.Request().Context(), actor(c, p), tenant, n)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, consolePath+"/tenants/"+tenant+"/disposals?done="+url.QueryEscape(
		"Executed disposal "+strconv.FormatUint(n, 10)+": "+strconv.Itoa(res.Versions)+" item versions disposed of"))
}
