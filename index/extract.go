package index

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Doc is what is indexed of one captured item version.
type Doc struct {
	Kind            string // email, meetings, contacts, docs, im, microsoftteams
	Account         string
	Custodians      []string
	Folder          string
	From, To        []string // recipient tokens: address, display name, alias
	Cc, Bcc         []string
	Subject         string
	Body            string
	AttachmentNames []string
	AttachmentText  string
	Filename        string
	Ext             string
	Author          string
	ModifiedBy      string
	Created         time.Time
	Modified        time.Time
	Sent            time.Time
	Received        time.Time
	Size            int64
	HasAttachment   bool
	Captured        time.Time
	Deleted         bool
	Disposed        bool // its content was disposed of: indexed from its record alone
	Item            string
	Version         uint64 // the item.version record's index
	Title           string
	Date            time.Time
	current         bool // the item's newest version (a deleted item's last)
	keepParts       bool // ReadMailBody: keep the attachments' bytes in parts
	unparsed        bool // a multipart section could not be read part by part
	parts           []MailAttachment
	key             string       // the item across its versions (itemKey)
	text            analyzedText // the positioned fields, tokenized (analysis.go)
}

// addrTokens are the keyword tokens of an address list: each address, its
// display name and its alias (the part before the @), lower case.
func addrTokens(list []*mail.Address) []string {
	var out []string
	for _, a := range list {
		out = append(out, recipient(a.Name, a.Address)...)
	}
	return out
}

func recipient(name, addr string) []string {
	var out []string
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr != "" {
		out = append(out, addr)
		if alias, _, ok := strings.Cut(addr, "@"); ok {
			out = append(out, alias)
		}
	}
	if n := strings.ToLower(strings.TrimSpace(name)); n != "" {
		out = append(out, n)
	}
	return out
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) { return r, nil }}

func decodeHeader(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

func addresses(h mail.Header, key string) []string {
	v := h.Get(key)
	if v == "" {
		return nil
	}
	list, err := (&mail.AddressParser{WordDecoder: &wordDecoder}).ParseList(v)
	if err != nil {
		// Unparseable lists still search by their words.
		return []string{strings.ToLower(strings.TrimSpace(decodeHeader(v)))}
	}
	return addrTokens(list)
}

// mailDoc fills d from a message's MIME.
func mailDoc(d *Doc, raw []byte) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		d.Body = string(raw) // not MIME: its bytes are still searchable
		return
	}
	h := msg.Header
	d.From, d.To, d.Cc, d.Bcc = addresses(h, "From"), addresses(h, "To"), addresses(h, "Cc"), addresses(h, "Bcc")
	d.Subject = decodeHeader(h.Get("Subject"))
	if from, err := mail.ParseAddress(h.Get("From")); err == nil {
		d.Author = from.Name
		if d.Author == "" {
			d.Author = from.Address
		}
	}
	if t, err := h.Date(); err == nil {
		d.Sent = t.UTC()
		d.Received = d.Sent
	}
	// The newest Received header's date: when it arrived.
	if rcv := h["Received"]; len(rcv) > 0 {
		if i := strings.LastIndex(rcv[0], ";"); i >= 0 {
			if t, err := mail.ParseDate(strings.TrimSpace(rcv[0][i+1:])); err == nil {
				d.Received = t.UTC()
			}
		}
	}
	var plain, htmlBody strings.Builder
	walkPart(d, textproto(h), msg.Body, &plain, &htmlBody, 0)
	d.Body = plain.String()
	if strings.TrimSpace(d.Body) == "" {
		d.Body = htmlText(htmlBody.String())
	}
	d.HasAttachment = len(d.AttachmentNames) > 0
}

type header interface{ Get(string) string }

func textproto(h mail.Header) header { return h }

func walkPart(d *Doc, h header, body io.Reader, plain, htm *strings.Builder, depth int) {
	if depth > 20 {
		return
	}
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ct = "text/plain"
	}
	if strings.HasPrefix(ct, "multipart/") && params["boundary"] != "" {
		raw, _ := io.ReadAll(io.LimitReader(body, 64<<20))
		mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				// A part Go's reader refuses (a header holding a control
				// character, say) would hide it and every part after it
				// from search: the whole section is read as text instead,
				// and said to be unparsed.
				plain.Write(raw)
				plain.WriteByte('\n')
				d.unparsed = true
				return
			}
			walkPart(d, p.Header, p, plain, htm, depth+1)
		}
	}
	data, _ := io.ReadAll(io.LimitReader(decodeTransfer(h.Get("Content-Transfer-Encoding"), body), 32<<20))
	name := ""
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		name = dp["filename"]
	}
	if name == "" {
		name = params["name"]
	}
	disp := strings.ToLower(h.Get("Content-Disposition"))
	if name != "" || strings.HasPrefix(disp, "attachment") {
		if name == "" {
			name = "attachment"
		}
		d.AttachmentNames = append(d.AttachmentNames, decodeHeader(name))
		if d.keepParts {
			d.parts = append(d.parts, MailAttachment{Name: decodeHeader(name), ContentType: ct, Data: data, Cut: len(data) == 32<<20})
		}
		if t := fileText(name, ct, data); t != "" {
			d.AttachmentText += t + "\n"
		}
		return
	}
	switch ct {
	case "text/plain":
		plain.Write(data)
		plain.WriteByte('\n')
	case "text/html":
		htm.Write(data)
	case "message/rfc822":
		var inner Doc
		mailDoc(&inner, data)
		plain.WriteString(inner.Subject + "\n" + inner.Body + "\n")
	}
}

