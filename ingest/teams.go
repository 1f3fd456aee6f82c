package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
)

// Teams: every channel listed in full each run, chats by their last
// change, hosted contents with their messages.

// channels runs a stream per channel of every team. Every run lists the
// whole channel — every root message, whatever its age, with all its
// replies (ChannelThreads) — because channel delta reaches back only eight
// months and returns no replies: only the full list captures every post and
// every new, edited or deleted reply by means the reference documents.
// Items the store holds that the list no longer shows were deleted
// outright. A team stands in for the account.
func (r *runner) channels(ctx context.Context) error {
	const w = holdfast.Teams
	teams, err := r.src.Teams(ctx)
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Workload: w, Reason: "list teams: " + err.Error()})
		return nil
	}
	for _, tm := range teams {
		a := holdfast.Account{ID: tm.ID, UPN: "team:" + tm.Name, DisplayName: tm.Name, Enabled: true, Licensed: true}
		for _, ch := range tm.Channels {
			key := streamKey(w, tm.ID, ch.ID)
			path := tm.Name + "/" + ch.Name
			err := r.stream(ctx, a, w, key, ch.ID, path, func(link string, seen map[string]bool, ok *bool) (string, error) {
				err := r.src.ChannelThreads(ctx, tm.ID, ch.ID, func(root JSONItem, replies []JSONItem) error {
					hosted := map[string]func(id string) ([]byte, error){
						root.ID: func(id string) ([]byte, error) { return r.src.ChannelHostedContent(ctx, tm.ID, ch.ID, root.ID, "", id) },
					}
					for i := range replies {
						replyID := replies[i].ID
						replies[i].ID = root.ID + "/" + replyID
						hosted[replies[i].ID] = func(id string) ([]byte, error) {
							return r.src.ChannelHostedContent(ctx, tm.ID, ch.ID, root.ID, replyID, id)
						}
					}
					good, err := r.teamsPage(ctx, a, key, path, append([]JSONItem{root}, replies...), seen, hosted)
					*ok = *ok && good
					return err
				})
				if err != nil {
					return "", err
				}
				if link != "" && *ok {
					if err := r.tombstoneUnseen(ctx, a, w, key, seen, "no longer in the channel's full list of messages"); err != nil {
						return "", err
					}
				}
				return "listed " + r.opts.Now().UTC().Format(time.RFC3339), nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// teamsPage records Teams messages, with the hosted contents (pasted
// images) their bodies refer to as further refs, fetched by fetch[item].
func (r *runner) teamsPage(ctx context.Context, a holdfast.Account, key, path string, items []JSONItem, seen map[string]bool,
	fetch map[string]func(id string) ([]byte, error)) (bool, error) {
	byID := map[string]JSONItem{}
	for i := range items {
		items[i].HasAttachments = len(items[i].Hosted) > 0
		byID[items[i].ID] = items[i]
	}
	return r.pimPage(ctx, a, holdfast.Teams, key, path, items, seen, func(id string) ([]Attachment, error) {
		var out []Attachment
		for n, hid := range byID[id].Hosted {
			b, err := fetch[id](hid)
			if err != nil {
				return nil, err
			}
			ct := http.DetectContentType(b)
			name := fmt.Sprintf("hosted %d%s", n+1, extensionOf(ct))
			out = append(out, Attachment{Name: name, ContentType: ct, HostedID: hid, Content: b})
		}
		return out, nil
	})
}

// extensionOf is a file extension for a sniffed content type.
func extensionOf(ct string) string {
	switch strings.TrimSpace(strings.Split(ct, ";")[0]) {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	}
	return ".bin"
}

// userChats captures the chats a user is in, each once per run whichever
// member lists it first. Chats have no delta in Graph v1.0: a chat's
// position is the newest lastModifiedDateTime captured, and the next run
// asks for messages modified after it.
func (r *runner) userChats(ctx context.Context, a holdfast.Account) error {
	const w = holdfast.Teams
	chats, err := r.src.UserChats(ctx, a.ID)
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: w, Reason: "list chats: " + err.Error()})
		return nil
	}
	for _, c := range chats {
		r.mu.Lock()
		done := r.chatsDone[c.ID]
		r.chatsDone[c.ID] = true
		r.mu.Unlock()
		if done {
			continue
		}
		chat := holdfast.Account{ID: c.ID, UPN: "chat:" + c.ID, DisplayName: c.Name, Enabled: true, Licensed: true}
		key := streamKey(w, c.ID, "messages")
		path := "chats/" + c.ID
		err := r.stream(ctx, chat, w, key, c.ID, path, func(since string, seen map[string]bool, ok *bool) (string, error) {
			newest := since
			err := r.src.ChatMessages(ctx, c.ID, since, func(items []JSONItem) error {
				for _, it := range items {
					if ts := it.Modified.Format(time.RFC3339Nano); !it.Modified.IsZero() && ts > newest {
						newest = ts
					}
				}
				hosted := map[string]func(id string) ([]byte, error){}
				for _, it := range items {
					msgID := it.ID
					hosted[msgID] = func(id string) ([]byte, error) { return r.src.ChatHostedContent(ctx, c.ID, msgID, id) }
				}
				good, err := r.teamsPage(ctx, chat, key, path, items, seen, hosted)
				*ok = *ok && good
				return err
			})
			return newest, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TeamsSource is what the Teams part reads of the tenant.
type TeamsSource interface {
	// Teams lists every team with its channels.
	Teams(ctx context.Context) ([]Team, error)
	// ChannelThreads lists every root message of a channel, whatever its
	// age, with all its replies.
	ChannelThreads(ctx context.Context, teamID, channelID string, each func(root JSONItem, replies []JSONItem) error) error
	// ChannelHostedContent and ChatHostedContent return a hosted content
	// (a pasted image) of a channel message or reply, or of a chat message.
	ChannelHostedContent(ctx context.Context, teamID, channelID, messageID, replyID, id string) ([]byte, error)
	ChatHostedContent(ctx context.Context, chatID, messageID, id string) ([]byte, error)
	// UserChats lists the chats a user is a member of.
	UserChats(ctx context.Context, userID string) ([]Container, error)
	// ChatMessages lists a chat's messages modified after since (RFC 3339,
	// "" for all).
	ChatMessages(ctx context.Context, chatID, since string, page func([]JSONItem) error) error
}
