package holdfast

import (
	"net/url"
	"regexp"
	"strings"
)

// Pre-authenticated URLs (a SharePoint download link's tempauth, an upload
// session, an Azure SAS token's sig=, an OAuth code=) grant access to
// whoever holds them. They come back inside errors ("Get \"https://…?
// tempauth=…\": context canceled"), and an error becomes output, a log
// record, a proof bundle. RedactURL and RedactURLs drop what can carry a
// secret: the user information, the query and the fragment.

// Redacted stands where a URL's query was.
const Redacted = "?[redacted]"

// RedactURL returns u without its user information, query and fragment.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		// Not a URL we can take apart: keep only what precedes any query.
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			return u[:i] + Redacted
		}
		return u
	}
	had := p.RawQuery != "" || p.ForceQuery || p.Fragment != "" || p.User != nil
	p.User, p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = nil, "", false, "", ""
	if had {
		return p.String() + Redacted
	}
	return p.String()
}

var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// RedactURLs redacts every URL in s.
func RedactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}