func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	if j == 0 && n > 0 && err == nil {
		return s.Read(p)
	}
	return j, err
}

var (
	tagRe    = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	spacesRe = regexp.MustCompile(`[ \t\r\f]+`)
)

// htmlText converts HTML to its text.
func htmlText(s string) string {
	s = tagRe.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	return strings.TrimSpace(spacesRe.ReplaceAllString(s, " "))
}

// textLike are the file types whose text is indexed.
var textLike = map[string]bool{".txt": true, ".csv": true, ".html": true, ".htm": true, ".eml": true, ".md": true,
	".json": true, ".xml": true, ".log": true, ".docx": true, ".xlsx": true, ".pptx": true}

// fileText returns the searchable text of a file: text types as they are,
// HTML without tags, .eml as mail, and the text of Office Open XML.
func fileText(name, contentType string, data []byte) string {
	ext := strings.ToLower(path.Ext(name))
	if !textLike[ext] && !strings.HasPrefix(contentType, "text/") {
		return ""
	}
	switch ext {
	case ".html", ".htm":
		return htmlText(string(data))
	case ".eml":
		var d Doc
		mailDoc(&d, data)
		return d.Subject + "\n" + d.Body
	case ".docx", ".xlsx", ".pptx":
		return ooxmlText(data)
	}
	return string(data)
}

// ooxmlText extracts the text runs of a .docx, .xlsx or .pptx.
func ooxmlText(data []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return ""
	}
	var names []string
	for _, f := range zr.File {
		n := f.Name
		if n == "word/document.xml" || n == "xl/sharedStrings.xml" || (strings.HasPrefix(n, "ppt/slides/slide") && strings.HasSuffix(n, ".xml")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f, err := zr.Open(n)
		if err != nil {
			continue
		}
		x, _ := io.ReadAll(io.LimitReader(f, 64<<20))
		f.Close()
		// Paragraph and cell ends become spaces, so words do not run together.
		b.WriteString(htmlText(strings.NewReplacer("</w:p>", " </w:p>", "</a:p>", " </a:p>", "</si>", " </si>").Replace(string(x))))
		b.WriteByte('\n')
	}
	return b.String()
}

// eventDoc fills d from an event's Graph JSON.
func eventDoc(d *Doc, js []byte) {
	var e struct {
		Subject string `json:"subject"`
		Body    struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		Organizer struct {
			EmailAddress struct{ Name, Address string } `json:"emailAddress"`
		} `json:"organizer"`
		Attendees []struct {
			Type         string                         `json:"type"`
			EmailAddress struct{ Name, Address string } `json:"emailAddress"`
		} `json:"attendees"`
		Start struct {
			DateTime string `json:"dateTime"`
		} `json:"start"`
		Location struct {
			DisplayName string `json:"displayName"`
		} `json:"location"`
		Created  string `json:"createdDateTime"`
		Modified string `json:"lastModifiedDateTime"`
	}
	json.Unmarshal(js, &e)
	d.Subject = e.Subject
	d.Body = bodyText(e.Body.ContentType, e.Body.Content) + "\n" + e.Location.DisplayName
	d.From = recipient(e.Organizer.EmailAddress.Name, e.Organizer.EmailAddress.Address)
	d.Author = e.Organizer.EmailAddress.Name
	for _, a := range e.Attendees {
		toks := recipient(a.EmailAddress.Name, a.EmailAddress.Address)
		if strings.EqualFold(a.Type, "optional") {
			d.Cc = append(d.Cc, toks...)
		} else {
			d.To = append(d.To, toks...)
		}
	}
	if t, err := time.Parse("2006-01-02T15:04:05", trimFraction(e.Start.DateTime)); err == nil {
		d.Sent, d.Received = t.UTC(), t.UTC()
	}
	d.Created, _ = time.Parse(time.RFC3339, e.Created)
	d.Modified, _ = time.Parse(time.RFC3339, e.Modified)
}

func trimFraction(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i]
	}
	return s
}

func bodyText(contentType, content string) string {
	if strings.EqualFold(contentType, "html") || strings.Contains(content, "</") {
		return htmlText(content)
	}
	return content
}

