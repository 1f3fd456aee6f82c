package holdfast

import "fmt"

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
