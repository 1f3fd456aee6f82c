package holdfast

import (
	"errors"
	"io"
	"testing"
)

func TestErrorKinds(t *testing.T) {
	base := E("store.Open", NotFound, "tenant acme does not exist")
	wrapped := E("verify", base)
	tests := []struct {
		name     string
		err      error
		wantKind Kind
		wantMsg  string
	}{
		{"message", base, NotFound, "store.Open: not found: tenant acme does not exist"},
		{"inherits kind", wrapped, NotFound, "verify: store.Open: not found: tenant acme does not exist"},
		{"cause", E("read", IO, io.ErrUnexpectedEOF), IO, "read: I/O error: unexpected EOF"},
		{"plain error", io.EOF, Other, "EOF"},
		{"nil", nil, Other, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.wantKind {
				t.Errorf("KindOf = %v, want %v", got, tt.wantKind)
			}
			if tt.err == nil {
				return
			}
			if got := tt.err.Error(); got != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", got, tt.wantMsg)
			}
		})
	}
	if !errors.Is(E("x", IO, io.ErrUnexpectedEOF), io.ErrUnexpectedEOF) {
		t.Error("E does not wrap its cause for errors.Is")
	}
}

func TestValidateTenantName(t *testing.T) {
	for _, ok := range []string{"acme", "a", "acme-accountants_2", "0x"} {
		if err := ValidateTenantName(ok); err != nil {
			t.Errorf("ValidateTenantName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "Acme", "-acme", "a/b", "..", "a b", string(make([]byte, 64))} {
		err := ValidateTenantName(bad)
		if KindOf(err) != Invalid {
			t.Errorf("ValidateTenantName(%q) = %v, want an Invalid error", bad, err)
		}
	}
}
