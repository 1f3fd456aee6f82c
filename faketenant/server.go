package faketenant

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

// Info is what a client needs to connect, printed by holdfast fake-tenant
// serve as one JSON line.
type Info struct {
	GraphEndpoint string   `json:"graph_endpoint"` // service root, without /v1.0
	LoginEndpoint string   `json:"login_endpoint"` // authority host
	CAFile        string   `json:"ca_file,omitempty"`
	TenantID      string   `json:"tenant_id"`
	ClientID      string   `json:"client_id"`
	ClientSecret  string   `json:"client_secret"`
	AdminURL      string   `json:"admin_url"`
	Users         []string `json:"users"`    // employees
	Departed      []string `json:"departed"` // employees who left (disabled, unlicensed, deleted)
	// Accounts that are not employees, by kind: shared, room, guest.
	Others map[string]string `json:"others"`
	// Limits are the throttling limits the server enforces (zero: none).
	Limits graphlimit.Limits `json:"limits"`
}

// Server serves the fake tenant over HTTPS.
type Server struct {
	mu       sync.Mutex
	t        *Tenant
	opts     Options
	ca       *ca
	stateDir string
	tokens   map[string]time.Time
	faultRng *mrand.Rand
	ln       net.Listener
	srv      *http.Server
	base     string
	stats    Stats
	limits   *limiter // nil: no limits enforced

	uploadsMu sync.Mutex
	uploads   map[string]*uploadSession // open upload sessions by token
}

// Stats counts what the server did, for tests and benchmarks.
type Stats struct {
	Requests   int `json:"requests"`
	Throttled  int `json:"throttled"`
	Unavail    int `json:"unavailable"`
	Resets     int `json:"resets"`
	Expired    int `json:"expired_deltas"`
	Malformed  int `json:"malformed_pages"`
	Short      int `json:"short_bodies"`
	Corrupt    int `json:"corrupt_bodies"`
	TokensSent int `json:"tokens"`
	// Requests refused under Microsoft's limits, by the limit.
	LimitedMailbox     int `json:"limited_mailbox"`
	LimitedConcurrency int `json:"limited_concurrency"`
	LimitedSharePoint  int `json:"limited_sharepoint"`
	LimitedTeams       int `json:"limited_teams"`
	LimitedDirectory   int `json:"limited_directory"`
}

// New builds a server for a seeded tenant. stateDir (optional) keeps the CA
// across restarts and receives server.json for holdfast fake-tenant mutate.
func New(opts Options, stateDir string) (*Server, error) {
	opts.defaults()
	c, err := loadOrCreateCA(stateDir)
	if err != nil {
		return nil, fmt.Errorf("fake tenant CA: %w", err)
	}
	s := &Server{t: newTenant(opts), opts: opts, ca: c, stateDir: stateDir, tokens: map[string]time.Time{},
		faultRng: mrand.New(mrand.NewPCG(opts.Seed, 0xfa17))}
	if !opts.NoLimits {
		licensed := 0
		for _, u := range s.t.Users {
			if u.Licensed {
				licensed++
			}
		}
		s.limits = newLimiter(opts.Limits.WithDefaults(licensed, len(s.t.accounts())))
	}
	return s, nil
}

// Limits are the limits the server enforces (zero when none).
func (s *Server) Limits() graphlimit.Limits {
	if s.limits == nil {
		return graphlimit.Limits{}
	}
	return s.limits.lim
}

// MailboxRequests is how many requests each mailbox (by UPN) was served,
// as the limits counted them: what a benchmark's lower bound is made of.
func (s *Server) MailboxRequests() map[string]float64 {
	out := map[string]float64{}
	if s.limits == nil {
		return out
	}
	s.limits.mu.Lock()
	served := maps.Clone(s.limits.served)
	s.limits.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.t.accounts() {
		if n, ok := served["mailbox/"+u.ID]; ok {
			out[u.UPN] = n
		}
	}
	return out
}

// ThrottleMailbox makes Exchange refuse every request to a mailbox for d,
// with Retry-After saying how long is left: a mailbox throttled for
// minutes, as a test needs it.
func (s *Server) ThrottleMailbox(upn string, d time.Duration) {
	s.mu.Lock()
	u := s.t.user(upn)
	s.mu.Unlock()
	if u != nil && s.limits != nil {
		s.limits.block(u.ID, d)
	}
}

