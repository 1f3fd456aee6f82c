package restore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// icsText escapes a value for an iCalendar or vCard text property.
func icsText(s string) string {
	return strings.NewReplacer("\\", "\\\\", ";", "\\;", ",", "\\,", "\r\n", "\\n", "\n", "\\n").Replace(s)
}

// fold writes a content line folded at 75 octets, as RFC 5545 and vCard
// require.
func fold(b *strings.Builder, line string) {
	limit := 75 // octets, CRLF excluded; continuation lines spend one on the space
	for len(line) > limit {
		cut := limit
		for cut > 1 && (line[cut]&0xC0) == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		b.WriteString(line[:cut] + "\r\n ")
		line = line[cut:]
		limit = 74
	}
	b.WriteString(line + "\r\n")
}

type graphTime struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

func (t graphTime) ics() (string, error) {
	v, err := time.Parse("2006-01-02T15:04:05.9999999", t.DateTime)
	if err != nil {
		return "", fmt.Errorf("event time %q: %w", t.DateTime, err)
	}
	if t.TimeZone == "" || strings.EqualFold(t.TimeZone, "UTC") {
		return v.Format("20060102T150405Z"), nil
	}
	if loc, err := time.LoadLocation(t.TimeZone); err == nil {
		return time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), 0, loc).UTC().Format("20060102T150405Z"), nil
	}
	// Windows zone names (e.g. "GMT Standard Time") are kept as floating
	// local time.
	return v.Format("20060102T150405"), nil
}

type emailAddress struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// toICS renders an event's Graph JSON as an iCalendar VEVENT.
func toICS(js []byte) ([]byte, error) {
	var ev struct {
		ID        string `json:"id"`
		ICalUID   string `json:"iCalUId"`
		Subject   string `json:"subject"`
		Body      struct{ Content string }
		Start     graphTime `json:"start"`
		End       graphTime `json:"end"`
		Location  struct{ DisplayName string }
		Organizer struct {
			EmailAddress emailAddress `json:"emailAddress"`
		} `json:"organizer"`
		Attendees []struct {
			Type         string       `json:"type"`
			EmailAddress emailAddress `json:"emailAddress"`
		} `json:"attendees"`
		LastModified string `json:"lastModifiedDateTime"`
	}
	if err := json.Unmarshal(js, &ev); err != nil {
		return nil, fmt.Errorf("event JSON: %w", err)
	}
	start, err := ev.Start.ics()
	if err != nil {
		return nil, err
	}
	end, err := ev.End.ics()
	if err != nil {
		return nil, err
	}
	uid := ev.ICalUID
	if uid == "" {
		uid = ev.ID
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	if t, err := time.Parse(time.RFC3339Nano, ev.LastModified); err == nil {
		stamp = t.UTC().Format("20060102T150405Z")
	}
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Holdfast//Restore//EN\r\nBEGIN:VEVENT\r\n")
	fold(&b, "UID:"+icsText(uid))
	fold(&b, "DTSTAMP:"+stamp)
	fold(&b, "DTSTART:"+start)
	fold(&b, "DTEND:"+end)
	fold(&b, "SUMMARY:"+icsText(ev.Subject))
	if ev.Location.DisplayName != "" {
		fold(&b, "LOCATION:"+icsText(ev.Location.DisplayName))
	}
	if ev.Body.Content != "" {
		fold(&b, "DESCRIPTION:"+icsText(ev.Body.Content))
	}
	if a := ev.Organizer.EmailAddress; a.Address != "" {
		fold(&b, fmt.Sprintf("ORGANIZER;CN=%s:mailto:%s", icsParam(a.Name), a.Address))
	}
	for _, at := range ev.Attendees {
		role := "REQ-PARTICIPANT"
		if at.Type == "optional" {
			role = "OPT-PARTICIPANT"
		}
		fold(&b, fmt.Sprintf("ATTENDEE;ROLE=%s;CN=%s:mailto:%s", role, icsParam(at.EmailAddress.Name), at.EmailAddress.Address))
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return []byte(b.String()), nil
}

// icsParam quotes a parameter value.
func icsParam(s string) string {
	return `"` + strings.NewReplacer(`"`, "'", "\r", " ", "\n", " ").Replace(s) + `"`
}

// toVCF renders a contact's Graph JSON as a vCard 3.0.
func toVCF(js []byte) ([]byte, error) {
	var c struct {
		DisplayName    string         `json:"displayName"`
		GivenName      string         `json:"givenName"`
		Surname        string         `json:"surname"`
		CompanyName    string         `json:"companyName"`
		JobTitle       string         `json:"jobTitle"`
		EmailAddresses []emailAddress `json:"emailAddresses"`
		BusinessPhones []string       `json:"businessPhones"`
		MobilePhone    string         `json:"mobilePhone"`
	}
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, fmt.Errorf("contact JSON: %w", err)
	}
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\n")
	fold(&b, "FN:"+icsText(c.DisplayName))
	fold(&b, "N:"+icsText(c.Surname)+";"+icsText(c.GivenName)+";;;")
	if c.CompanyName != "" {
		fold(&b, "ORG:"+icsText(c.CompanyName))
	}
	if c.JobTitle != "" {
		fold(&b, "TITLE:"+icsText(c.JobTitle))
	}
	for _, e := range c.EmailAddresses {
		fold(&b, "EMAIL;TYPE=INTERNET:"+e.Address)
	}
	for _, p := range c.BusinessPhones {
		fold(&b, "TEL;TYPE=WORK:"+icsText(p))
	}
	if c.MobilePhone != "" {
		fold(&b, "TEL;TYPE=CELL:"+icsText(c.MobilePhone))
	}
	b.WriteString("END:VCARD\r\n")
	return []byte(b.String()), nil
}
