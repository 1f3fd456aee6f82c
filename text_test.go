package holdfast

import "testing"

func TestHumanBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 30, "5.0 GiB"}} {
		if got := HumanBytes(tt.n); got != tt.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestParseWorkloadsReturnsItsOwnSlice(t *testing.T) {
	ws, err := ParseWorkloads("")
	if err != nil {
		t.Fatal(err)
	}
	ws[0] = "fax"
	if Workloads[0] != Mail {
		t.Errorf("changing ParseWorkloads' result changed Workloads: %v", Workloads)
	}
}
