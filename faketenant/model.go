package faketenant

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

// Options configure the seeded tenant and its faults.
type Options struct {
	Seed         uint64
	Users        int // total users, departed ones included (minimum 5)
	ItemsPerUser int // messages per mailbox
	// Faults, as probabilities per Graph request.
	Fault429    float64
	Fault503    float64
	FaultReset  float64
	ExpireDelta float64 // a delta request with a token answers 410
	// Damage in transit: a JSON answer cut in half, a download shorter
	// than its Content-Length.
	FaultMalformed float64
	FaultShortBody float64
	FaultCorrupt   float64 // a download with one byte flipped
	Latency        time.Duration
	// RetryAfter is what 429 and 503 answers ask clients to wait, rounded
	// up to whole seconds as Graph sends it (default 1s; negative: 0).
	RetryAfter time.Duration
	// Roles are the application permissions the app holds (default: all
	// Holdfast needs).
	Roles []string
	// PageSize is the default page size (Prefer: odata.maxpagesize overrides).
	PageSize int
	// NoDeltaWindow switches off the documented eight-month window of
	// channel message delta ("Delta will only return messages within the
	// last eight months"), which is on by default.
	NoDeltaWindow bool
	// RepliesSurfaceRoots plays the undocumented behaviour some clients
	// rely on: a new reply makes its root message come back in channel
	// delta. Microsoft does not promise it; off by default.
	RepliesSurfaceRoots bool
	// Limits override Microsoft's published throttling limits, which the
	// server enforces unless NoLimits; Limits.Scale divides every window.
	Limits   graphlimit.Limits
	NoLimits bool
	// LargeMailbox, above 1, makes the first user's mailbox that many
	// times ItemsPerUser: a tenant with one mailbox much larger than the
	// rest, as the throughput benchmark needs.
	LargeMailbox int
}

func (o *Options) defaults() {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Users < 5 {
		o.Users = 15
	}
	if o.ItemsPerUser <= 0 {
		o.ItemsPerUser = 24
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = time.Second
	}
	if o.PageSize <= 0 {
		o.PageSize = 10
	}
}

// epoch is when the seeded tenant's history starts.
var epoch = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

// User is a directory user and their mailbox.
type User struct {
	ID             string
	UPN            string
	DisplayName    string
	Mail           string
	Enabled        bool
	Licensed       bool
	Deleted        *time.Time // soft-deleted: only under directory/deletedItems
	Purpose        string     // user, shared, room, equipment (mailboxSettings → userPurpose); "" for a guest
	Guest          bool       // userType Guest: no mailbox, no OneDrive, no licence
	Folders        []*Folder  // mail folders, parents before children
	Drive          *Drive
	Calendars      []*Calendar
	ContactFolders []*ContactFolder // the default folder first
}

// Folder is a mail folder with its messages.
type Folder struct {
	ID          string
	DisplayName string
	ParentID    string // "" for top level (the msgfolderroot)
	WellKnown   string
	Messages    map[string]*Message
}

// Message is a message with its MIME. Seq is the tenant change sequence of
// its last change; a deleted message keeps its entry for delta.
type Message struct {
	ID           string
	FolderID     string
	Subject      string
	From         Address
	To           []Address
	Cc           []Address
	Received     time.Time
	Modified     time.Time
	IsRead       bool
	HasAttach    bool
	Attachments  []string
	InternetID   string
	Conversation string
	MIME         []byte
	Body         string // the text part, for tests that check search
	AttachText   string // the attachment's text
	Seq          int64
	Deleted      bool
}

// Address is a Graph emailAddress.
type Address struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Tenant is the seeded tenant's state. All access is under Server.mu.
type Tenant struct {
	ID           string
	Domain       string
	ClientID     string
	ClientSecret string
	Users        []*User // employees
	Others       []*User // shared and room mailboxes, guests
	Sites        []*Site
	Teams        []*Team
	Chats        []*Chat
	seq          int64
	teamsClock   time.Time // the last moment of Teams activity played
	rng          *rand.Rand
	opts         Options
}

