package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/graphlimit"
	"github.com/holdfast/holdfast/ingest"
	abs "github.com/microsoft/kiota-abstractions-go"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Cloud is a national cloud's Graph service root and authority host.
type Cloud struct {
	Graph string
	Login string
}

// Clouds maps --cloud names to Microsoft's endpoints.
var Clouds = map[string]Cloud{
	"global":   {"https://graph.microsoft.com", "https://login.microsoftonline.com"},
	"usgov":    {"https://graph.microsoft.us", "https://login.microsoftonline.us"},
	"usgovdod": {"https://dod-graph.microsoft.us", "https://login.microsoftonline.us"},
	"china":    {"https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"},
}

// Conn is how to reach and authenticate to a tenant. Secrets are resolved
// by the caller and never stored here beyond the credential.
type Conn struct {
	TenantID      string
	ClientID      string
	ClientSecret  string // or
	CertFile      string // PEM holding the certificate and its private key
	GraphEndpoint string // service root without /v1.0
	LoginEndpoint string // authority host
	CAFile        string // extra trusted CA (private CAs, the fake tenant)
	// Limits override Microsoft's published limits the client meters
	// itself within (graphlimit; zero fields take Microsoft's figures, for
	// a tenant under 1,000 licences). NoMeter turns metering off: the
	// client then lives on Graph's throttling answers alone.
	Limits  graphlimit.Limits
	NoMeter bool
}

// Client is a Graph client for one tenant. It implements ingest.Source.
type Client struct {
	cred     azcore.TokenCredential
	scope    string
	gc       *msgraphsdk.GraphServiceClient
	adapter  *msgraphsdk.GraphRequestAdapter
	http     *http.Client
	download *http.Client // no SDK middleware, no redirects followed: see DriveItemContent
	th       *throttle
	pageSize int
}

// New connects to a tenant. It does not make a request: use Check.
func New(c Conn) (*Client, error) {
	const op = "graph connect"
	if c.TenantID == "" || c.ClientID == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "tenant id and client id are required")
	}
	graphURL, err := endpoint(c.GraphEndpoint, "graph endpoint")
	if err != nil {
		return nil, err
	}
	loginURL, err := endpoint(c.LoginEndpoint, "login endpoint")
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Every account in progress may hold 4 requests: keep their connections
	// (a new TLS handshake costs more CPU than the request).
	base.MaxIdleConnsPerHost = 4 * ingest.DefaultAccounts
	base.MaxIdleConns = 4 * ingest.DefaultAccounts
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, holdfast.E(op, holdfast.Invalid, err, "CA file")
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "CA file %s holds no PEM certificate", c.CAFile)
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	th := newThrottle(base)
	th.graphHost = graphURL.Host
	if !c.NoMeter {
		th.meter = newMeter(c.Limits)
	}
	// The credential's own requests go through a plain client that trusts
	// the same CA; azidentity retries token requests itself.
	credHTTP := &http.Client{Transport: base, Timeout: 60 * time.Second}
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: loginURL.String() + "/"},
		Transport: credHTTP,
		Retry:     policy.RetryOptions{MaxRetries: 3},
	}
	var cred azcore.TokenCredential
	switch {
	case c.ClientSecret != "":
		cred, err = azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	case c.CertFile != "":
		data, rerr := os.ReadFile(c.CertFile)
		if rerr != nil {
			return nil, holdfast.E(op, holdfast.Invalid, rerr, "client certificate")
		}
		certs, key, perr := azidentity.ParseCertificates(data, nil)
		if perr != nil {
			return nil, holdfast.E(op, holdfast.Invalid, perr, "client certificate "+c.CertFile)
		}
		cred, err = azidentity.NewClientCertificateCredential(c.TenantID, c.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	default:
		return nil, holdfast.E(op, holdfast.Invalid, "a client secret or a client certificate is required")
	}
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	scope := graphURL.String() + "/.default"
	// Without the Graph host as a valid host the SDK sends no token to a
	// national-cloud alias, a proxy or the fake tenant.
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{graphURL.Hostname()})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	// Kiota's own retry handler would retry again on top of ours.
	noRetry := khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }})
	mws := []khttp.Middleware{}
	for _, m := range msgraphcore.GetDefaultMiddlewaresWithOptions(&msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "holdfast"}) {
		if _, isRetry := m.(*khttp.RetryHandler); isRetry {
			m = noRetry
		}
		mws = append(mws, m)
	}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(th, mws...), Timeout: 10 * time.Minute}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	adapter.SetBaseUrl(graphURL.String() + "/v1.0")
	download := &http.Client{Transport: th, Timeout: 30 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// msgraphsdk.NewGraphServiceClient writes the SDK's global backing
	// store factory (the value it already holds) every time, while other
	// tenants' clients read it building models: a data race in a process
	// that backs up several tenants at once. A nil factory leaves the
	// global as it is and sets up this adapter the same way.
	gc := &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *msgraphsdk.NewGraphBaseServiceClient(adapter, nil)}
	return &Client{cred: cred, scope: scope, gc: gc, adapter: adapter, http: hc, download: download, th: th, pageSize: 100}, nil
}