// limit charges a request against Microsoft's limits. It returns the
// function that ends the request's charge, or false when it answered with
// Graph's throttling response.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, parts []string) (func(), bool) {
	if s.limits == nil {
		return func() {}, true
	}
	if len(parts) >= 2 && parts[0] == "users" {
		// One mailbox, whether addressed by id or by UPN.
		s.mu.Lock()
		if u := s.t.user(parts[1]); u != nil {
			parts = append([]string{"users", u.ID}, parts[2:]...)
		}
		s.mu.Unlock()
	}
	release, refused := s.limits.admit(graphlimit.Classify(r.Method, parts, r.URL.Query()))
	if refused == nil {
		return release, true
	}
	s.mu.Lock()
	switch {
	case refused.concurrency:
		s.stats.LimitedConcurrency++
	case refused.charge.Service == graphlimit.Exchange:
		s.stats.LimitedMailbox++
	case refused.charge.Service == graphlimit.SharePoint:
		s.stats.LimitedSharePoint++
	case refused.charge.Service == graphlimit.Teams:
		s.stats.LimitedTeams++
	default:
		s.stats.LimitedDirectory++
	}
	s.mu.Unlock()
	throttled(w, refused)
	return nil, false
}

// Start listens on addr ("127.0.0.1:0" picks a port) and serves.
func (s *Server) Start(addr string) (Info, error) {
	host, _, _ := net.SplitHostPort(addr)
	cfg, err := s.ca.serverConfig(host)
	if err != nil {
		return Info{}, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return Info{}, err
	}
	s.ln = ln
	s.base = "https://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(tls.NewListener(ln, cfg))
	info := s.Info()
	if s.stateDir != "" {
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(filepath.Join(s.stateDir, "server.json"), b, 0o600); err != nil {
			return info, err
		}
	}
	return info, nil
}

// Info describes the running server.
func (s *Server) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := Info{GraphEndpoint: s.base, LoginEndpoint: s.base, TenantID: s.t.ID, ClientID: s.t.ClientID, ClientSecret: s.t.ClientSecret, AdminURL: s.base + "/admin", Limits: s.Limits()}
	if s.stateDir != "" {
		info.CAFile = filepath.Join(s.stateDir, "ca.pem")
	}
	for _, u := range s.t.Users {
		info.Users = append(info.Users, u.UPN)
		if !u.Enabled || !u.Licensed || u.Deleted != nil {
			info.Departed = append(info.Departed, u.UPN)
		}
	}
	info.Others = map[string]string{}
	for _, u := range s.t.Others {
		kind := u.Purpose
		if u.Guest {
			kind = "guest"
		}
		info.Others[u.UPN] = kind
	}
	return info
}

// CACertPEM returns the CA certificate clients must trust.
func (s *Server) CACertPEM() []byte { return s.ca.certPEM }

// CertPool returns a pool that trusts the server.
func (s *Server) CertPool() *x509.CertPool { return s.ca.pool() }

// Stats returns request counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// SetFaults changes fault probabilities while running.
func (s *Server) SetFaults(p429, p503, reset, expire float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Fault429, s.opts.Fault503, s.opts.FaultReset, s.opts.ExpireDelta = p429, p503, reset, expire
}

// SetDamage changes the probabilities of damaged answers while running.
func (s *Server) SetDamage(malformed, short, corrupt float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.FaultMalformed, s.opts.FaultShortBody, s.opts.FaultCorrupt = malformed, short, corrupt
}

// Close stops the server.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// graphError writes Graph's error body.
func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", guid(uint64(time.Now().UnixNano()), "req"))
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]string{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": guid(uint64(time.Now().UnixNano()), "req")},
	}})
}

