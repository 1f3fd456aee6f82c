package synth

import (
	"bytes"
	"testing"
)

func TestMessageDeterministicAndSized(t *testing.T) {
	a, b := Message(1, 7, 10000), Message(1, 7, 10000)
	if !bytes.Equal(a, b) {
		t.Fatal("Message is not deterministic")
	}
	if bytes.Equal(a, Message(1, 8, 10000)) {
		t.Error("different items gave the same message")
	}
	if n := len(a); n < 10000 || n > 10300 {
		t.Errorf("len = %d, want about 10000", n)
	}
	if !bytes.HasPrefix(a, []byte("From: ")) {
		t.Errorf("message does not start with headers: %q", a[:20])
	}
}