func endpoint(s, what string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, holdfast.Errorf("graph connect", holdfast.Invalid, "%s %q must be an https URL such as https://graph.microsoft.com", what, s)
	}
	if strings.HasSuffix(u.Path, "/v1.0") {
		return nil, holdfast.Errorf("graph connect", holdfast.Invalid, "%s %q: give the service root without /v1.0; Holdfast adds it", what, s)
	}
	return u, nil
}

// Throttled returns the time spent waiting on Graph's throttling.
func (c *Client) Throttled() time.Duration { return c.th.Throttled() }

// classify turns SDK, HTTP and identity errors into Holdfast's kinds and
// the sentinels ingest reacts to. It is the one place every error of a
// request to Graph passes, so it is where pre-authenticated URLs (download
// links, upload sessions) are scrubbed, before anything prints or records
// the error.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	err = scrub(err)
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return holdfast.E(op, holdfast.Permission, fmt.Errorf("authentication failed: %s", firstLine(authErr.Error())))
	}
	status, code, msg := 0, "", ""
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		status = oe.ResponseStatusCode
		if me := oe.GetErrorEscaped(); me != nil {
			code, msg = deref(me.GetCode()), deref(me.GetMessage())
		}
	} else {
		var ae *abs.ApiError
		if errors.As(err, &ae) {
			status, msg = ae.ResponseStatusCode, ae.Message
		}
	}
	switch {
	case status == http.StatusGone || code == "syncStateNotFound" || code == "resyncRequired" || code == "syncStateInvalid":
		return fmt.Errorf("%s: %w (%s %s)", op, ingest.ErrDeltaExpired, code, msg)
	case status == http.StatusNotFound || code == "MailboxNotEnabledForRESTAPI" || code == "ResourceNotFound":
		return fmt.Errorf("%s: %w (%s)", op, ingest.ErrGone, code)
	case status == http.StatusUnauthorized:
		return holdfast.E(op, holdfast.Permission, fmt.Errorf("the Graph API answered 401 %s: %s", code, msg))
	case status == http.StatusForbidden:
		return holdfast.Errorf(op, holdfast.Other, "the Graph API answered 403 %s: %s (does the app have the permission this needs?)", code, msg)
	case status != 0:
		return holdfast.Errorf(op, holdfast.IO, "the Graph API answered %d %s: %s", status, code, msg)
	}
	return holdfast.E(op, holdfast.IO, err)
}

// scrub redacts the URLs an error carries: a *url.Error's URL in place
// (keeping the chain, so errors.Is still sees context.Canceled), and any
// URL in the text of the error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = holdfast.RedactURL(ue.URL)
	}
	if msg := err.Error(); holdfast.RedactURLs(msg) != msg {
		return redactedError{msg: holdfast.RedactURLs(msg), err: err}
	}
	return err
}

// redactedError says err's message with its URLs redacted; errors.Is and
// errors.As still see err.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "AADSTS") {
			return strings.TrimSpace(l)
		}
	}
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefBool(b *bool) bool { return b != nil && *b }

// hasChildren reports whether a mail folder may have child folders: a
// childFolderCount of 0 spares a request per folder; without one, ask.
func hasChildren(f models.MailFolderable) bool {
	n := f.GetChildFolderCount()
	return n == nil || *n > 0
}

