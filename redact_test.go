package holdfast

import (
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Get "https://fake.local/download/ab12?tempauth=v1.eyJhbGciOi": context canceled`, `Get "https://fake.local/download/ab12?[redacted]": context canceled`},
		{"PUT https://x.blob.core.windows.net/c/b?sv=2020&sig=abc%2F&se=2026 failed", "PUT https://x.blob.core.windows.net/c/b?[redacted] failed"},
		{"https://user:pw@host/p", "https://host/p?[redacted]"},
		{"https://login.example/cb?code=0.AXYZ#state", "https://login.example/cb?[redacted]"},
		{"no url here", "no url here"},
		{"https://graph.microsoft.com/v1.0/users plain", "https://graph.microsoft.com/v1.0/users plain"},
		{"two: https://a/x?k=1 and http://b/y?sig=2.", "two: https://a/x?[redacted] and http://b/y?[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := RedactURLs(tt.in)
			if got != tt.want {
				t.Errorf("RedactURLs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			for _, secret := range []string{"tempauth=", "sig=", "code=", "pw@"} {
				if strings.Contains(got, secret) {
					t.Errorf("%q still holds %s", got, secret)
				}
			}
		})
	}
}
