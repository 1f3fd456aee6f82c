package graphlimit

import (
	"net/url"
	"strings"
	"time"
)

// Service is the Graph service whose limits a request counts against.
type Service string

// The services Holdfast reads.
const (
	Exchange   Service = "exchange"
	SharePoint Service = "sharepoint"
	Teams      Service = "teams"
	Directory  Service = "directory"
)

// Charge is one limit a request counts against: the window it draws from
// (Key names it: "mailbox/{user}", "sharepoint", "teams/messages",
// "teams/channel/{id}", "directory"), what it costs there, and the service
// whose throttling answer applies.
type Charge struct {
	Service Service
	Key     string
	Cost    float64
}

// Mailbox reports whether the charge is a mailbox's, whose limits Exchange
// applies to that mailbox alone.
func (c Charge) Mailbox() bool { return strings.HasPrefix(c.Key, "mailbox/") }

// Classify names the limits a request counts against, by its path after
// /v1.0 (["download", token] for a file download) and query. A user's
// mailbox is keyed by the user segment as given: callers that may see both
// an id and a UPN for one user resolve it first.
func Classify(method string, parts []string, q url.Values) []Charge {
	p := parts
	write := method != "" && method != "GET" && method != "HEAD"
	sp := func() []Charge {
		c := SharePointCost(p, q)
		if write {
			c = 2
		}
		return []Charge{{SharePoint, "sharepoint", c}}
	}
	switch {
	case len(p) >= 1 && (p[0] == "download" || p[0] == "upload" || p[0] == "drives" || p[0] == "sites"):
		return sp()
	case len(p) >= 3 && p[0] == "users":
		switch p[2] {
		case "messages", "mailFolders", "calendars", "calendar", "events", "calendarView", "contacts", "contactFolders", "mailboxSettings":
			return []Charge{{Exchange, "mailbox/" + p[1], 1}}
		case "drive", "drives":
			return sp()
		case "chats":
			if len(p) >= 5 && p[4] == "messages" {
				return []Charge{{Teams, "teams/messages", 1}}
			}
			return []Charge{{Teams, "teams/other", 1}}
		}
	case len(p) >= 2 && p[0] == "chats":
		if len(p) >= 3 && p[2] == "messages" {
			return []Charge{{Teams, "teams/messages", 1}}
		}
		return []Charge{{Teams, "teams/other", 1}}
	case len(p) >= 2 && p[0] == "teams":
		target := Charge{Teams, "teams/team/" + p[1], 1}
		if len(p) >= 4 && p[2] == "channels" {
			target.Key = "teams/channel/" + p[3]
		}
		switch {
		case len(p) >= 5 && p[2] == "channels" && p[4] == "messages":
			return []Charge{{Teams, "teams/messages", 1}, target}
		case len(p) == 3 && (p[2] == "channels" || p[2] == "members"):
			return []Charge{{Teams, "teams/channels", 1}, target}
		}
		return []Charge{{Teams, "teams/other", 1}, target}
	case len(p) == 1 && p[0] == "teams":
		return []Charge{{Teams, "teams/other", 1}}
	}
	return []Charge{{Directory, "directory", DirectoryCost(p, q)}}
}

// Limits are the figures a meter or an enforcer uses: Microsoft's by
// default (WithDefaults), any of them overridden, and Scale dividing every
// window so that tests and benchmarks play the same shape in less time.
type Limits struct {
	Scale              float64 `json:"scale,omitempty"`
	MailboxRequests    int     `json:"mailbox_requests,omitempty"`
	MailboxConcurrency int     `json:"mailbox_concurrency,omitempty"`
	SharePointUnits    int     `json:"sharepoint_units,omitempty"` // per minute
	TeamsMessagesRate  int     `json:"teams_messages_rate,omitempty"`
	TeamsChannelsRate  int     `json:"teams_channels_rate,omitempty"`
	TeamsOtherRate     int     `json:"teams_other_rate,omitempty"`
	TeamsPerTarget     int     `json:"teams_per_target,omitempty"`
	DirectoryUnits     int     `json:"directory_units,omitempty"` // per 10 s
}

// WithDefaults fills what is unset with Microsoft's figures for a tenant
// with the given licences (SharePoint's tiers) and users (the directory's).
func (l Limits) WithDefaults(licences, users int) Limits {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.Scale <= 0 {
		l.Scale = 1
	}
	set(&l.MailboxRequests, MailboxRequests)
	set(&l.MailboxConcurrency, MailboxConcurrency)
	set(&l.SharePointUnits, SharePointUnits(licences))
	set(&l.TeamsMessagesRate, TeamsMessagesRate)
	set(&l.TeamsChannelsRate, TeamsChannelsRate)
	set(&l.TeamsOtherRate, TeamsOtherRate)
	set(&l.TeamsPerTarget, TeamsPerTarget)
	set(&l.DirectoryUnits, DirectoryUnits(users))
	return l
}

// Span is a window's length at the limits' scale.
func (l Limits) Span(d time.Duration) time.Duration {
	if l.Scale <= 0 {
		return d
	}
	return time.Duration(float64(d) / l.Scale)
}

// Window returns the limit and the (scaled) span of the window a key draws
// from, and how many slots to count it in.
func (l Limits) Window(key string) (limit float64, span time.Duration, slots int) {
	switch {
	case strings.HasPrefix(key, "mailbox/"):
		return float64(l.MailboxRequests), l.Span(MailboxWindow), 100
	case key == "sharepoint":
		return float64(l.SharePointUnits), l.Span(SharePointWindow), 60
	case key == "teams/messages":
		return float64(l.TeamsMessagesRate), l.Span(TeamsWindow), 10
	case key == "teams/channels":
		return float64(l.TeamsChannelsRate), l.Span(TeamsWindow), 10
	case strings.HasPrefix(key, "teams/team/") || strings.HasPrefix(key, "teams/channel/"):
		return float64(l.TeamsPerTarget), l.Span(TeamsWindow), 4
	case strings.HasPrefix(key, "teams/"):
		return float64(l.TeamsOtherRate), l.Span(TeamsWindow), 10
	}
	return float64(l.DirectoryUnits), l.Span(DirectoryWindow), 20
}