// itemCount is a mail folder's totalItemCount (0 when Graph leaves it out).
func itemCount(f models.MailFolderable) int64 {
	if n := f.GetTotalItemCount(); n != nil && *n > 0 {
		return int64(*n)
	}
	return 0
}

func derefInt64(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}

func headers(prefer ...string) *abs.RequestHeaders {
	h := abs.NewRequestHeaders()
	for _, p := range prefer {
		h.Add("Prefer", p)
	}
	return h
}

// Accounts lists every user, then the soft-deleted ones.
func (c *Client) Accounts(ctx context.Context) ([]holdfast.Account, error) {
	const op = "list users"
	sel := []string{"id", "userPrincipalName", "displayName", "mail", "accountEnabled", "assignedLicenses", "deletedDateTime", "userType"}
	var out []holdfast.Account
	add := func(us []models.Userable, deleted bool) {
		for _, u := range us {
			a := holdfast.Account{ID: deref(u.GetId()), UPN: deref(u.GetUserPrincipalName()), DisplayName: deref(u.GetDisplayName()),
				Mail: deref(u.GetMail()), Enabled: derefBool(u.GetAccountEnabled()), Licensed: len(u.GetAssignedLicenses()) > 0}
			if strings.EqualFold(deref(u.GetUserType()), "Guest") || strings.Contains(a.UPN, "#EXT#") {
				a.Kind = holdfast.KindGuest
			}
			if deleted {
				t := time.Now().UTC()
				if d := u.GetDeletedDateTime(); d != nil {
					t = d.UTC()
				}
				a.Deleted = &t
			}
			out = append(out, a)
		}
	}
	top := int32(999) // the most Graph pages users by
	ub := c.gc.Users()
	resp, err := ub.Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: sel, Top: &top}})
	err = pages(op, resp, err, func(u string) (models.UserCollectionResponseable, error) { return ub.WithUrl(u).Get(ctx, nil) },
		func(us []models.Userable) error { add(us, false); return nil })
	if err != nil {
		return nil, err
	}
	db := c.gc.Directory().DeletedItems().GraphUser()
	del, err := db.Get(ctx, nil)
	err = pages("list deleted users", del, err, func(u string) (models.UserCollectionResponseable, error) { return db.WithUrl(u).Get(ctx, nil) },
		func(us []models.Userable) error { add(us, true); return nil })
	if err != nil {
		return nil, err
	}
	licensed, present := 0, 0
	for _, a := range out {
		if a.Deleted == nil {
			present++
			if a.Licensed {
				licensed++
			}
		}
	}
	c.th.meter.sized(licensed, present)
	// Shared, room and equipment mailboxes look like departed employees
	// (disabled, unlicensed); their mailbox settings tell them apart. Only
	// those accounts are asked: one request each.
	for i := range out {
		a := &out[i]
		if a.Kind == "" && a.Deleted == nil && a.State() != holdfast.StateActive {
			k, err := c.userPurpose(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			a.Kind = k
		}
	}
	return out, nil
}

// userPurpose returns the kind of a user's mailbox (mailboxSettings →
// userPurpose), or "" when the account has no mailbox to say.
func (c *Client) userPurpose(ctx context.Context, userID string) (string, error) {
	ms, err := c.gc.Users().ByUserId(userID).MailboxSettings().Get(ctx, nil)
	if err != nil {
		err = classify("read mailbox settings", err)
		if errors.Is(err, ingest.ErrGone) || holdfast.KindOf(err) == holdfast.Other {
			return "", nil // no mailbox (404), or not allowed to read it: a user
		}
		return "", err
	}
	if p := ms.GetUserPurpose(); p != nil {
		switch k := p.String(); k {
		case holdfast.KindUser, holdfast.KindLinked, holdfast.KindShared, holdfast.KindRoom, holdfast.KindEquipment:
			return k, nil
		}
	}
	return "", nil
}

