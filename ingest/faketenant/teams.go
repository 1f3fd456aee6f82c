package faketenant

import (
	"fmt"
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
}

func (t *Tenant) newChatMessage(from *User, body string, at time.Time, replyTo string) *ChatMessage {
	// Teams message ids are epoch milliseconds.
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
				m.Body += fmt.Sprintf(`<p><img src="https://graph.microsoft.com/v1.0/chats/%s/messages/%s/hostedContents/aWQ9,type=1/$value" alt="image"></p>`, c.ID, m.ID)
			}
			c.Messages[m.ID] = m
		}
		t.Chats = append(t.Chats, c)
	}
}

func chatMessageJSON(m *ChatMessage, channel, chat string) map[string]any {
	j := map[string]any{
		"@odata.type": "#microsoft.graph.chatMessage", "id": m.ID, "etag": fmt.Sprint(m.Seq), "messageType": "message",
		"createdDateTime": m.Created.Format(time.RFC3339Nano), "lastModifiedDateTime": m.Modified.Format(time.RFC3339Nano),
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
		j["deletedDateTime"] = m.Deleted.Format(time.RFC3339Nano)
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
		for _, m := range ch.Messages {
			m := m
			entries = append(entries, deltaEntry{seq: m.Seq, render: func() map[string]any { return chatMessageJSON(m, ch.ID, "") }})
		}
		s.serveDelta(w, r, ch.ID, s.base+"/v1.0/$metadata#Collection(chatMessage)", entries)
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

func sortedMessages(ms map[string]*ChatMessage) []*ChatMessage {
	var out []*ChatMessage
	for _, m := range ms {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Modified.After(out[j].Modified) })
	return out
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

// teamsActivity posts to a channel (a new thread and a reply to an old
// one), edits a chat message, deletes one, and posts a new one.
func (t *Tenant) teamsActivity(now time.Time) int {
	ch := t.Teams[0].Channels[1]
	at := now
	root := t.newChatMessage(t.Users[0], "<p>New engagement signed.</p>", at, "")
	ch.Messages[root.ID] = root
	old := sortedMessages(ch.Messages)
	parent := old[len(old)-1]
	rep := t.newChatMessage(t.Users[1], "<p>Following up on this.</p>", at.Add(time.Second), parent.ID)
	parent.Replies[rep.ID] = rep
	parent.Seq = t.nextSeq() // a reply surfaces its thread in the channel's delta
	c := t.Chats[0]
	ms := sortedMessages(c.Messages)
	ms[0].Body += "<p>(edited)</p>"
	ms[0].Modified, ms[0].Seq = now.Add(2*time.Second), t.nextSeq()
	d := now.Add(3 * time.Second)
	ms[1].Deleted, ms[1].Modified, ms[1].Seq = &d, d, t.nextSeq()
	nm := t.newChatMessage(c.Members[1], "<p>Thanks!</p>", now.Add(4*time.Second), "")
	c.Messages[nm.ID] = nm
	return 5
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