var firstNames = []string{"Alice", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Keiko", "Liam", "Maya", "Noah", "Olivia",
	"Priya", "Quentin", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xavier", "Yara", "Zane"}
var lastNames = []string{"Moreau", "Okafor", "Lindqvist", "Patel", "Rossi", "Haddad", "Kim", "Brandt", "MacLeod", "Weber", "Sato", "O'Neill", "Cohen", "Fischer", "Novak"}

var clients = []string{"Harbour Bakery Ltd", "Greenfield Dental", "Northwind Logistics", "Bluebell Florists", "Oakridge Builders", "Riverside Vets"}
var topics = []string{"VAT return", "Year-end accounts", "Payroll run", "Invoice query", "Bank reconciliation", "Tax planning", "Audit schedule", "Expense claims"}
var phrases = []string{"Please find attached the latest figures for the quarter.", "We have reviewed the ledger and noted a few items that need your attention.",
	"Could you confirm the opening balances and send the missing receipts?", "The deadline is approaching and we would like to avoid any penalties.",
	"Thank you for your patience while we finalise the return.", "The bank reconciliation shows two unmatched payments.",
	"Depreciation has been recalculated on the new schedule.", "Remittance advice for the outstanding invoices is below."}

// guid makes a deterministic GUID-shaped id.
func guid(seed uint64, parts ...string) string {
	h := sha256.Sum256([]byte(fmt.Sprint(seed, parts)))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// graphID makes a deterministic id shaped like Exchange's (URL-safe base64).
func graphID(prefix string, seed uint64, parts ...string) string {
	h := sha256.Sum256([]byte(fmt.Sprint(seed, parts)))
	return prefix + base64.RawURLEncoding.EncodeToString(h[:24])
}

func newTenant(o Options) *Tenant {
	o.defaults()
	t := &Tenant{
		ID:           guid(o.Seed, "tenant"),
		Domain:       "contoso-accountants.example",
		ClientID:     guid(o.Seed, "client"),
		ClientSecret: "hf~" + base64.RawURLEncoding.EncodeToString([]byte(guid(o.Seed, "secret")))[:32],
		rng:          rand.New(rand.NewPCG(o.Seed, 0x5eed)),
		opts:         o,
	}
	for i := 0; i < o.Users; i++ {
		first := firstNames[i%len(firstNames)]
		last := lastNames[(i*7)%len(lastNames)]
		nick := strings.ToLower(first)
		if i >= len(firstNames) {
			nick = fmt.Sprintf("%s%d", nick, i/len(firstNames)+1)
		}
		u := &User{
			ID:          guid(o.Seed, "user", nick),
			UPN:         nick + "@" + t.Domain,
			DisplayName: first + " " + last,
			Mail:        nick + "@" + t.Domain,
			Enabled:     true,
			Licensed:    true,
			Purpose:     "user",
		}
		t.Users = append(t.Users, u)
	}
	// Departed employees: the last three users.
	n := len(t.Users)
	t.Users[n-3].Enabled = false // left, account disabled
	t.Users[n-2].Licensed = false
	deleted := epoch.Add(40 * 24 * time.Hour)
	t.Users[n-1].Deleted = &deleted
	for _, u := range t.Users {
		t.seedMailbox(u)
		t.seedDrive(u)
		t.seedPIM(u)
	}
	t.seedSites()
	t.seedTeams()
	t.seedOthers()
	return t
}

// seedOthers adds the accounts that are not employees, with the shapes
// Graph gives them: a shared mailbox and a room, whose accounts are
// disabled and unlicensed by design and which have no OneDrive, and a
// guest (userType Guest, #EXT# in the UPN), who has neither a mailbox nor
// a OneDrive. They are seeded last so the employees' content is as before.
func (t *Tenant) seedOthers() {
	mk := func(nick, name, purpose string) *User {
		return &User{ID: guid(t.opts.Seed, "user", nick), UPN: nick + "@" + t.Domain, DisplayName: name, Mail: nick + "@" + t.Domain, Purpose: purpose}
	}
	shared := mk("accounts", "Accounts (shared mailbox)", "shared")
	room := mk("boardroom", "Boardroom", "room")
	t.seedMailbox(shared)
	t.seedPIM(shared)
	t.seedMailbox(room)
	t.seedPIM(room)
	guest := &User{ID: guid(t.opts.Seed, "user", "guest"), UPN: "jo.bloggs_partner.example#EXT#@" + t.Domain, DisplayName: "Jo Bloggs (Partner LLP)",
		Mail: "jo.bloggs@partner.example", Enabled: true, Guest: true}
	t.Others = append(t.Others, shared, room, guest)
}

// accounts are every directory user: employees, then the others.
func (t *Tenant) accounts() []*User { return append(t.Users[:len(t.Users):len(t.Users)], t.Others...) }

// hasMailbox reports whether Exchange serves u's mailbox (guests have none).
func (u *User) hasMailbox() bool { return !u.Guest }

func (t *Tenant) nextSeq() int64 { t.seq++; return t.seq }

func (t *Tenant) seedMailbox(u *User) {
	mk := func(name, wellKnown, parent string) *Folder {
		f := &Folder{ID: graphID("AAMkAD", t.opts.Seed, u.UPN, "folder", name), DisplayName: name, ParentID: parent, WellKnown: wellKnown, Messages: map[string]*Message{}}
		u.Folders = append(u.Folders, f)
		return f
	}
	inbox := mk("Inbox", "inbox", "")
	sent := mk("Sent Items", "sentitems", "")
	mk("Deleted Items", "deleteditems", "")
	mk("Drafts", "drafts", "")
	clientsF := mk("Clients", "", inbox.ID)
	harbour := mk("Harbour Bakery", "", clientsF.ID)
	targets := []*Folder{inbox, inbox, inbox, sent, clientsF, harbour}
	n := t.opts.ItemsPerUser
	if t.opts.LargeMailbox > 1 && len(t.Users) > 0 && u == t.Users[0] {
		n *= t.opts.LargeMailbox
	}
	for i := 0; i < n; i++ {
		f := targets[i%len(targets)]
		t.addMessage(u, f, i)
	}
}

func (t *Tenant) colleague(u *User, r *rand.Rand) *User {
	for {
		c := t.Users[r.IntN(len(t.Users))]
		if c != u {
			return c
		}
	}
}

// addMessage creates message number n in folder f of u's mailbox.
func (t *Tenant) addMessage(u *User, f *Folder, n int) *Message {
	r := rand.New(rand.NewPCG(t.opts.Seed, uint64(n)<<20^uint64(len(u.UPN))<<8^uint64(len(f.DisplayName))))
	other := t.colleague(u, r)
	from, to := Address{other.DisplayName, other.Mail}, []Address{{u.DisplayName, u.Mail}}
	if f.WellKnown == "sentitems" {
		from, to = to[0], []Address{from}
	}
	client := clients[r.IntN(len(clients))]
	topic := topics[r.IntN(len(topics))]
	m := &Message{
		ID:           graphID("AAMkAGI", t.opts.Seed, u.UPN, f.ID, fmt.Sprint(n), fmt.Sprint(t.seq)),
		FolderID:     f.ID,
		Subject:      fmt.Sprintf("%s — %s", topic, client),
		From:         from,
		To:           to,
		Received:     epoch.Add(time.Duration(n)*97*time.Minute + time.Duration(r.IntN(3600))*time.Second),
		IsRead:       r.IntN(3) != 0,
		Conversation: graphID("AAQkAD", t.opts.Seed, topic, client),
	}
	if r.IntN(4) == 0 {
		m.Cc = []Address{{t.Users[0].DisplayName, t.Users[0].Mail}}
	}
	if r.IntN(3) == 0 {
		m.HasAttach = true
		m.Attachments = []string{fmt.Sprintf("%s %s.csv", client, strings.ToLower(topic))}
	}
	m.Modified = m.Received
	m.InternetID = fmt.Sprintf("<%s@%s>", guid(t.opts.Seed, m.ID), t.Domain)
	var body strings.Builder
	fmt.Fprintf(&body, "Hi %s,\r\n\r\n", strings.Fields(m.To[0].Name)[0])
	for i := 0; i < 3+r.IntN(6); i++ {
		body.WriteString(phrases[r.IntN(len(phrases))])
		body.WriteString(" ")
	}
	fmt.Fprintf(&body, "\r\n\r\nTotal: %d.%02d GBP\r\n\r\nKind regards,\r\n%s\r\n", 100+r.IntN(90000), r.IntN(100), strings.Fields(m.From.Name)[0])
	m.Body = body.String()
	m.MIME = buildMIME(m, m.Body, r)
	m.Seq = t.nextSeq()
	f.Messages[m.ID] = m
	return m
}

func fmtAddrs(as []Address) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%q <%s>", a.Name, a.Address))
	}
	return strings.Join(parts, ", ")
}

