package faketenant

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Team is a team with channels; Chat a 1:1 or group chat. Their messages
// are ChatMessages; a channel message's replies hang off it.
type Team struct {
	ID       string
	Name     string
	Members  []*User
	Channels []*Channel
}

// Channel is a team channel.
type Channel struct {
	ID       string
	Name     string
	Messages map[string]*ChatMessage
}

// Chat is a chat between users.
type Chat struct {
	ID       string
	Topic    string
	Type     string // oneOnOne, group
	Members  []*User
	Messages map[string]*ChatMessage
}

// ChatMessage is a message; Replies only for channel root messages.
type ChatMessage struct {
	ID       string
	ReplyTo  string
	From     *User
	Body     string
	Created  time.Time
	Modified time.Time
	Deleted  *time.Time
	Seq      int64
	Replies  map[string]*ChatMessage
	// Hosted are the message's hosted contents (pasted images) by id,
	// referenced from its body.
	Hosted map[string][]byte
}

// graphTime formats a time as Graph does in chat messages: UTC with
// milliseconds ("2024-03-02T09:00:00.114Z").
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// deltaWindow is how far back channel message delta reaches.
const deltaWindow = 8 * 30 * 24 * time.Hour

func (t *Tenant) newChatMessage(from *User, body string, at time.Time, replyTo string) *ChatMessage {
	// Teams message ids are epoch milliseconds; times carry milliseconds.
	at = at.Add(time.Duration((t.seq*37)%1000) * time.Millisecond)
	id := fmt.Sprint(at.UnixMilli() + t.seq)
	m := &ChatMessage{ID: id, ReplyTo: replyTo, From: from, Body: body, Created: at, Modified: at, Replies: map[string]*ChatMessage{}}
	m.Seq = t.nextSeq()
	return m
}

// seedTeams creates the firm's team with two channels, and chats.
func (t *Tenant) seedTeams() {
	r := rand.New(rand.NewPCG(t.opts.Seed, 0x7ea))
	team := &Team{ID: guid(t.opts.Seed, "team"), Name: "Contoso Accountants", Members: t.Users}
	n := scaled(t.opts.ItemsPerUser/2, 4)
	at := epoch
	for _, name := range []string{"General", "Client work"} {
		ch := &Channel{ID: "19:" + strings.ReplaceAll(guid(t.opts.Seed, "channel", name), "-", "") + "@thread.tacv2", Name: name, Messages: map[string]*ChatMessage{}}
		for i := 0; i < n; i++ {
			at = at.Add(37 * time.Minute)
			from := t.Users[r.IntN(len(t.Users)-1)]
			root := t.newChatMessage(from, fmt.Sprintf("<p>%s</p>", phrases[r.IntN(len(phrases))]), at, "")
			ch.Messages[root.ID] = root
			for j := 0; j < r.IntN(3); j++ {
				at = at.Add(3 * time.Minute)
				rep := t.newChatMessage(t.Users[r.IntN(len(t.Users)-1)], fmt.Sprintf("<p>Re: %s</p>", phrases[r.IntN(len(phrases))]), at, root.ID)
				root.Replies[rep.ID] = rep
			}
		}
		team.Channels = append(team.Channels, ch)
	}
	// Evidence of what was deleted before any backup: a post and a reply
	// that Graph still lists with their deletedDateTime.
	general := sortedMessages(team.Channels[0].Messages)
	gone := epoch.Add(30 * 24 * time.Hour)
	general[0].Deleted, general[0].Modified = &gone, gone
	for _, root := range general[1:] {
		if len(root.Replies) > 0 {
			rep := sortedMessages(root.Replies)[0]
			rep.Deleted, rep.Modified = &gone, gone
			break
		}
	}
	// A pasted image in a channel post.
	post := general[len(general)-1]
	post.Hosted = map[string][]byte{hostedID(post.ID): pngBytes(post.ID)}
	post.Body += fmt.Sprintf(`<p><img src="https://graph.microsoft.com/v1.0/teams/%s/channels/%s/messages/%s/hostedContents/%s/$value" alt="image"></p>`,
		team.ID, team.Channels[0].ID, post.ID, hostedID(post.ID))
	t.Teams = []*Team{team}
	pairs := [][]*User{{t.Users[0], t.Users[1]}, {t.Users[0], t.Users[2], t.Users[3]}, {t.Users[len(t.Users)-3], t.Users[0]}}
	for k, members := range pairs {
		typ, topic := "oneOnOne", ""
		if len(members) > 2 {
			typ, topic = "group", "Year-end planning"
		}
		c := &Chat{ID: "19:" + strings.ReplaceAll(guid(t.opts.Seed, "chat", fmt.Sprint(k)), "-", "") + "@unq.gbl.spaces", Topic: topic, Type: typ, Members: members, Messages: map[string]*ChatMessage{}}
		for i := 0; i < n; i++ {
			at = at.Add(11 * time.Minute)
			m := t.newChatMessage(members[i%len(members)], fmt.Sprintf("<p>%s</p>", phrases[r.IntN(len(phrases))]), at, "")
			if i == 1 {
				// A pasted image: hosted content referenced from the body.
				m.Hosted = map[string][]byte{hostedID(m.ID): pngBytes(m.ID)}
				m.Body += fmt.Sprintf(`<p><img src="https://graph.microsoft.com/v1.0/chats/%s/messages/%s/hostedContents/%s/$value" alt="image"></p>`, c.ID, m.ID, hostedID(m.ID))
			}
			c.Messages[m.ID] = m
		}
		t.Chats = append(t.Chats, c)
	}
}

