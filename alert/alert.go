// Package alert tells people when something needs them: a failed or
// partial backup, a verify that found damage, a finding at or above a
// chosen severity. It delivers by webhook — a JSON body signed with
// HMAC-SHA256 — and by e-mail through SMTP, retries with backoff, and keeps
// every delivery attempt for the API to show. Its configuration lives in
// <data>/alerts.json (mode 0600: it holds the webhook secrets).
package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// The events.
const (
	BackupFailed  = "backup.failed"
	BackupPartial = "backup.partial" // completed with failed items
	VerifyFailed  = "verify.failed"
	Finding       = "finding" // a policy finding at or above the channel's severity
	JobFailed     = "job.failed"
	BackupLate    = "backup.late" // an account's workload not captured within the tenant's RPO
	// CheckpointUnsigned: a tenant's newest records have waited too long
	// for a signed checkpoint, or its newest checkpoint does not verify.
	CheckpointUnsigned = "checkpoint.unsigned"
)

// Events lists them.
var Events = []string{BackupFailed, BackupPartial, BackupLate, VerifyFailed, Finding, JobFailed, CheckpointUnsigned}

// Event is one thing to tell.
type Event struct {
	ID       string    `json:"id"`
	Event    string    `json:"event"`
	Tenant   string    `json:"tenant"`
	Time     time.Time `json:"time"`
	Severity string    `json:"severity,omitempty"` // for findings: low, medium, high, critical
	Summary  string    `json:"summary"`
	Detail   any       `json:"detail,omitempty"`
}

// Webhook is a destination that receives events as signed JSON.
type Webhook struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Secret      string   `json:"secret"`            // HMAC-SHA256 key; the receiver checks X-Holdfast-Signature with it
	Events      []string `json:"events"`            // empty: every event
	MinSeverity string   `json:"min_severity"`      // findings below it are not sent
	Tenants     []string `json:"tenants,omitempty"` // empty: every tenant
}

// SMTP is the e-mail channel.
type SMTP struct {
	Addr        string   `json:"addr"` // host:port
	From        string   `json:"from"`
	To          []string `json:"to"`
	Username    string   `json:"username,omitempty"`
	PasswordEnv string   `json:"password_env,omitempty"` // the password is read from this variable, never stored
	Events      []string `json:"events"`
	MinSeverity string   `json:"min_severity"`
}

// Config is every channel.
type Config struct {
	Webhooks []Webhook `json:"webhooks"`
	SMTP     *SMTP     `json:"smtp,omitempty"`
}

func configPath(dir string) string { return filepath.Join(dir, "alerts.json") }

// Load reads the channels of data directory dir (none when unset).
func Load(dir string) (*Config, error) {
	b, err := os.ReadFile(configPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, holdfast.E("alerts", holdfast.IO, err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, holdfast.E("alerts", holdfast.Invalid, err, configPath(dir))
	}
	return &c, nil
}

// Save writes the channels, mode 0600.
func Save(dir string, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return holdfast.E("alerts", err)
	}
	return store.WriteReplace(configPath(dir), b, 0o600)
}

// AddWebhook adds a destination with a new secret, which it returns.
func (c *Config) AddWebhook(rawURL string, events []string, minSeverity string, tenants []string) (Webhook, error) {
	const op = "alert webhook add"
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Webhook{}, holdfast.Errorf(op, holdfast.Invalid, "%s is not an http(s) URL", Where(rawURL))
	}
	for _, e := range events {
		if !slices.Contains(Events, e) {
			return Webhook{}, holdfast.Errorf(op, holdfast.Invalid, "unknown event %q (%s)", e, strings.Join(Events, ", "))
		}
	}
	if minSeverity == "" {
		minSeverity = "high"
	}
	if severityRank(minSeverity) < 0 {
		return Webhook{}, holdfast.Errorf(op, holdfast.Invalid, "severity %q: low, medium, high or critical", minSeverity)
	}
	w := Webhook{ID: holdfast.RandomHex(6), URL: rawURL, Secret: holdfast.RandomHex(32), Events: events, MinSeverity: minSeverity, Tenants: tenants}
	c.Webhooks = append(c.Webhooks, w)
	return w, nil
}

