package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Teams lists every team with its channels.
func (c *Client) Teams(ctx context.Context) ([]ingest.Team, error) {
	tb := c.gc.Teams()
	resp, err := tb.Get(ctx, nil)
	var out []ingest.Team
	for {
		if err != nil {
			return nil, classify("list teams", err)
		}
		for _, t := range resp.GetValue() {
			out = append(out, ingest.Team{ID: deref(t.GetId()), Name: deref(t.GetDisplayName())})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			break
		}
		resp, err = tb.WithUrl(next).Get(ctx, nil)
	}
	for i := range out {
		cb := c.gc.Teams().ByTeamId(out[i].ID).Channels()
		cr, err := cb.Get(ctx, nil)
		for {
			if err != nil {
				return nil, classify("list channels of "+out[i].Name, err)
			}
			for _, ch := range cr.GetValue() {
				out[i].Channels = append(out[i].Channels, ingest.Container{ID: deref(ch.GetId()), Name: deref(ch.GetDisplayName())})
			}
			next := deref(cr.GetOdataNextLink())
			if next == "" {
				break
			}
			cr, err = cb.WithUrl(next).Get(ctx, nil)
		}
	}
	return out, nil
}

// chatItem turns a chat message into an item: its JSON is the content, a
// soft-deleted message (deletedDateTime set) is a removal.
func chatItem(m models.ChatMessageable) (ingest.JSONItem, error) {
	it := ingest.JSONItem{ID: deref(m.GetId())}
	if t := m.GetLastModifiedDateTime(); t != nil {
		it.Modified = t.UTC()
	}
	if m.GetDeletedDateTime() != nil {
		it.Removed = true
		return it, nil
	}
	it.ChangeKey = deref(m.GetEtag()) + "@" + it.Modified.Format(time.RFC3339Nano)
	if b := m.GetBody(); b != nil {
		it.Title = deref(b.GetContent())
		if len(it.Title) > 200 {
			it.Title = it.Title[:200]
		}
	}
	b, err := serialise(m)
	if err != nil {
		return it, fmt.Errorf("serialise message %s: %w", it.ID, err)
	}
	it.Content = b
	return it, nil
}

func chatItems(ms []models.ChatMessageable) ([]ingest.JSONItem, error) {
	var out []ingest.JSONItem
	for _, m := range ms {
		it, err := chatItem(m)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// ChannelMessagesDelta follows a channel's root-message delta.
func (c *Client) ChannelMessagesDelta(ctx context.Context, teamID, channelID, link string, page func([]ingest.JSONItem) error) (string, error) {
	const op = "channel message delta"
	db := c.gc.Teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages().Delta()
	b := db
	if link != "" {
		b = db.WithUrl(link)
	}
	for {
		resp, err := b.GetAsDeltaGetResponse(ctx, nil)
		if err != nil {
			return "", classify(op, err)
		}
		items, err := chatItems(resp.GetValue())
		if err != nil {
			return "", holdfast.E(op, err)
		}
		if err := page(items); err != nil {
			return "", err
		}
		if next := deref(resp.GetOdataNextLink()); next != "" {
			b = db.WithUrl(next)
			continue
		}
		return deltaLink(op, resp.GetOdataDeltaLink())
	}
}

// ChannelReplies lists every reply to a channel message.
func (c *Client) ChannelReplies(ctx context.Context, teamID, channelID, messageID string) ([]ingest.JSONItem, error) {
	const op = "list replies"
	rb := c.gc.Teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages().ByChatMessageId(messageID).Replies()
	resp, err := rb.Get(ctx, nil)
	var out []ingest.JSONItem
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		items, cerr := chatItems(resp.GetValue())
		if cerr != nil {
			return nil, holdfast.E(op, cerr)
		}
		out = append(out, items...)
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = rb.WithUrl(next).Get(ctx, nil)
	}
}

// UserChats lists the chats a user is a member of.
func (c *Client) UserChats(ctx context.Context, userID string) ([]ingest.Container, error) {
	cb := c.gc.Users().ByUserId(userID).Chats()
	resp, err := cb.Get(ctx, nil)
	var out []ingest.Container
	for {
		if err != nil {
			return nil, classify("list chats", err)
		}
		for _, ch := range resp.GetValue() {
			name := deref(ch.GetTopic())
			if name == "" && ch.GetChatType() != nil {
				name = ch.GetChatType().String()
			}
			out = append(out, ingest.Container{ID: deref(ch.GetId()), Name: name})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = cb.WithUrl(next).Get(ctx, nil)
	}
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
	resp, err := mb.Get(ctx, cfg)
	for {
		if err != nil {
			return classify(op, err)
		}
		items, cerr := chatItems(resp.GetValue())
		if cerr != nil {
			return holdfast.E(op, cerr)
		}
		if err := page(items); err != nil {
			return err
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		resp, err = mb.WithUrl(next).Get(ctx, nil)
	}
}
