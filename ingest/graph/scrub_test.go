package graph

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestClassifyScrubsPreauthenticatedURLs: a download through a
// pre-authenticated link that fails — the connection drops, the run is
// stopped — must not carry the link's tempauth into the error that is
// printed and recorded, yet must still be recognisable as cancelled.
func TestClassifyScrubsPreauthenticatedURLs(t *testing.T) {
	const secret = "v1.SECRET-tempauth-token"
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/content":
			http.Redirect(w, r, "/download/ab12?tempauth="+secret, http.StatusFound)
		case "/download/ab12":
			if r.URL.Query().Get("drop") == "" {
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/content", nil)
	_, err := srv.Client().Do(req)
	if err == nil || !strings.Contains(err.Error(), secret) {
		t.Fatalf("the test needs an error that holds the link; got %v", err)
	}
	got := classify("download file", err)
	if strings.Contains(got.Error(), secret) || strings.Contains(got.Error(), "tempauth") {
		t.Errorf("classified error still holds the pre-authenticated link: %v", got)
	}
	if !strings.Contains(got.Error(), "/download/ab12?[redacted]") {
		t.Errorf("classified error %q no longer says which request failed", got)
	}
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("classified error %v lost its cause (context deadline)", got)
	}
}