// MailFolders lists every mail folder, hidden and child folders included,
// parents before children, with display paths.
func (c *Client) MailFolders(ctx context.Context, userID string) ([]ingest.MailFolder, error) {
	const op = "list mail folders"
	hidden := "true"
	mb := c.gc.Users().ByUserId(userID).MailFolders()
	resp, err := mb.Get(ctx, &users.ItemMailFoldersRequestBuilderGetRequestConfiguration{QueryParameters: &users.ItemMailFoldersRequestBuilderGetQueryParameters{IncludeHiddenFolders: &hidden}})
	var out, queue []ingest.MailFolder
	err = pages(op, resp, err, func(u string) (models.MailFolderCollectionResponseable, error) { return mb.WithUrl(u).Get(ctx, nil) },
		func(fs []models.MailFolderable) error {
			for _, f := range fs {
				mf := ingest.MailFolder{ID: deref(f.GetId()), Path: deref(f.GetDisplayName()), Items: itemCount(f)}
				out = append(out, mf)
				if hasChildren(f) {
					queue = append(queue, mf)
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		cb := mb.ByMailFolderId(parent.ID).ChildFolders()
		cr, err := cb.Get(ctx, &users.ItemMailFoldersItemChildFoldersRequestBuilderGetRequestConfiguration{QueryParameters: &users.ItemMailFoldersItemChildFoldersRequestBuilderGetQueryParameters{IncludeHiddenFolders: &hidden}})
		err = pages(op, cr, err, func(u string) (models.MailFolderCollectionResponseable, error) { return cb.WithUrl(u).Get(ctx, nil) },
			func(fs []models.MailFolderable) error {
				for _, f := range fs {
					mf := ingest.MailFolder{ID: deref(f.GetId()), Path: parent.Path + "/" + deref(f.GetDisplayName()), Items: itemCount(f)}
					out = append(out, mf)
					if hasChildren(f) {
						queue = append(queue, mf)
					}
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MessagesDelta follows a mail folder's message delta.
func (c *Client) MessagesDelta(ctx context.Context, userID, folderID, link string, page func([]ingest.MessageChange) error) (string, error) {
	const op = "message delta"
	db := c.gc.Users().ByUserId(userID).MailFolders().ByMailFolderId(folderID).Messages().Delta()
	cfg := &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetRequestConfiguration{
		// Immutable ids keep a message's id when it moves between folders.
		Headers: headers(`IdType="ImmutableId"`, fmt.Sprintf("odata.maxpagesize=%d", c.pageSize)),
		// Only what messageMeta reads: without $select every change
		// carries the whole body, which the MIME download fetches again.
		// Graph keeps the $select in the links it returns.
		QueryParameters: &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetQueryParameters{Select: messageSelect},
	}
	return deltaPages(op, link, func(u string) (users.ItemMailFoldersItemMessagesDeltaGetResponseable, error) {
		if u == "" {
			return db.GetAsDeltaGetResponse(ctx, cfg)
		}
		return db.WithUrl(u).GetAsDeltaGetResponse(ctx, cfg)
	}, func(ms []models.Messageable) error {
		var changes []ingest.MessageChange
		for _, m := range ms {
			ch := ingest.MessageChange{ID: deref(m.GetId())}
			if _, removed := m.GetAdditionalData()["@removed"]; removed {
				ch.Removed = true
			} else {
				ch.Meta = messageMeta(m)
				ch.Modified = ch.Meta.Modified
			}
			changes = append(changes, ch)
		}
		return page(changes)
	})
}

func addrs(rs []models.Recipientable) []string {
	var out []string
	for _, r := range rs {
		if e := r.GetEmailAddress(); e != nil {
			out = append(out, fmt.Sprintf("%s <%s>", deref(e.GetName()), deref(e.GetAddress())))
		}
	}
	return out
}

// messageSelect is what a message delta asks for: the properties
// messageMeta reads (id always comes).
var messageSelect = []string{"subject", "from", "toRecipients", "ccRecipients", "bccRecipients", "internetMessageId",
	"conversationId", "changeKey", "hasAttachments", "isRead", "parentFolderId", "categories",
	"receivedDateTime", "sentDateTime", "lastModifiedDateTime", "importance"}

func messageMeta(m models.Messageable) ingest.MessageMeta {
	meta := ingest.MessageMeta{
		Subject: deref(m.GetSubject()), To: addrs(m.GetToRecipients()), Cc: addrs(m.GetCcRecipients()), Bcc: addrs(m.GetBccRecipients()),
		InternetID: deref(m.GetInternetMessageId()), ConversationID: deref(m.GetConversationId()), ChangeKey: deref(m.GetChangeKey()),
		HasAttachments: derefBool(m.GetHasAttachments()), IsRead: derefBool(m.GetIsRead()), ParentFolderID: deref(m.GetParentFolderId()),
		Categories: m.GetCategories(),
	}
	if f := m.GetFrom(); f != nil {
		if s := addrs([]models.Recipientable{f}); len(s) > 0 {
			meta.From = s[0]
		}
	}
	if t := m.GetReceivedDateTime(); t != nil {
		meta.Received = t.UTC()
	}
	if t := m.GetSentDateTime(); t != nil {
		meta.Sent = t.UTC()
	}
	if t := m.GetLastModifiedDateTime(); t != nil {
		meta.Modified = t.UTC()
	}
	if i := m.GetImportance(); i != nil {
		meta.Importance = i.String()
	}
	return meta
}

// MessageMIME streams a message's MIME ($value) without loading it.
func (c *Client) MessageMIME(ctx context.Context, userID, messageID string) (io.ReadCloser, error) {
	const op = "download message"
	info, err := c.gc.Users().ByUserId(userID).Messages().ByMessageId(messageID).Content().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	info.Headers.Add("Prefer", `IdType="ImmutableId"`)
	resp, err := c.send(ctx, op, info, c.http)
	if err != nil {
		return nil, err
	}
	return bodyOf(op, resp)
}

// send authenticates a request the SDK built and sends it with hc, for
// responses that must stream rather than be parsed.
func (c *Client) send(ctx context.Context, op string, info *abs.RequestInformation, hc *http.Client) (*http.Response, error) {
	native, err := c.adapter.ConvertToNativeRequest(ctx, info)
	if err != nil {
		return nil, classify(op, err)
	}
	resp, err := hc.Do(native.(*http.Request))
	if err != nil {
		return nil, classify(op, err)
	}
	return resp, nil
}

// bodyOf returns a 200 response's body to stream, or the classified error.
func bodyOf(op string, resp *http.Response) (io.ReadCloser, error) {
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, httpError(op, resp.StatusCode, b)
	}
	return resp.Body, nil
}

// httpError classifies a raw response the SDK did not parse.
func httpError(op string, status int, body []byte) error {
	var code, msg string
	if s := string(body); strings.Contains(s, `"code"`) {
		code = between(s, `"code":"`, `"`)
		msg = between(s, `"message":"`, `"`)
	}
	switch status {
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w (%s)", op, ingest.ErrGone, code)
	case http.StatusUnauthorized:
		return holdfast.E(op, holdfast.Permission, fmt.Errorf("the Graph API answered 401 %s: %s", code, msg))
	case http.StatusForbidden:
		return holdfast.Errorf(op, holdfast.Other, "the Graph API answered 403 %s: %s (does the app have the permission this needs?)", code, msg)
	}
	return holdfast.Errorf(op, holdfast.IO, "the Graph API answered %d %s: %s", status, code, msg)
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// Roles authenticates and returns the application permissions (the roles
// claim of the access token) the app holds in the tenant.
func (c *Client) Roles(ctx context.Context) ([]string, error) {
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err != nil {
		return nil, classify("authenticate", err)
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		return nil, holdfast.Errorf("authenticate", holdfast.Other, "the access token is not a JWT; cannot read its permissions")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, holdfast.E("authenticate", err, "access token payload")
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, holdfast.E("authenticate", err, "access token claims")
	}
	return claims.Roles, nil
}

// Permissions lists, per workload, the application permissions Holdfast
// needs; any one of a row's alternatives is enough.
var Permissions = map[string][][]string{
	"directory":  {{"User.Read.All", "Directory.Read.All"}, {"MailboxSettings.Read", "MailboxSettings.ReadWrite"}},
	"mail":       {{"Mail.Read", "Mail.ReadWrite"}},
	"calendar":   {{"Calendars.Read", "Calendars.ReadWrite"}},
	"contacts":   {{"Contacts.Read", "Contacts.ReadWrite"}},
	"onedrive":   {{"Files.Read.All", "Files.ReadWrite.All"}},
	"sharepoint": {{"Sites.Read.All", "Sites.ReadWrite.All", "Files.Read.All"}},
	"teams":      {{"ChannelMessage.Read.All"}, {"Chat.Read.All", "Chat.ReadWrite.All"}},
}