func chatMessageJSON(m *ChatMessage, channel, chat string) map[string]any {
	j := map[string]any{
		"@odata.type": "#microsoft.graph.chatMessage", "id": m.ID, "etag": fmt.Sprint(m.Seq), "messageType": "message",
		"createdDateTime": graphTime(m.Created), "lastModifiedDateTime": graphTime(m.Modified),
		"importance": "normal", "locale": "en-us", "subject": nil,
		"body":        map[string]string{"contentType": "html", "content": m.Body},
		"from":        map[string]any{"user": map[string]any{"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": m.From.ID, "displayName": m.From.DisplayName, "userIdentityType": "aadUser"}},
		"attachments": []any{}, "mentions": []any{}, "reactions": []any{},
	}
	if m.ReplyTo != "" {
		j["replyToId"] = m.ReplyTo
	}
	if channel != "" {
		j["channelIdentity"] = map[string]string{"channelId": channel}
	}
	if chat != "" {
		j["chatId"] = chat
	}
	if m.Deleted != nil {
		j["deletedDateTime"] = graphTime(*m.Deleted)
		j["body"] = map[string]string{"contentType": "html", "content": ""}
	}
	return j
}

// serveTeams answers /teams, /teams/{id}/channels, channel message delta
// and replies.
func (s *Server) serveTeams(w http.ResponseWriter, r *http.Request, p []string) {
	if len(p) == 0 {
		var all []map[string]any
		for _, tm := range s.t.Teams {
			all = append(all, selectFields(r, map[string]any{"id": tm.ID, "displayName": tm.Name, "description": "The whole firm"}))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#teams", all, 100)
		return
	}
	var tm *Team
	for _, x := range s.t.Teams {
		if x.ID == p[0] {
			tm = x
		}
	}
	if tm == nil || len(p) < 2 || p[1] != "channels" {
		graphError(w, http.StatusNotFound, "NotFound", "No team found with Group Id "+p[0])
		return
	}
	if len(p) == 2 {
		var all []map[string]any
		for _, ch := range tm.Channels {
			all = append(all, selectFields(r, map[string]any{"id": ch.ID, "displayName": ch.Name, "membershipType": "standard"}))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#teams('"+tm.ID+"')/channels", all, 100)
		return
	}
	var ch *Channel
	for _, x := range tm.Channels {
		if x.ID == p[2] {
			ch = x
		}
	}
	switch {
	case ch == nil:
		graphError(w, http.StatusNotFound, "NotFound", "Channel not found")
	case len(p) == 5 && p[3] == "messages" && (p[4] == "delta()" || p[4] == "delta"):
		var entries []deltaEntry
		since := time.Now().Add(-deltaWindow)
		for _, m := range ch.Messages {
			m := m
			if !s.opts.NoDeltaWindow && m.Modified.Before(since) {
				continue // "Delta will only return messages within the last eight months."
			}
			entries = append(entries, deltaEntry{seq: m.Seq, render: func() map[string]any { return chatMessageJSON(m, ch.ID, "") }})
		}
		s.serveDelta(w, r, ch.ID, s.base+"/v1.0/$metadata#Collection(chatMessage)", entries)
	case len(p) == 4 && p[3] == "messages":
		// List channel messages: every root, newest first, whatever its
		// age; $top up to 50 (default 20); $expand=replies inlines up to
		// 1,000 replies, with replies@odata.nextLink for more.
		expand := r.URL.Query().Get("$expand") == "replies"
		var all []map[string]any
		for _, m := range sortedByCreated(ch.Messages) {
			j := chatMessageJSON(m, ch.ID, "")
			if expand {
				var reps []map[string]any
				for _, rep := range sortedByCreated(m.Replies) {
					reps = append(reps, chatMessageJSON(rep, ch.ID, ""))
				}
				j["replies@odata.context"] = s.base + "/v1.0/$metadata#teams('" + tm.ID + "')/channels('" + ch.ID + "')/messages('" + m.ID + "')/replies"
				if len(reps) > 1000 {
					reps = reps[:1000]
					j["replies@odata.nextLink"] = s.base + "/v1.0/teams/" + tm.ID + "/channels/" + ch.ID + "/messages/" + m.ID + "/replies?$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte("1000"))
				}
				j["replies"] = nonNil(reps)
			}
			all = append(all, j)
		}
		if r.URL.Query().Get("$top") == "" {
			q := r.URL.Query()
			q.Set("$top", "20")
			r.URL.RawQuery = q.Encode()
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#teams('"+tm.ID+"')/channels('"+ch.ID+"')/messages", all, 50)
	case len(p) >= 7 && p[3] == "messages" && p[len(p)-3] == "hostedContents" && p[len(p)-1] == "$value":
		m := ch.Messages[p[4]]
		if m != nil && len(p) == 9 && p[5] == "replies" {
			m = m.Replies[p[6]]
		}
		s.serveHosted(w, m, p[len(p)-2])
	case len(p) == 6 && p[3] == "messages" && p[5] == "replies":
		root := ch.Messages[p[4]]
		if root == nil {
			graphError(w, http.StatusNotFound, "NotFound", "Message not found")
			return
		}
		var all []map[string]any
		for _, rep := range sortedMessages(root.Replies) {
			all = append(all, chatMessageJSON(rep, ch.ID, ""))
		}
		s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#Collection(chatMessage)", all, 50)
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Unsupported channel request")
	}
}

// sortedByCreated lists messages newest first by creation, as the list
// endpoints serve them.
func sortedByCreated(ms map[string]*ChatMessage) []*ChatMessage {
	return newestFirst(ms, func(m *ChatMessage) time.Time { return m.Created })
}

// newestFirst lists messages newest first by the time at gives.
func newestFirst(ms map[string]*ChatMessage, at func(*ChatMessage) time.Time) []*ChatMessage {
	var out []*ChatMessage
	for _, m := range ms {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return at(out[i]).After(at(out[j])) })
	return out
}

// hostedID is the id of a message's pasted image, shaped like Graph's.
func hostedID(messageID string) string {
	return base64.StdEncoding.EncodeToString([]byte("id=x_0-wus-d2-" + messageID + ",type=1,url=https://us-api.asm.skype.com/v1/objects/0-wus-d2-" + messageID + "/views/imgo"))
}

// pngBytes is a small PNG of its own for each message.
func pngBytes(seed string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	h := fnv.New32a()
	h.Write([]byte(seed))
	v := h.Sum32()
	for i := range img.Pix {
		img.Pix[i] = byte(v >> (8 * (i % 4)))
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// serveHosted answers …/hostedContents/{id}/$value with the bytes.
func (s *Server) serveHosted(w http.ResponseWriter, m *ChatMessage, id string) {
	if m == nil || m.Hosted[id] == nil {
		graphError(w, http.StatusNotFound, "NotFound", "Hosted content not found")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(m.Hosted[id])
}

// sortedMessages lists messages newest first by their last change.
func sortedMessages(ms map[string]*ChatMessage) []*ChatMessage {
	return newestFirst(ms, func(m *ChatMessage) time.Time { return m.Modified })
}

// serveUserChats answers /users/{id}/chats.
func (s *Server) serveUserChats(w http.ResponseWriter, r *http.Request, u *User) {
	var all []map[string]any
	for _, c := range s.t.Chats {
		for _, m := range c.Members {
			if m == u {
				all = append(all, selectFields(r, map[string]any{"id": c.ID, "topic": c.Topic, "chatType": c.Type, "createdDateTime": epoch.Format(time.RFC3339)}))
			}
		}
	}
	s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#users('"+u.ID+"')/chats", all, 50)
}

// serveChats answers /chats/{id}/messages, newest first, with
// $filter=lastModifiedDateTime gt T as Graph supports for incremental reads.
func (s *Server) serveChats(w http.ResponseWriter, r *http.Request, p []string) {
	var c *Chat
	for _, x := range s.t.Chats {
		if len(p) > 0 && x.ID == p[0] {
			c = x
		}
	}
	if c != nil && len(p) == 6 && p[1] == "messages" && p[3] == "hostedContents" && p[5] == "$value" {
		s.serveHosted(w, c.Messages[p[2]], p[4])
		return
	}
	if c == nil || len(p) != 2 || p[1] != "messages" {
		graphError(w, http.StatusNotFound, "NotFound", "Chat not found")
		return
	}
	var since time.Time
	if f := r.URL.Query().Get("$filter"); f != "" {
		v, ok := strings.CutPrefix(f, "lastModifiedDateTime gt ")
		t, err := time.Parse(time.RFC3339Nano, v)
		if !ok || err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", "Only $filter=lastModifiedDateTime gt {date} is supported on chat messages")
			return
		}
		since = t
	}
	var all []map[string]any
	for _, m := range sortedMessages(c.Messages) {
		if m.Modified.After(since) {
			all = append(all, chatMessageJSON(m, "", c.ID))
		}
	}
	s.pageBySkipToken(w, r, s.base+"/v1.0/$metadata#chats('"+c.ID+"')/messages", all, 50)
}

// teamsActivity posts to a channel (a new thread and a reply to the oldest
// one), edits a reply and deletes another in an old thread, edits a chat
// message, deletes one, and posts a new one.
func (t *Tenant) teamsActivity(now time.Time) int {
	// Each day of activity comes after the last, as real time does, even
	// when two are played within the same second.
	if now.Before(t.teamsClock.Add(10 * time.Second)) {
		now = t.teamsClock.Add(10 * time.Second)
	}
	t.teamsClock = now
	ch := t.Teams[0].Channels[1]
	at := now
	root := t.newChatMessage(t.Users[0], "<p>New engagement signed.</p>", at, "")
	ch.Messages[root.ID] = root
	old := sortedMessages(ch.Messages)
	parent := old[len(old)-1]
	rep := t.newChatMessage(t.Users[1], "<p>Following up on this.</p>", at.Add(time.Second), parent.ID)
	parent.Replies[rep.ID] = rep
	if t.opts.RepliesSurfaceRoots {
		parent.Seq = t.nextSeq() // undocumented: a reply surfaces its thread in the channel's delta
	}
	// A reply edited and one deleted, in another old thread.
	for _, m := range old[:len(old)-1] {
		var live []*ChatMessage
		for _, r := range sortedMessages(m.Replies) {
			if r.Deleted == nil {
				live = append(live, r)
			}
		}
		if m.Deleted != nil || len(live) < 2 {
			continue
		}
		live[0].Body += "<p>(edited)</p>"
		live[0].Modified, live[0].Seq = now.Add(5*time.Second), t.nextSeq()
		d := now.Add(6 * time.Second)
		live[1].Deleted, live[1].Modified, live[1].Seq = &d, d, t.nextSeq()
		break
	}
	c := t.Chats[0]
	var ms []*ChatMessage
	for _, m := range sortedMessages(c.Messages) {
		if m.Deleted == nil {
			ms = append(ms, m)
		}
	}
	ms[0].Body += "<p>(edited)</p>"
	ms[0].Modified, ms[0].Seq = now.Add(2*time.Second), t.nextSeq()
	d := now.Add(3 * time.Second)
	ms[1].Deleted, ms[1].Modified, ms[1].Seq = &d, d, t.nextSeq()
	nm := t.newChatMessage(c.Members[1], "<p>Thanks!</p>", now.Add(4*time.Second), "")
	c.Messages[nm.ID] = nm
	return 7
}

// groups lists the tenant's groups: one per team (Microsoft 365 groups
// with resourceProvisioningOptions ["Team"]) and a security group.
func (t *Tenant) groups() []map[string]any {
	var out []map[string]any
	for _, tm := range t.Teams {
		out = append(out, map[string]any{"id": tm.ID, "displayName": tm.Name, "mail": "team@" + t.Domain, "mailEnabled": true, "securityEnabled": false,
			"groupTypes": []string{"Unified"}, "resourceProvisioningOptions": []string{"Team"}, "visibility": "Private"})
	}
	out = append(out, map[string]any{"id": guid(t.opts.Seed, "group", "partners"), "displayName": "Partners", "mail": nil, "mailEnabled": false, "securityEnabled": true,
		"groupTypes": []string{}, "resourceProvisioningOptions": []string{}, "visibility": nil})
	return out
}

// MessageJSON returns a Teams message (a channel post, a reply — id
// "root/reply" — or a chat message) exactly as the list endpoints serve it,
// without the replies $expand adds; nil if there is none.
func (s *Server) MessageJSON(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	root, reply, isReply := strings.Cut(id, "/")
	for _, tm := range s.t.Teams {
		for _, ch := range tm.Channels {
			if m := ch.Messages[root]; m != nil {
				if isReply {
					m = m.Replies[reply]
				}
				if m != nil {
					b, _ := json.Marshal(chatMessageJSON(m, ch.ID, ""))
					return b
				}
			}
		}
	}
	for _, c := range s.t.Chats {
		if m := c.Messages[id]; m != nil {
			b, _ := json.Marshal(chatMessageJSON(m, "", c.ID))
			return b
		}
	}
	return nil
}

// HostedContents returns every hosted content by the id of the message
// ("root/reply" for a reply) that holds it.
func (s *Server) HostedContents() map[string][][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][][]byte{}
	add := func(id string, m *ChatMessage) {
		for _, b := range m.Hosted {
			out[id] = append(out[id], b)
		}
	}
	for _, tm := range s.t.Teams {
		for _, ch := range tm.Channels {
			for _, m := range ch.Messages {
				add(m.ID, m)
				for _, r := range m.Replies {
					add(m.ID+"/"+r.ID, r)
				}
			}
		}
	}
	for _, c := range s.t.Chats {
		for _, m := range c.Messages {
			add(m.ID, m)
		}
	}
	return out
}

// HostileChatHTML is the body of the chat message the "hostile-names"
// scenario posts: script, event handlers, a remote tracking image, a
// javascript: link.
const HostileChatHTML = `<p onclick="steal()">Invoice attached</p><script>alert(document.cookie)</script>` +
	`<img src="https://tracker.example/pixel.gif?u=alice" onerror="steal()"><a href="javascript:steal()">open</a>` +
	`<iframe src="https://evil.example/"></iframe><style>@import url(https://evil.example/x.css);</style><b>bold stays</b>`
