package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
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
	return deltaPages(op, link, func(u string) (teams.ItemChannelsItemMessagesDeltaGetResponseable, error) {
		if u == "" {
			return db.GetAsDeltaGetResponse(ctx, nil)
		}
		return db.WithUrl(u).GetAsDeltaGetResponse(ctx, nil)
	}, func(ms []models.ChatMessageable) error {
		items, err := chatItems(ms)
		if err != nil {
			return holdfast.E(op, err)
		}
		return page(items)
	})
}

// ChannelReplies lists every reply to a channel message.
func (c *Client) ChannelReplies(ctx context.Context, teamID, channelID, messageID string) ([]ingest.JSONItem, error) {
	const op = "list replies"
	rb := c.gc.Teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages().ByChatMessageId(messageID).Replies()
	resp, err := rb.Get(ctx, nil)
	var out []ingest.JSONItem
	err = pages(op, resp, err, func(u string) (models.ChatMessageCollectionResponseable, error) { return rb.WithUrl(u).Get(ctx, nil) },
		func(ms []models.ChatMessageable) error {
			items, err := chatItems(ms)
			if err != nil {
				return holdfast.E(op, err)
			}
			out = append(out, items...)
			return nil
		})
	return out, err
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
	resp, err := mb.Get(ctx, cfg)
	return pages(op, resp, err, func(u string) (models.ChatMessageCollectionResponseable, error) { return mb.WithUrl(u).Get(ctx, nil) },
		func(ms []models.ChatMessageable) error {
			items, err := chatItems(ms)
			if err != nil {
				return holdfast.E(op, err)
			}
			return page(items)
		})
}
