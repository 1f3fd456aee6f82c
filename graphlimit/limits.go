// Package graphlimit holds the throttling limits Microsoft publishes for
// the Graph services Holdfast reads, what a request costs against them, and
// a sliding-window meter. The fake tenant enforces these limits as Graph
// does; the Graph client meters itself to stay within them. Each figure
// names where Microsoft states it; docs/INGEST.md has the table.
package graphlimit

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Microsoft's figures. They may change; Microsoft says so on every page.
const (
	// Outlook (mail, calendars, contacts), per app per mailbox: "10,000
	// API requests in a 10 minute period" and 4 concurrent requests
	// (learn.microsoft.com/graph/throttling-limits, Outlook service limits).
	MailboxRequests    = 10000
	MailboxWindow      = 10 * time.Minute
	MailboxConcurrency = 4

	// SharePoint and OneDrive, per app per tenant: resource units per
	// minute for a tenant of up to 1,000 licences ("Avoid getting throttled
	// or blocked in SharePoint Online"); SharePointUnits gives the others.
	SharePointWindow = time.Minute

	// Microsoft Teams, per app per tenant, in requests per second (Graph's
	// throttling limits, Microsoft Teams service limits).
	TeamsMessagesRate = 20 // GET channel message, GET 1:1/group chat message
	TeamsChannelsRate = 60 // GET /teams/{id}/channels, /members
	TeamsOtherRate    = 30 // other GET calls
	TeamsPerTarget    = 4  // "a maximum of 4 requests per second per app ... on a given team or channel"
	TeamsWindow       = time.Second

	// Identity and access (users, groups, directory), resource units per
	// application+tenant pair per 10 seconds; DirectoryUnits gives them by
	// tenant size.
	DirectoryWindow = 10 * time.Second
)

// SharePointUnits is the resource units per minute SharePoint grants an app
// in a tenant of the given licence count: 1,200 up to 1,000 licences,
// 2,400 up to 5,000, 3,600 up to 15,000, 4,800 up to 50,000, 6,000 above.
func SharePointUnits(licences int) int {
	switch {
	case licences <= 1000:
		return 1200
	case licences <= 5000:
		return 2400
	case licences <= 15000:
		return 3600
	case licences <= 50000:
		return 4800
	}
	return 6000
}

// DirectoryUnits is the identity and access resource units per 10 seconds
// of an application+tenant pair: S (under 50 users) 3,500, M (50 to 500)
// 5,000, L (above 500) 8,000.
func DirectoryUnits(users int) int {
	switch {
	case users < 50:
		return 3500
	case users <= 500:
		return 5000
	}
	return 8000
}

// SharePointCost is what a GET request costs in SharePoint resource units:
// 1 for a single item, a delta with a token or a file download; 2 for a
// multi-item query (listing children, a delta without a token); 5 for a
// request that reads permissions. parts is the path after /v1.0 (or
// ["download", …] for a file download).
func SharePointCost(parts []string, q url.Values) float64 {
	if strings.Contains(q.Get("$expand"), "permissions") || (len(parts) > 0 && parts[len(parts)-1] == "permissions") {
		return 5
	}
	if len(parts) > 0 && parts[0] == "download" {
		return 1
	}
	last := ""
	if len(parts) > 0 {
		last = parts[len(parts)-1]
	}
	switch {
	case strings.HasPrefix(last, "delta"):
		if q.Get("token") != "" || q.Get("$deltatoken") != "" || q.Get("$skiptoken") != "" {
			return 1
		}
		return 2
	case last == "children" || last == "drives" || (len(parts) == 1 && parts[0] == "sites"):
		return 2
	}
	return 1
}

// DirectoryCost is what a GET request costs in identity and access
// resource units: 2 for listing users (any path not in Microsoft's table
// costs 1), one less with $select, one less with a $top under 20, one more
// with $expand, and never less than 1.
func DirectoryCost(parts []string, q url.Values) float64 {
	c := 1
	if len(parts) == 1 && parts[0] == "users" {
		c = 2
	}
	if q.Get("$select") != "" {
		c--
	}
	if t, err := strconv.Atoi(q.Get("$top")); err == nil && t < 20 {
		c--
	}
	if q.Get("$expand") != "" {
		c++
	}
	return float64(max(c, 1))
}
