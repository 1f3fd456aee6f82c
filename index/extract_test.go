package index

import (
	"strings"
	"testing"
)

// TestMalformedPartHidesNothing: a message part whose header Go's MIME
// reader refuses (a control character) does not hide it, or the parts
// after it, from search; the body says it was not read part by part.
func TestMalformedPartHidesNothing(t *testing.T) {
	msg := "From: mallory@evil.example\r\nSubject: hidden\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nnothing to see\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a\x01b.txt\"\r\n\r\nthe zanzibar ledger\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nand the kilimanjaro account\r\n--b--\r\n"
	var d Doc
	mailDoc(&d, []byte(msg))
	for _, word := range []string{"nothing", "zanzibar", "kilimanjaro"} {
		if !strings.Contains(d.Body, word) {
			t.Errorf("the indexed body lacks %q: %q", word, d.Body)
		}
	}
	if b := ReadMailBody([]byte(msg)); !b.Unparsed || !strings.Contains(b.Plain, "kilimanjaro") {
		t.Errorf("ReadMailBody: unparsed %v, plain %q", b.Unparsed, b.Plain)
	}
	// A well-formed message is read part by part, as before.
	good := strings.Replace(msg, "a\x01b.txt", "ab.txt", 1)
	var g Doc
	mailDoc(&g, []byte(good))
	if b := ReadMailBody([]byte(good)); b.Unparsed || len(b.Attachments) != 1 || !strings.Contains(g.Body, "kilimanjaro") || strings.Contains(g.Body, "--b") {
		t.Errorf("a well-formed message: unparsed %v, attachments %d, body %q", b.Unparsed, len(b.Attachments), g.Body)
	}
}

// FuzzMailBody: any bytes as a message are read without a panic, and what
// is read of a part is no larger than the message (nothing invented).
func FuzzMailBody(f *testing.F) {
	f.Add([]byte("Subject: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename=\"\x01\"\r\n\r\nx\r\n--b--"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Doc
		mailDoc(&d, b)
		m := ReadMailBody(b)
		for _, a := range m.Attachments {
			if len(a.Data) > len(b) {
				t.Fatalf("an attachment of %d bytes from a message of %d", len(a.Data), len(b))
			}
		}
	})
}
