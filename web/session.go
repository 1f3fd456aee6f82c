package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/labstack/echo/v5"
)

// Sessions are for people (the console); scripts use tokens. A session
// lives in the service's memory: a restart signs everyone out.
const (
	cookieName  = "holdfast_session"
	csrfHeader  = "X-CSRF-Token"
	sessionIdle = 30 * time.Minute
	sessionMax  = 12 * time.Hour
	lockAfter   = 5                // failed sign-ins of one user name …
	lockWindow  = 15 * time.Minute // … within this window lock it for as long
	ipLimit     = 30               // failed sign-ins from one address within the window: 429
)

type session struct {
	id, csrf      string
	p             *access.Principal
	created, seen time.Time
}

type sessions struct {
	mu    sync.Mutex
	now   func() time.Time
	byID  map[string]*session
	fails map[string][]time.Time // by "user:NAME" and "ip:ADDR"
	codes map[string]string      // the last TOTP code each user signed in with: never twice
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, byID: map[string]*session{}, fails: map[string][]time.Time{}, codes: map[string]string{}}
}

// recent returns the failures of key within the window, forgetting older ones.
func (ss *sessions) recent(key string) int {
	cut := ss.now().Add(-lockWindow)
	f := ss.fails[key]
	for len(f) > 0 && f[0].Before(cut) {
		f = f[1:]
	}
	ss.fails[key] = f
	return len(f)
}

// login checks a sign-in; every failure but throttling looks alike.
func (ss *sessions) login(acc *access.Store, name, password, code, ip string) (*session, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	userKey, ipKey := "user:"+strings.ToLower(name), "ip:"+ip
	if ss.recent(ipKey) >= ipLimit {
		return nil, errThrottled
	}
	fail := func(err error) (*session, error) {
		now := ss.now()
		ss.fails[userKey] = append(ss.fails[userKey], now)
		ss.fails[ipKey] = append(ss.fails[ipKey], now)
		ss.sweep()
		return nil, err
	}
	if ss.recent(userKey) >= lockAfter {
		return fail(access.ErrUnauthenticated) // locked: the same answer, nothing checked
	}
	p, err := acc.CheckPassword(name, password, code)
	if errors.Is(err, access.ErrNeedsTOTP) {
		return nil, err
	}
	if err != nil {
		return fail(access.ErrUnauthenticated)
	}
	if code != "" && ss.codes[p.User] == code {
		return fail(access.ErrUnauthenticated) // a code is good once
	}
	if code != "" {
		ss.codes[p.User] = code
	}
	delete(ss.fails, userKey)
	now := ss.now()
	s := &session{id: holdfast.RandomSecret(32), csrf: holdfast.RandomSecret(32), p: p, created: now, seen: now}
	ss.byID[s.id] = s
	ss.sweep()
	return s, nil
}

// maxFailKeys bounds the failure book: names and addresses an attacker
// sprays are forgotten once their window has passed.
const maxFailKeys = 10000

// sweep forgets failures older than the window (and ended sessions) when
// the books grow large.
func (ss *sessions) sweep() {
	if len(ss.fails) > maxFailKeys {
		for k := range ss.fails {
			if ss.recent(k) == 0 {
				delete(ss.fails, k)
			}
		}
	}
	if len(ss.byID) > maxFailKeys {
		now := ss.now()
		for id, s := range ss.byID {
			if now.Sub(s.seen) > sessionIdle || now.Sub(s.created) > sessionMax {
				delete(ss.byID, id)
			}
		}
	}
}

// get returns a live session, sliding its idle timeout.
func (ss *sessions) get(id string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[id]
	now := ss.now()
	if s == nil || now.Sub(s.seen) > sessionIdle || now.Sub(s.created) > sessionMax {
		delete(ss.byID, id)
		return nil
	}
	s.seen = now
	return s
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

var errThrottled = holdfast.E("sign in", holdfast.Locked, "too many failed sign-ins from this address: wait 15 minutes")

var errCSRF = holdfast.E("api", holdfast.Permission, "missing or wrong "+csrfHeader+" header: a change made with a session cookie carries the session's CSRF token")

// principal authenticates a request by bearer token or session cookie;
// a cookie-authenticated change must carry the session's CSRF token.
func (s *Server) principal(c *echo.Context) (*access.Principal, *session, error) {
	req := c.Request()
	if auth := req.Header.Get("Authorization"); auth != "" {
		bearer, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return nil, nil, access.ErrUnauthenticated
		}
		p, err := s.access.Authenticate(strings.TrimSpace(bearer))
		return p, nil, err
	}
	ck, err := req.Cookie(cookieName)
	if err != nil {
		return nil, nil, access.ErrUnauthenticated
	}
	ses := s.sessions.get(ck.Value)
	if ses == nil {
		return nil, nil, access.ErrUnauthenticated
	}
	if !s.access.Enabled(ses.p.User) { // disabled since signing in
		s.sessions.end(ck.Value)
		return nil, nil, access.ErrUnauthenticated
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		// The API's clients send the header; the console's forms, a field.
		token := req.Header.Get(csrfHeader)
		if token == "" && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			token = c.FormValue("csrf_token")
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(ses.csrf)) != 1 {
			return nil, nil, errCSRF
		}
	}
	return ses.p, ses, nil
}

func (s *Server) login(c *echo.Context) error {
	var b struct {
		User     string `json:"user"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	ses, err := s.signIn(c, b.User, b.Password, b.TOTP)
	if errors.Is(err, errThrottled) {
		return echo.NewHTTPError(http.StatusTooManyRequests, err.Error())
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"principal": ses.p, "csrf_token": ses.csrf})
}

// signIn checks a sign-in and starts a new session in a cookie: the API's
// and the console's one way in.
func (s *Server) signIn(c *echo.Context, user, password, code string) (*session, error) {
	ses, err := s.sessions.login(s.access, user, password, code, c.RealIP())
	if errors.Is(err, errThrottled) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(lockWindow.Seconds())))
		return nil, err
	}
	if err != nil {
		// The name is the client's: quoted, so no control or bidi
		// character reaches a log viewer raw.
		s.log.Warn("sign-in refused", "user", strconv.QuoteToASCII(user), "address", c.RealIP())
		return nil, err
	}
	// A new session at every sign-in: a cookie planted before it is worth nothing.
	if old, err := c.Request().Cookie(cookieName); err == nil {
		s.sessions.end(old.Value)
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: cookieName, Value: ses.id, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionMax.Seconds())})
	return ses, nil
}

// endSession ends the request's session and clears its cookie.
func (s *Server) endSession(c *echo.Context) {
	if ck, err := c.Request().Cookie(cookieName); err == nil {
		s.sessions.end(ck.Value)
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

func (s *Server) logout(c *echo.Context, p *access.Principal) error {
	s.endSession(c)
	return c.JSON(http.StatusOK, map[string]string{"status": "signed out"})
}

func (s *Server) session(c *echo.Context, p *access.Principal) error {
	out := map[string]any{"principal": p}
	if ck, err := c.Request().Cookie(cookieName); err == nil {
		if ses := s.sessions.get(ck.Value); ses != nil {
			out["csrf_token"] = ses.csrf
		}
	}
	return c.JSON(http.StatusOK, out)
}