// entraError writes the identity platform's error body.
func entraError(w http.ResponseWriter, status int, code, aadsts, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	n, _ := strconv.Atoi(strings.TrimPrefix(aadsts, "AADSTS"))
	json.NewEncoder(w).Encode(map[string]any{
		"error": code, "error_description": aadsts + ": " + desc,
		"error_codes": []int{n}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

func writeJSON(w http.ResponseWriter, v any) { writeJSONStatus(w, http.StatusOK, v) }

// writeJSONStatus sets the JSON content type before the status goes out.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Kiota gzips request bodies by default, and Graph accepts them.
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") && r.Body != nil {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			graphError(w, http.StatusBadRequest, "invalidRequest", "Content-Encoding gzip, but the body is not gzip: "+err.Error())
			return
		}
		r.Body = zr
		r.Header.Del("Content-Encoding")
	}
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	switch {
	case len(parts) > 0 && parts[0] == "admin":
		s.serveAdmin(w, r, parts[1:])
	case len(parts) == 2 && parts[0] == "upload":
		if s.fault(w, r) {
			return
		}
		release, ok := s.limit(w, r, parts)
		if !ok {
			return
		}
		defer release()
		s.serveUpload(w, r, parts[1])
	case len(parts) == 2 && parts[0] == "download":
		if s.fault(w, r) {
			return
		}
		release, ok := s.limit(w, r, parts)
		if !ok {
			return
		}
		defer release()
		s.damaged(w, r, true, func(w http.ResponseWriter) { s.serveDownload(w, r, parts[1]) })
	case len(parts) > 0 && parts[0] == "v1.0":
		if s.fault(w, r) {
			return
		}
		if !s.authorised(r) {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
			return
		}
		release, ok := s.limit(w, r, parts[1:])
		if !ok {
			return
		}
		defer release()
		s.damaged(w, r, false, func(w http.ResponseWriter) { s.serveGraph(w, r, parts[1:]) })
	default:
		s.serveIdentity(w, r, parts)
	}
}

