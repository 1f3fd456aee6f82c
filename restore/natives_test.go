package restore

import (
	"strings"
	"testing"
)

func TestFoldLongLines(t *testing.T) {
	long := strings.Repeat("Ledger reconciliation — ", 12)
	ics, err := toICS([]byte(`{"id":"x","subject":"` + long + `","start":{"dateTime":"2026-03-02T10:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-03-02T11:00:00.0000000","timeZone":"UTC"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ics), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
	}
	unfolded := strings.ReplaceAll(string(ics), "\r\n ", "")
	if !strings.Contains(unfolded, "SUMMARY:"+long+"\r\n") {
		t.Errorf("unfolding does not give back the summary:\n%s", ics)
	}
	if _, err := toICS([]byte(`{"start":{"dateTime":"not a time"}}`)); err == nil {
		t.Error("a malformed event time was accepted")
	}
}
