package holdfast

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error so that callers (the CLI's exit codes, the web
// API's statuses) can react to what went wrong without parsing messages.
type Kind uint8

// The kinds of error. The zero value, Other, means unclassified.
const (
	Other      Kind = iota // unclassified
	Invalid                // bad input: usage, malformed query, malformed file
	NotFound               // the named thing does not exist
	Exist                  // the thing already exists and is never replaced
	Integrity              // stored data failed verification: damaged, altered or missing
	Locked                 // another process holds the resource
	Permission             // not allowed
	IO                     // the operating system or storage failed
)

var kindNames = map[Kind]string{
	Other:      "error",
	Invalid:    "invalid input",
	NotFound:   "not found",
	Exist:      "already exists",
	Integrity:  "integrity failure",
	Locked:     "locked",
	Permission: "permission denied",
	IO:         "I/O error",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is the error type of every Holdfast package: which operation failed,
// what kind of failure it was, and the underlying cause.
type Error struct {
	Op   string // the operation, e.g. "store.PutBlob" or "verify"
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
	}
	if e.Kind != Other {
		// Do not repeat the kind when the wrapped error already says it.
		var inner *Error
		if !(errors.As(e.Err, &inner) && inner.Kind == e.Kind) {
			if b.Len() > 0 {
				b.WriteString(": ")
			}
			b.WriteString(e.Kind.String())
		}
	}
	if e.Err != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. Its arguments may be, in any order: a Kind, an error
// (the cause), and a string (a message, used as the cause when no error is
// given, or prefixed to it). E with only an op and a cause of the same kind
// keeps the inner kind.
func E(op string, args ...any) error {
	e := &Error{Op: op}
	var msg string
	for _, a := range args {
		switch a := a.(type) {
		case Kind:
			e.Kind = a
		case error:
			e.Err = a
		case string:
			msg = a
		default:
			panic(fmt.Sprintf("holdfast.E: bad argument %T", a))
		}
	}
	switch {
	case msg != "" && e.Err != nil:
		e.Err = fmt.Errorf("%s: %w", msg, e.Err)
	case msg != "":
		e.Err = errors.New(msg)
	}
	if e.Kind == Other {
		e.Kind = KindOf(e.Err)
	}
	return e
}

// Errorf is E with a formatted message and no cause.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of the outermost classified *Error in err's chain,
// or Other.
func KindOf(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Other
		}
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}

// Is reports whether err's kind is k.
func Is(k Kind, err error) bool { return KindOf(err) == k }