// bufferedWriter holds a response so that it can be damaged on the way out.
type bufferedWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (b *bufferedWriter) Header() http.Header { return b.h }
func (b *bufferedWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

// damaged serves a request, and with the configured probabilities sends a
// successful answer damaged in transit: a JSON body cut in half (a
// malformed page), or a body shorter than its Content-Length (a truncated
// download), the connection then dropped.
//
// Corruption (a flipped byte, same length) applies only to file downloads:
// it stands for content that no longer matches the hash the drive reports,
// which only files carry; TLS rules out corruption on the wire.
func (s *Server) damaged(w http.ResponseWriter, r *http.Request, download bool, serve func(http.ResponseWriter)) {
	s.mu.Lock()
	p := s.faultRng.Float64()
	malformed, short, corrupt := s.opts.FaultMalformed, s.opts.FaultShortBody, s.opts.FaultCorrupt
	s.mu.Unlock()
	if !download {
		corrupt = 0
	}
	if p >= malformed+short+corrupt {
		serve(w)
		return
	}
	b := &bufferedWriter{h: w.Header()}
	serve(b)
	if b.status != http.StatusOK || len(b.body) < 2 {
		w.WriteHeader(max(b.status, 200))
		w.Write(b.body)
		return
	}
	isJSON := strings.HasPrefix(w.Header().Get("Content-Type"), "application/json")
	switch {
	case p < malformed && isJSON:
		s.mu.Lock()
		s.stats.Malformed++
		s.mu.Unlock()
		w.Header().Del("Content-Length")
		w.WriteHeader(http.StatusOK)
		w.Write(b.body[:len(b.body)/2])
	case p >= malformed+short && !isJSON:
		// A flipped byte in transit: same length, different content.
		s.mu.Lock()
		s.stats.Corrupt++
		s.mu.Unlock()
		b.body[len(b.body)/2] ^= 0x20
		w.WriteHeader(http.StatusOK)
		w.Write(b.body)
	case p >= malformed && !isJSON:
		s.mu.Lock()
		s.stats.Short++
		s.mu.Unlock()
		w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
		w.WriteHeader(http.StatusOK)
		w.Write(b.body[:len(b.body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // drop the connection mid-body
	default:
		w.WriteHeader(http.StatusOK)
		w.Write(b.body)
	}
}

// fault injects the configured failures. It reports whether it answered.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	s.stats.Requests++
	p := s.faultRng.Float64()
	o := s.opts
	latency := o.Latency
	var kind string
	switch {
	case p < o.Fault429:
		kind = "429"
		s.stats.Throttled++
	case p < o.Fault429+o.Fault503:
		kind = "503"
		s.stats.Unavail++
	case p < o.Fault429+o.Fault503+o.FaultReset:
		kind = "reset"
		s.stats.Resets++
	}
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	switch kind {
	case "429":
		w.Header().Set("Retry-After", strconv.Itoa(o.retryAfter()))
		graphError(w, http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
		return true
	case "503":
		w.Header().Set("Retry-After", strconv.Itoa(o.retryAfter()))
		graphError(w, http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable. Please retry.")
		return true
	case "reset":
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*tls.Conn); ok {
					if nc, ok := tc.NetConn().(*net.TCPConn); ok {
						nc.SetLinger(0)
					}
				}
				conn.Close()
				return true
			}
		}
		graphError(w, http.StatusBadGateway, "connectionReset", "connection dropped")
		return true
	}
	return false
}

func (o Options) retryAfter() int {
	if o.RetryAfter < 0 {
		return 0
	}
	return int(math.Ceil(o.RetryAfter.Seconds()))
}

func (s *Server) authorised(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// RevokeTokens makes every issued token invalid (a 401 mid-run).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// serveIdentity answers the identity platform's discovery and token
// endpoints for /{tenant}/...
func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request, parts []string) {
	if len(parts) >= 2 && parts[0] == "common" && parts[1] == "discovery" {
		// Instance discovery: clients should disable it for custom authorities.
		writeJSON(w, map[string]any{"tenant_discovery_endpoint": s.base + "/" + r.URL.Query().Get("tenant") + "/v2.0/.well-known/openid-configuration",
			"api-version": "1.1", "metadata": []any{}})
		return
	}
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant := parts[0]
	if tenant != s.t.ID && tenant != s.t.Domain && tenant != "organizations" {
		entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002", fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	rest := strings.Join(parts[1:], "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		iss := s.base + "/" + s.t.ID + "/v2.0"
		writeJSON(w, map[string]any{
			"token_endpoint":                        s.base + "/" + tenant + "/oauth2/v2.0/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"jwks_uri":                              s.base + "/" + tenant + "/discovery/v2.0/keys",
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"issuer":                                iss,
			"authorization_endpoint":                s.base + "/" + tenant + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         s.base + "/" + tenant + "/oauth2/v2.0/devicecode",
			"end_session_endpoint":                  s.base + "/" + tenant + "/oauth2/v2.0/logout",
			"tenant_region_scope":                   "EU",
			"cloud_instance_name":                   "microsoftonline.com",
		})
	case "oauth2/v2.0/token":
		s.serveToken(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		entraError(w, http.StatusMethodNotAllowed, "invalid_request", "AADSTS900561", "The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		entraError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144", "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		entraError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type.")
		return
	case id != s.t.ClientID:
		entraError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016", fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, s.t.Domain))
		return
	case r.PostForm.Get("client_assertion") != "":
		// Certificate credentials: the assertion is a JWT signed by the
		// app's certificate; the fake tenant accepts any well-formed one.
		if strings.Count(r.PostForm.Get("client_assertion"), ".") != 2 {
			entraError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700027", "Client assertion failed signature validation.")
			return
		}
	case secret != s.t.ClientSecret:
		entraError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		return
	}
	// MSAL adds the OIDC scopes openid, profile and offline_access to every
	// request; Entra ignores them for client credentials.
	scope := ""
	for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
		if sc != "openid" && sc != "profile" && sc != "offline_access" {
			scope += sc
		}
	}
	if !strings.HasSuffix(scope, "/.default") || strings.Count(scope, "/.default") != 1 {
		entraError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012", "The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"none"}`))
	claims, _ := json.Marshal(map[string]any{"aud": strings.TrimSuffix(scope, "/.default"), "iss": "https://sts.windows.net/" + s.t.ID + "/",
		"tid": s.t.ID, "appid": s.t.ClientID, "roles": s.roles(), "exp": time.Now().Add(time.Hour).Unix()})
	tok := header + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(time.Hour)
	s.stats.TokensSent++
	s.mu.Unlock()
	writeJSON(w, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

func (s *Server) roles() []string {
	if s.opts.Roles != nil {
		return s.opts.Roles
	}
	return grantedRoles
}

// grantedRoles are the application permissions the fake app holds.
var grantedRoles = []string{"User.Read.All", "Directory.Read.All", "Mail.Read", "Calendars.Read", "Contacts.Read", "Files.Read.All", "Sites.Read.All", "ChannelMessage.Read.All", "Chat.Read.All", "MailboxSettings.Read"}