// contactDoc fills d from a contact's Graph JSON.
func contactDoc(d *Doc, js []byte) {
	var c struct {
		DisplayName    string                           `json:"displayName"`
		CompanyName    string                           `json:"companyName"`
		JobTitle       string                           `json:"jobTitle"`
		EmailAddresses []struct{ Name, Address string } `json:"emailAddresses"`
		BusinessPhones []string                         `json:"businessPhones"`
		MobilePhone    string                           `json:"mobilePhone"`
		PersonalNotes  string                           `json:"personalNotes"`
		Created        string                           `json:"createdDateTime"`
		Modified       string                           `json:"lastModifiedDateTime"`
	}
	json.Unmarshal(js, &c)
	d.Subject = c.DisplayName
	for _, a := range c.EmailAddresses {
		d.To = append(d.To, recipient(a.Name, a.Address)...)
	}
	d.Body = strings.Join(append([]string{c.DisplayName, c.CompanyName, c.JobTitle, c.MobilePhone, c.PersonalNotes}, c.BusinessPhones...), "\n")
	d.Created, _ = time.Parse(time.RFC3339, c.Created)
	d.Modified, _ = time.Parse(time.RFC3339, c.Modified)
}

// chatDoc fills d from a Teams chat or channel message's Graph JSON;
// userUPN maps Entra user ids to UPNs (for custodians and senders).
func chatDoc(d *Doc, js []byte, userUPN func(id string) string) {
	var m struct {
		Subject string `json:"subject"`
		Body    struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		From *struct {
			User *struct {
				ID          string `json:"id"`
				DisplayName string `json:"displayName"`
			} `json:"user"`
		} `json:"from"`
		Attachments []struct {
			Name string `json:"name"`
		} `json:"attachments"`
		Mentions []struct {
			Mentioned struct {
				User *struct {
					ID          string `json:"id"`
					DisplayName string `json:"displayName"`
				} `json:"user"`
			} `json:"mentioned"`
		} `json:"mentions"`
		Created  string `json:"createdDateTime"`
		Modified string `json:"lastModifiedDateTime"`
	}
	json.Unmarshal(js, &m)
	d.Subject = m.Subject
	d.Body = bodyText(m.Body.ContentType, m.Body.Content)
	if m.From != nil && m.From.User != nil {
		upn := userUPN(m.From.User.ID)
		d.From = recipient(m.From.User.DisplayName, upn)
		d.Author = m.From.User.DisplayName
		if upn != "" {
			d.Custodians = append(d.Custodians, strings.ToLower(upn))
		}
	}
	for _, mn := range m.Mentions {
		if u := mn.Mentioned.User; u != nil {
			d.To = append(d.To, recipient(u.DisplayName, userUPN(u.ID))...)
		}
	}
	for _, a := range m.Attachments {
		if a.Name != "" {
			d.AttachmentNames = append(d.AttachmentNames, a.Name)
		}
	}
	d.HasAttachment = len(d.AttachmentNames) > 0
	d.Created, _ = time.Parse(time.RFC3339Nano, m.Created)
	d.Modified, _ = time.Parse(time.RFC3339Nano, m.Modified)
	d.Sent, d.Received = d.Created, d.Created
}

// MailHeader is what a load file shows of a message.
type MailHeader struct {
	From, To, Cc, Bcc, Subject string
	Sent, Received             time.Time
}

// MailFields reads a message's sender, recipients, subject and date.
func MailFields(raw []byte) MailHeader {
	var d Doc
	mailDoc(&d, raw)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return MailHeader{Subject: d.Subject, Sent: d.Sent}
	}
	h := func(k string) string { return decodeHeader(msg.Header.Get(k)) }
	return MailHeader{From: h("From"), To: h("To"), Cc: h("Cc"), Bcc: h("Bcc"), Subject: d.Subject, Sent: d.Sent, Received: d.Received}
}

// MailBody is a message's body as captured: its text part, its HTML part
// (raw — hostile: a viewer sanitises it) and its attachments, by the walk
// the index reads mail with.
type MailBody struct {
	Plain, HTML string
	Attachments []MailAttachment
	// Unparsed: a part of the message could not be read as MIME (its
	// header was refused); its text is in Plain, its attachments are not
	// listed: the message as captured has them all.
	Unparsed bool
}

// MailAttachment is one attached file of a message, decoded: at most
// 32 MiB of it, as the index reads; Cut says it may be longer.
type MailAttachment struct {
	Name, ContentType string
	Data              []byte
	Cut               bool
}

// ReadMailBody reads a message's body parts from its MIME.
func ReadMailBody(raw []byte) MailBody {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return MailBody{Plain: string(raw)}
	}
	d := Doc{keepParts: true}
	var plain, htm strings.Builder
	walkPart(&d, textproto(msg.Header), msg.Body, &plain, &htm, 0)
	return MailBody{Plain: plain.String(), HTML: htm.String(), Attachments: d.parts, Unparsed: d.unparsed}
}