// buildMIME writes an RFC 5322 message with CRLF line ends; with an
// attachment it is multipart/mixed with a base64 CSV part.
func buildMIME(m *Message, body string, r *rand.Rand) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", fmtAddrs([]Address{m.From}), fmtAddrs(m.To))
	if len(m.Cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\r\n", fmtAddrs(m.Cc))
	}
	fmt.Fprintf(&b, "Subject: =?utf-8?B?%s?=\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n",
		base64.StdEncoding.EncodeToString([]byte(m.Subject)), m.Received.Format(time.RFC1123Z), m.InternetID)
	if !m.HasAttach {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s", body)
		return []byte(b.String())
	}
	boundary := "hf_" + strings.TrimPrefix(m.InternetID[1:9], "<")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", boundary, boundary, body)
	var csv strings.Builder
	csv.WriteString("date,description,amount\r\n")
	for i := 0; i < 20+r.IntN(40); i++ {
		fmt.Fprintf(&csv, "2025-%02d-%02d,%s,%d.%02d\r\n", 1+r.IntN(12), 1+r.IntN(28), phrases[r.IntN(len(phrases))][:20], r.IntN(5000), r.IntN(100))
	}
	m.AttachText = csv.String()
	enc := base64.StdEncoding.EncodeToString([]byte(csv.String()))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/csv; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, m.Attachments[0], m.Attachments[0])
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	fmt.Fprintf(&b, "%s\r\n--%s--\r\n", enc, boundary)
	return []byte(b.String())
}

func (t *Tenant) user(idOrUPN string) *User {
	// Every Graph request to a user comes here (twice, with the limits):
	// walk the two lists rather than build accounts().
	for _, us := range [2][]*User{t.Users, t.Others} {
		for _, u := range us {
			if u.ID == idOrUPN || strings.EqualFold(u.UPN, idOrUPN) {
				return u
			}
		}
	}
	return nil
}

func (u *User) folder(id string) *Folder {
	for _, f := range u.Folders {
		if f.ID == id || (f.WellKnown != "" && strings.EqualFold(f.WellKnown, id)) {
			return f
		}
	}
	return nil
}

func (u *User) message(id string) *Message {
	for _, f := range u.Folders {
		if m, ok := f.Messages[id]; ok && !m.Deleted {
			return m
		}
	}
	return nil
}

// scaled bounds how many items of the workloads other than mail a seed
// creates: --items-per-user scales mailboxes for benchmarks, and drives
// (files up to 200 KB, held in memory) would otherwise make the fake
// tenant itself the bottleneck.
func scaled(n, least int) int { return min(max(n, least), 100) }
