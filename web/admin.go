package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/labstack/echo/v5"
)

func (s *Server) users(c *echo.Context, p *access.Principal) error {
	list, err := s.access.Users()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"users": list})
}

func (s *Server) addUser(c *echo.Context, p *access.Principal) error {
	var b struct {
		Name     string   `json:"name"`
		Role     string   `json:"role"`
		Tenants  []string `json:"tenants"`
		Password string   `json:"password"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	role, err := access.ParseRole(b.Role)
	if err != nil {
		return err
	}
	if err := s.app.AddUser(c.Request().Context(), actor(c, p), b.Name, role, b.Tenants, b.Password); err != nil {
		return err
	}
	s.log.Info("user added", "user", b.Name, "role", role, "by", p.User, "address", c.RealIP())
	return c.JSON(http.StatusCreated, map[string]any{"name": b.Name, "role": role, "tenants": b.Tenants})
}

// setUser disables or enables a user: {"disabled": true}.
func (s *Server) setUser(c *echo.Context, p *access.Principal) error {
	var b struct {
		Disabled *bool `json:"disabled"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.Disabled == nil {
		return holdfast.E("user", holdfast.Invalid, `give {"disabled": true} or {"disabled": false}`)
	}
	name := c.Param("name")
	if err := s.app.SetUserDisabled(c.Request().Context(), actor(c, p), name, *b.Disabled); err != nil {
		return err
	}
	s.log.Info("user changed", "user", strconv.QuoteToASCII(name), "disabled", *b.Disabled, "by", p.User, "address", c.RealIP())
	users, err := s.access.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name == name {
			return c.JSON(http.StatusOK, u)
		}
	}
	return holdfast.Errorf("user", holdfast.NotFound, "no user %s", name)
}

func (s *Server) tokens(c *echo.Context, p *access.Principal) error {
	list, err := s.access.Tokens()
	if err != nil {
		return err
	}
	for i := range list {
		list[i].Hash = "" // not a secret, but nobody's business over the API
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) createToken(c *echo.Context, p *access.Principal) error {
	var b struct {
		User    string   `json:"user"`
		Name    string   `json:"name"`
		Role    string   `json:"role"`
		Tenants []string `json:"tenants"`
		Days    int      `json:"expires_days"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	var role access.Role
	if b.Role != "" {
		var err error
		if role, err = access.ParseRole(b.Role); err != nil {
			return err
		}
	}
	if b.Days == 0 {
		b.Days = 90
	}
	secret, tok, err := s.app.CreateToken(c.Request().Context(), actor(c, p), b.User, b.Name, role, b.Tenants, time.Duration(b.Days)*24*time.Hour)
	if err != nil {
		return err
	}
	s.log.Info("token created", "token", tok.ID, "user", tok.User, "by", p.User, "address", c.RealIP())
	tok.Hash = ""
	return c.JSON(http.StatusCreated, map[string]any{"token": secret, "about": tok})
}

func (s *Server) revokeToken(c *echo.Context, p *access.Principal) error {
	id := c.Param("id")
	if id == "" {
		return holdfast.E("token revoke", holdfast.Invalid, "no token id")
	}
	if err := s.app.RevokeToken(c.Request().Context(), actor(c, p), id); err != nil {
		return err
	}
	s.log.Info("token revoked", "token", id, "by", p.User, "address", c.RealIP())
	return c.NoContent(http.StatusNoContent)
}
