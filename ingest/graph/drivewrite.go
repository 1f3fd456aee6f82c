package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/holdfast/holdfast"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Drive writes, for restore. Folders are created with conflictBehavior
// "fail", and files only inside folders a restore has just created, so
// nothing in the tenant is ever overwritten.

const (
	simpleUploadMax = 4 << 20         // Graph's limit for PUT …/content
	uploadChunk     = 320 * 1024 * 10 // upload session chunks: multiples of 320 KiB
)

// ErrExists is returned when a name is already taken in the target folder.
var ErrExists = fmt.Errorf("name already exists")

// CreateFolder creates a folder named name under parentID ("root" for the
// drive's root) and returns its id.
func (c *Client) CreateFolder(ctx context.Context, driveID, parentID, name string) (string, error) {
	const op = "create folder"
	it := models.NewDriveItem()
	it.SetName(&name)
	// An empty folder facet is dropped by the serialiser; Graph needs one.
	f := models.NewFolder()
	zero := int32(0)
	f.SetChildCount(&zero)
	it.SetFolder(f)
	it.SetAdditionalData(map[string]any{"@microsoft.graph.conflictBehavior": "fail"})
	got, err := c.gc.Drives().ByDriveId(driveID).Items().ByDriveItemId(parentID).Children().Post(ctx, it, nil)
	if err != nil {
		return "", conflict(op, name, err)
	}
	return deref(got.GetId()), nil
}

func conflict(op, name string, err error) error {
	if e := classify(op, err); e != nil {
		if s := e.Error(); bytes.Contains([]byte(s), []byte("nameAlreadyExists")) || bytes.Contains([]byte(s), []byte(" 409 ")) {
			return holdfast.E(op, holdfast.Exist, fmt.Errorf("%q: %w", name, ErrExists))
		}
		return e
	}
	return nil
}

// UploadFile creates a file named name under parentID with size bytes read
// from r: a simple upload up to 4 MB, an upload session above.
func (c *Client) UploadFile(ctx context.Context, driveID, parentID, name string, size int64, r io.Reader) (string, error) {
	const op = "upload file"
	item := c.gc.Drives().ByDriveId(driveID).Items().ByDriveItemId(parentID + ":/" + name + ":")
	if size <= simpleUploadMax {
		data, err := io.ReadAll(io.LimitReader(r, simpleUploadMax+1))
		if err != nil {
			return "", holdfast.E(op, holdfast.IO, err)
		}
		if int64(len(data)) != size {
			return "", holdfast.Errorf(op, holdfast.Integrity, "read %d bytes of %q, want %d", len(data), name, size)
		}
		// PUT …/content replaces an existing file of that name; restores
		// only upload into folders they have just created (with
		// conflictBehavior fail), so there is nothing there to replace.
		got, err := item.Content().Put(ctx, data, nil)
		if err != nil {
			return "", conflict(op, name, err)
		}
		return deref(got.GetId()), nil
	}
	body := drives.NewItemItemsItemCreateUploadSessionPostRequestBody()
	props := models.NewDriveItemUploadableProperties()
	props.SetAdditionalData(map[string]any{"@microsoft.graph.conflictBehavior": "fail"})
	body.SetItem(props)
	sess, err := item.CreateUploadSession().Post(ctx, body, nil)
	if err != nil {
		return "", conflict(op, name, err)
	}
	url := deref(sess.GetUploadUrl())
	buf := make([]byte, uploadChunk)
	var sent int64
	for sent < size {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-sent)])
		if err != nil {
			return "", holdfast.E(op, holdfast.IO, err, "read content")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(buf[:n]))
		req.ContentLength = int64(n)
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", sent, sent+int64(n)-1, size))
		// The upload URL is pre-authenticated: no bearer token.
		resp, err := c.download.Do(req)
		if err != nil {
			return "", classify(op, err)
		}
		sent += int64(n)
		respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted && sent < size:
		case (resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK) && sent == size:
			return between(string(respBody), `"id":"`, `"`), nil
		default:
			return "", conflict(op, name, httpError(op, resp.StatusCode, respBody))
		}
	}
	return "", holdfast.Errorf(op, holdfast.IO, "upload of %q ended without the service creating the file", name)
}
