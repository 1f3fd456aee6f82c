package graph

import (
	"context"
	"encoding/json"
	"io"

	"github.com/holdfast/holdfast"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Writable properties of events and contacts: what a create accepts. The
// captured JSON also holds read-only ones (id, changeKey, timestamps,
// links) that Graph would refuse.
var (
	eventWritable = []string{"subject", "body", "start", "end", "location", "locations", "attendees", "isAllDay", "showAs",
		"importance", "sensitivity", "categories", "recurrence", "isReminderOn", "reminderMinutesBeforeStart", "responseRequested",
		"allowNewTimeProposals", "hideAttendees", "isOnlineMeeting", "onlineMeetingProvider"}
	contactWritable = []string{"displayName", "givenName", "surname", "middleName", "nickName", "title", "initials", "generation",
		"companyName", "department", "jobTitle", "officeLocation", "profession", "manager", "assistantName", "spouseName", "children",
		"emailAddresses", "imAddresses", "businessPhones", "homePhones", "mobilePhone", "businessAddress", "homeAddress",
		"otherAddress", "businessHomePage", "birthday", "personalNotes", "categories", "fileAs", "yomiGivenName", "yomiSurname", "yomiCompanyName"}
)

// writable keeps only the named top-level properties of a JSON object.
func writable(js []byte, keep []string, extra ...string) ([]byte, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(js, &all); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for _, k := range keep {
		if v, ok := all[k]; ok && string(v) != "null" {
			out[k] = v
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			out[extra[i]], _ = json.Marshal(extra[i+1])
		}
	}
	return json.Marshal(out)
}

// CreateCalendar creates a calendar; a name taken is ErrExists.
func (c *Client) CreateCalendar(ctx context.Context, userID, name string) (string, error) {
	cal := models.NewCalendar()
	cal.SetName(&name)
	got, err := c.gc.Users().ByUserId(userID).Calendars().Post(ctx, cal, nil)
	if err != nil {
		return "", conflict("create calendar", name, err)
	}
	return deref(got.GetId()), nil
}

// CreateEvent creates an event from its captured Graph JSON. With a
// transactionId, Graph answers a repeated create with the event it
// already made.
func (c *Client) CreateEvent(ctx context.Context, userID, calendarID string, event []byte, transactionID string) (string, error) {
	info, err := c.gc.Users().ByUserId(userID).Calendars().ByCalendarId(calendarID).Events().ToPostRequestInformation(ctx, models.NewEvent(), nil)
	if err != nil {
		return "", holdfast.E("create event", err)
	}
	return c.postJSON(ctx, "create event", info, event, eventWritable, "transactionId", transactionID)
}

// CreateContactFolder creates a contact folder; a name taken is ErrExists.
func (c *Client) CreateContactFolder(ctx context.Context, userID, name string) (string, error) {
	f := models.NewContactFolder()
	f.SetDisplayName(&name)
	got, err := c.gc.Users().ByUserId(userID).ContactFolders().Post(ctx, f, nil)
	if err != nil {
		return "", conflict("create contact folder", name, err)
	}
	return deref(got.GetId()), nil
}

// CreateContact creates a contact from its captured Graph JSON.
func (c *Client) CreateContact(ctx context.Context, userID, folderID string, contact []byte) (string, error) {
	info, err := c.gc.Users().ByUserId(userID).ContactFolders().ByContactFolderId(folderID).Contacts().ToPostRequestInformation(ctx, models.NewContact(), nil)
	if err != nil {
		return "", holdfast.E("create contact", err)
	}
	return c.postJSON(ctx, "create contact", info, contact, contactWritable)
}

// postJSON sends captured JSON, reduced to its writable properties, in a
// request the SDK built, and returns the created object's id.
// extra are property/value pairs to add.
func (c *Client) postJSON(ctx context.Context, op string, info *abs.RequestInformation, js []byte, keep []string, extra ...string) (string, error) {
	body, err := writable(js, keep, extra...)
	if err != nil {
		return "", holdfast.E(op, holdfast.Integrity, err, "captured JSON")
	}
	return c.postRaw(ctx, op, info, body, "application/json")
}

// postRaw replaces the body of a request the SDK built for a model with
// body of contentType, sends it, and returns the created object's id.
func (c *Client) postRaw(ctx context.Context, op string, info *abs.RequestInformation, body []byte, contentType string, prefer ...string) (string, error) {
	info.Headers = abs.NewRequestHeaders()
	info.Headers.Add("Accept", "application/json")
	for _, p := range prefer {
		info.Headers.Add("Prefer", p)
	}
	info.SetStreamContentAndContentType(body, contentType)
	resp, err := c.send(ctx, op, info, c.http)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		_, err := bodyOf(op, resp)
		return "", err
	}
	defer resp.Body.Close()
	var created struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&created); err != nil {
		return "", holdfast.E(op, holdfast.IO, err)
	}
	return created.ID, nil
}
