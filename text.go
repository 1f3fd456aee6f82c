package holdfast

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// IsControl reports the characters captured content must never carry
// into a terminal, a file name or a log line as they are: C0 controls, DEL,
// C1 controls, and the bidirectional controls that reorder what a person
// reads (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
func IsControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// HumanBytes writes a size for people: 512 B, 1.5 KiB, 3.2 GiB (binary
// units, one decimal), as every command and report shows sizes.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Visible returns s with every character that could drive a terminal or
// reorder text written as an escape: \x1b, \u202e, \xff for an invalid
// byte. keepNewlines keeps "\n" (for our own multi-line messages). The
// CLI's human output, the service's log lines and the console's pages pass
// tenant text through it.
func Visible(s string, keepNewlines bool) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || (IsControl(r) && !(keepNewlines && r == '\n')) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepNewlines && r == '\n':
			b.WriteByte('\n')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
