package graph

import (
	"context"
	"encoding/base64"

	"github.com/holdfast/holdfast"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// CreateMailFolder creates a mail folder named name under parentID ("" for
// the top of the mailbox) and returns its id. A name already taken is
// ErrExists: restores never merge into an existing folder.
func (c *Client) CreateMailFolder(ctx context.Context, userID, parentID, name string) (string, error) {
	const op = "create mail folder"
	f := models.NewMailFolder()
	f.SetDisplayName(&name)
	mb := c.gc.Users().ByUserId(userID).MailFolders()
	var got models.MailFolderable
	var err error
	if parentID == "" {
		got, err = mb.Post(ctx, f, nil)
	} else {
		got, err = mb.ByMailFolderId(parentID).ChildFolders().Post(ctx, f, nil)
	}
	if err != nil {
		return "", conflict(op, name, err)
	}
	return deref(got.GetId()), nil
}

// CreateMessageMIME creates a message in a folder from its MIME, as Graph
// takes it: the MIME base64-encoded in a text/plain body. Headers,
// attachments and body come back exactly as captured.
func (c *Client) CreateMessageMIME(ctx context.Context, userID, folderID string, mime []byte) (string, error) {
	const op = "create message"
	info, err := c.gc.Users().ByUserId(userID).MailFolders().ByMailFolderId(folderID).Messages().ToPostRequestInformation(ctx, models.NewMessage(), nil)
	if err != nil {
		return "", holdfast.E(op, err)
	}
	// The request was built for a JSON message; the body is MIME instead.
	return c.postRaw(ctx, op, info, []byte(base64.StdEncoding.EncodeToString(mime)), "text/plain", `IdType="ImmutableId"`)
}
