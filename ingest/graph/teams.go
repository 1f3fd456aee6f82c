package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/teams"
)

// Teams lists every team with its channels.
func (c *Client) Teams(ctx context.Context) ([]ingest.Team, error) {
	tb := c.gc.Teams()
	resp, err := tb.Get(ctx, nil)
	var out []ingest.Team
	err = pages("list teams", resp, err, func(u string) (models.TeamCollectionResponseable, error) { return tb.WithUrl(u).Get(ctx, nil) },
		func(ts []models.Teamable) error {
			for _, t := range ts {
				out = append(out, ingest.Team{ID: deref(t.GetId()), Name: deref(t.GetDisplayName())})
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	for i := range out {
		cb := c.gc.Teams().ByTeamId(out[i].ID).Channels()
		cr, err := cb.Get(ctx, nil)
		err = pages("list channels of "+out[i].Name, cr, err, func(u string) (models.ChannelCollectionResponseable, error) { return cb.WithUrl(u).Get(ctx, nil) },
			func(cs []models.Channelable) error {
				for _, ch := range cs {
					out[i].Channels = append(out[i].Channels, ingest.Container{ID: deref(ch.GetId()), Name: deref(ch.GetDisplayName())})
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Teams messages are kept as Graph sent them, byte for byte: pages are
// read raw (rawPages) and each message's JSON is its bytes in the page —
// the SDK's models would re-serialise them (and drop the milliseconds of
// every time).

// rawPage is one page of a collection, each value as sent.
type rawPage struct {
	Value []json.RawMessage `json:"value"`
	Next  string            `json:"@odata.nextLink"`
}

// rawPages GETs a collection page by page from the request info builds,
// following next links as given, and calls each with the values as sent.
func (c *Client) rawPages(ctx context.Context, op string, info *abs.RequestInformation, each func([]json.RawMessage) error) error {
	for {
		resp, err := c.send(ctx, op, info, c.http)
		if err != nil {
			return err
		}
		body, err := bodyOf(op, resp)
		if err != nil {
			return err
		}
		var p rawPage
		err = json.NewDecoder(io.LimitReader(body, maxPageBytes)).Decode(&p)
		body.Close()
		if err != nil {
			return holdfast.E(op, holdfast.IO, err, "a page that is not Graph's JSON")
		}
		if err := each(p.Value); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		if info, err = linkRequest(op, p.Next); err != nil {
			return err
		}
	}
}

// linkRequest is a GET of a link Graph gave (a next link), followed as given.
func linkRequest(op, link string) (*abs.RequestInformation, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err, "a link that is not a URL")
	}
	info := abs.NewRequestInformation()
	info.Method = abs.GET
	info.SetUri(*u)
	return info, nil
}

// maxPageBytes bounds a page read into memory (50 messages with 1,000
// replies each stay far below it).
const maxPageBytes = 256 << 20

// messageFields are the fields of a chat message Holdfast reads; the
// message itself is kept as sent.
type messageFields struct {
	ID       string     `json:"id"`
	ETag     string     `json:"etag"`
	Modified time.Time  `json:"lastModifiedDateTime"`
	Deleted  *time.Time `json:"deletedDateTime"`
	Body     struct {
		Content string `json:"content"`
	} `json:"body"`
	Replies     []json.RawMessage `json:"replies"`
	RepliesNext string            `json:"replies@odata.nextLink"`
}

// hostedRef finds the hosted contents a message body refers to
// (…/hostedContents/{id}/$value): only their ids are taken, and fetched
// from the message's own address, never from the URL in the body.
var hostedRef = regexp.MustCompile(`hostedContents/([A-Za-z0-9+/=_-]{1,1000})/\$value`)

// messageItem turns a message as sent into an item; a soft-deleted
// message (deletedDateTime set) is a removal that keeps its deletion time.
func messageItem(raw []byte) (ingest.JSONItem, messageFields, error) {
	var m messageFields
	if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
		return ingest.JSONItem{}, m, fmt.Errorf("a chat message that is not Graph's JSON: %v", err)
	}
	it := ingest.JSONItem{ID: m.ID, Modified: m.Modified.UTC()}
	if m.Deleted != nil {
		it.Removed, it.Deleted = true, m.Deleted.UTC()
		return it, m, nil
	}
	it.ChangeKey = m.ETag + "@" + it.Modified.Format(time.RFC3339Nano)
	it.Title = m.Body.Content
	if len(it.Title) > 200 {
		it.Title = it.Title[:200]
	}
	seen := map[string]bool{}
	for _, g := range hostedRef.FindAllStringSubmatch(m.Body.Content, -1) {
		if !seen[g[1]] {
			seen[g[1]] = true
			it.Hosted = append(it.Hosted, g[1])
		}
	}
	it.Content = raw
	return it, m, nil
}

// expansion are the members $expand=replies adds to a root message.
var expansion = []string{"replies", "replies@odata.context", "replies@odata.nextLink", "replies@odata.count"}

// ChannelThreads lists every root message of a channel, whatever its age,
// with all its replies: roots in pages of 50 with replies expanded (up to
// 1,000 inline, the rest by replies@odata.nextLink), as the reference
// documents for GET /teams/{id}/channels/{id}/messages. A root's JSON is
// kept as sent without the expansion's members.
func (c *Client) ChannelThreads(ctx context.Context, teamID, channelID string, each func(root ingest.JSONItem, replies []ingest.JSONItem) error) error {
	const op = "list channel messages"
	top := int32(50)
	mb := c.gc.Teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages()
	info, err := mb.ToGetRequestInformation(ctx, &teams.ItemChannelsItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &teams.ItemChannelsItemMessagesRequestBuilderGetQueryParameters{Top: &top, Expand: []string{"replies"}}})
	if err != nil {
		return holdfast.E(op, err)
	}
	return c.rawPages(ctx, op, info, func(vals []json.RawMessage) error {
		for _, raw := range vals {
			root, f, err := messageItem(raw)
			if err != nil {
				return holdfast.E(op, holdfast.IO, err)
			}
			if !root.Removed {
				if root.Content, err = withoutMembers(raw, expansion...); err != nil {
					return holdfast.E(op, holdfast.IO, err, "message "+root.ID)
				}
			}
			replyRaws := f.Replies
			if f.RepliesNext != "" {
				more, err := linkRequest("list replies", f.RepliesNext)
				if err != nil {
					return err
				}
				err = c.rawPages(ctx, "list replies", more, func(vs []json.RawMessage) error {
					replyRaws = append(replyRaws, vs...)
					return nil
				})
				if err != nil {
					return err
				}
			}
			var replies []ingest.JSONItem
			for _, rr := range replyRaws {
				it, _, err := messageItem(rr)
				if err != nil {
					return holdfast.E(op, holdfast.IO, err)
				}
				replies = append(replies, it)
			}
			if err := each(root, replies); err != nil {
				return err
			}
		}
		return nil
	})
}

// ChannelHostedContent returns the bytes of a hosted content (a pasted
// image) of a channel message, or of a reply when replyID is set.
func (c *Client) ChannelHostedContent(ctx context.Context, teamID, channelID, messageID, replyID, id string) ([]byte, error) {
	const op = "download hosted content"
	mb := c.gc.Teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages().ByChatMessageId(messageID)
	var info *abs.RequestInformation
	var err error
	if replyID != "" {
		info, err = mb.Replies().ByChatMessageId1(replyID).HostedContents().ByChatMessageHostedContentId(id).Content().ToGetRequestInformation(ctx, nil)
	} else {
		info, err = mb.HostedContents().ByChatMessageHostedContentId(id).Content().ToGetRequestInformation(ctx, nil)
	}
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	return c.readAll(ctx, op, info)
}

// ChatHostedContent returns the bytes of a hosted content of a chat message.
func (c *Client) ChatHostedContent(ctx context.Context, chatID, messageID, id string) ([]byte, error) {
	const op = "download hosted content"
	info, err := c.gc.Chats().ByChatId(chatID).Messages().ByChatMessageId(messageID).HostedContents().ByChatMessageHostedContentId(id).Content().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	return c.readAll(ctx, op, info)
}

// maxHostedBytes bounds a hosted content (an image pasted into a message).
const maxHostedBytes = 64 << 20

func (c *Client) readAll(ctx context.Context, op string, info *abs.RequestInformation) ([]byte, error) {
	resp, err := c.send(ctx, op, info, c.http)
	if err != nil {
		return nil, err
	}
	body, err := bodyOf(op, resp)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxHostedBytes+1))
	if err != nil {
		return nil, classify(op, err)
	}
	if len(b) > maxHostedBytes {
		return nil, holdfast.Errorf(op, holdfast.IO, "hosted content larger than %d bytes", maxHostedBytes)
	}
	return b, nil
}

// UserChats lists the chats a user is a member of.
func (c *Client) UserChats(ctx context.Context, userID string) ([]ingest.Container, error) {
	cb := c.gc.Users().ByUserId(userID).Chats()
	resp, err := cb.Get(ctx, nil)
	var out []ingest.Container
	err = pages("list chats", resp, err, func(u string) (models.ChatCollectionResponseable, error) { return cb.WithUrl(u).Get(ctx, nil) },
		func(cs []models.Chatable) error {
			for _, ch := range cs {
				name := deref(ch.GetTopic())
				if name == "" && ch.GetChatType() != nil {
					name = ch.GetChatType().String()
				}
				out = append(out, ingest.Container{ID: deref(ch.GetId()), Name: name})
			}
			return nil
		})
	return out, err
}

// ChatMessages lists a chat's messages modified after since ("" for all),
// newest first, as Graph serves them.
func (c *Client) ChatMessages(ctx context.Context, chatID, since string, page func([]ingest.JSONItem) error) error {
	const op = "list chat messages"
	mb := c.gc.Chats().ByChatId(chatID).Messages()
	cfg := &chats.ItemMessagesRequestBuilderGetRequestConfiguration{QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{
		Orderby: []string{"lastModifiedDateTime desc"}}}
	if since != "" {
		f := "lastModifiedDateTime gt " + since
		cfg.QueryParameters.Filter = &f
	}
	info, err := mb.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return holdfast.E(op, err)
	}
	return c.rawPages(ctx, op, info, func(vals []json.RawMessage) error {
		items := make([]ingest.JSONItem, 0, len(vals))
		for _, raw := range vals {
			it, _, err := messageItem(raw)
			if err != nil {
				return holdfast.E(op, holdfast.IO, err)
			}
			items = append(items, it)
		}
		return page(items)
	})
}