// Where is a destination as messages show it: scheme and host, never the
// path or query, where webhook services put their secrets.
func Where(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

var severities = []string{"low", "medium", "high", "critical"}

func severityRank(s string) int { return slices.Index(severities, s) }

func wants(events []string, minSeverity string, tenants []string, e Event) bool {
	if len(events) > 0 && !slices.Contains(events, e.Event) {
		return false
	}
	if len(tenants) > 0 && !slices.Contains(tenants, e.Tenant) {
		return false
	}
	if e.Event == Finding && severityRank(e.Severity) < severityRank(minSeverity) {
		return false
	}
	return true
}

// Attempt is one try at delivering an event.
type Attempt struct {
	Delivery string    `json:"delivery"` // the event's id
	Event    string    `json:"event"`
	Tenant   string    `json:"tenant"`
	Channel  string    `json:"channel"` // webhook ID@scheme://host/…, or smtp
	Try      int       `json:"try"`
	Time     time.Time `json:"time"`
	Status   int       `json:"status,omitempty"` // the HTTP status
	Error    string    `json:"error,omitempty"`
	OK       bool      `json:"ok"`
}

// Notifier delivers events on the channels of a data directory.
type Notifier struct {
	dir    string
	client *http.Client
	// Backoff is the wait before each retry; its length is how many
	// retries there are.
	Backoff []time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
	now     func() time.Time

	mu       sync.Mutex
	attempts []Attempt
	wg       sync.WaitGroup
}

// keep is how many attempts are kept for the API.
const keep = 1000

// NewNotifier returns a notifier for data directory dir.
func NewNotifier(dir string, client *http.Client) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Notifier{dir: dir, client: client, now: time.Now,
		Backoff: []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute},
		sleep: func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}}
}

// Attempts returns the delivery attempts kept, oldest first.
func (n *Notifier) Attempts() []Attempt {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.attempts)
}

func (n *Notifier) record(a Attempt) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attempts = append(n.attempts, a)
	if len(n.attempts) > keep {
		n.attempts = n.attempts[len(n.attempts)-keep:]
	}
}

// Notify delivers e on every channel that wants it, in the background,
// retrying with backoff until ctx ends. Wait waits for the deliveries.
func (n *Notifier) Notify(ctx context.Context, e Event) {
	if e.ID == "" {
		e.ID = holdfast.RandomHex(8)
	}
	if e.Time.IsZero() {
		e.Time = n.now().UTC()
	}
	c, err := Load(n.dir)
	if err != nil {
		n.record(Attempt{Delivery: e.ID, Event: e.Event, Tenant: e.Tenant, Channel: "config", Time: n.now().UTC(), Error: err.Error()})
		return
	}
	body, _ := json.Marshal(e)
	for _, w := range c.Webhooks {
		if wants(w.Events, w.MinSeverity, w.Tenants, e) {
			n.wg.Add(1)
			go func(w Webhook) {
				defer n.wg.Done()
				n.retry(ctx, e, w.ID+"@"+Where(w.URL), func() (int, error) { return n.post(ctx, w, e, body) })
			}(w)
		}
	}
	if s := c.SMTP; s != nil && wants(s.Events, s.MinSeverity, nil, e) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.retry(ctx, e, "smtp "+s.Addr, func() (int, error) { return 0, sendMail(*s, e) })
		}()
	}
}

// Wait waits for the deliveries under way.
func (n *Notifier) Wait() { n.wg.Wait() }

func (n *Notifier) retry(ctx context.Context, e Event, channel string, try func() (int, error)) {
	for i := 0; ; i++ {
		status, err := try()
		a := Attempt{Delivery: e.ID, Event: e.Event, Tenant: e.Tenant, Channel: channel, Try: i + 1, Time: n.now().UTC(), Status: status, OK: err == nil}
		if err != nil {
			a.Error = holdfast.RedactURLs(err.Error())
		}
		n.record(a)
		if err == nil || i >= len(n.Backoff) || n.sleep(ctx, n.Backoff[i]) != nil {
			return
		}
	}
}

// Signature is the X-Holdfast-Signature of body under secret.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (n *Notifier) post(ctx context.Context, w Webhook, e Event, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Holdfast")
	req.Header.Set("X-Holdfast-Event", e.Event)
	req.Header.Set("X-Holdfast-Delivery", e.ID)
	req.Header.Set("X-Holdfast-Signature", Signature(w.Secret, body))
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // never the URL: it may hold the receiver's secret
		}
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func sendMail(s SMTP, e Event) error {
	var auth smtp.Auth
	if s.Username != "" {
		host, _, _ := strings.Cut(s.Addr, ":")
		auth = smtp.PlainAuth("", s.Username, os.Getenv(s.PasswordEnv), host)
	}
	subject := mime.QEncoding.Encode("utf-8", headerSafe(fmt.Sprintf("[Holdfast] %s: %s", e.Tenant, e.Summary)))
	detail, _ := json.MarshalIndent(e, "", "  ")
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n\r\n%s\r\n",
		s.From, strings.Join(s.To, ", "), subject, headerSafe(e.Summary), detail)
	return smtp.SendMail(s.Addr, auth, s.From, s.To, msg.Bytes())
}

// headerSafe keeps tenant-supplied text from starting a new header line.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || holdfast.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
