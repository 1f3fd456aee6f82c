package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode"

	"github.com/holdfast/holdfast"
)

func TestVisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain subject — café", "plain subject — café"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"title\x1b]0;pwned\a", `title\x1b]0;pwned\x07`},
		{"line\nbreak\ttab\rcr", `line\nbreak\ttab\rcr`},
		{"del\x7f c1\u009b", `del\x7f c1\u009b`},
		{"invoice\u202egpj.exe", `invoice\u202egpj.exe`},
		{"isolate\u2066x\u2069", `isolate\u2066x\u2069`},
		{"bad \xff byte", `bad \xff byte`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := holdfast.Visible(tt.in, false); got != tt.want {
				t.Errorf("holdfast.Visible(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := holdfast.Visible("two\nlines\x1b", true); got != "two\nlines\\x1b" {
		t.Errorf("keepNewlines: %q", got)
	}
}

// TestHumanOutputIsVisible: whatever reaches print, say or an error, no
// control character reaches the terminal; --json stays exact.
func TestHumanOutputIsVisible(t *testing.T) {
	hostile := "\x1b[31mred\x1b]0;title\a\u202e\u009b\nfake line"
	type kind string
	var out, errb bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errb}
	g.print("%s %-10s %v %s\n", hostile, kind(hostile), []string{hostile}, errorString(hostile))
	g.say("note: %s\n", hostile)
	for _, r := range strings.TrimSuffix(strings.ReplaceAll(out.String(), "\n", ""), "") {
		if unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) {
			t.Fatalf("human output holds %U: %q", r, out.String())
		}
	}
	if strings.Count(out.String(), "\n") != 2 {
		t.Errorf("a captured newline started a line of its own: %q", out.String())
	}
	out.Reset()
	g.JSON = true
	if err := g.emit(map[string]string{"subject": hostile}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	jsonDoc(t, out.String(), &doc)
	if doc["subject"] != hostile {
		t.Errorf("--json changed the subject: %q", doc["subject"])
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestServiceLogIsVisible: the service's JSON log lines carry tenant text
// (a job's error quoting a subject or file name) with bidi and C1
// controls escaped, not only what JSON escapes.
func TestServiceLogIsVisible(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: visibleAttr}))
	hostile := "Invoice \u202egpj.exe \u009b31m \x1b[2J"
	log.Error("job failed", "error", hostile, "err", errors.New(hostile), "group", slog.GroupValue(slog.String("subject", hostile)))
	line := buf.String()
	for _, bad := range []string{"\u202e", "\u009b", "\x1b", `\u001b`} {
		if strings.Contains(line, bad) {
			t.Errorf("log line holds %q raw: %s", bad, line)
		}
	}
	if n := strings.Count(line, `\\u202e`); n != 3 {
		t.Errorf("log line shows the override %d times, want 3: %s", n, line)
	}
}
