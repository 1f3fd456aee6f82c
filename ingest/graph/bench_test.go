package graph_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
	"github.com/holdfast/holdfast/store"
)

const fakeChildEnv = "HOLDFAST_FAKE_TENANT_CHILD"

// fakeTenantChild serves a fake tenant from this test binary in its own
// process, so that the benchmark's memory figures are Holdfast's alone.
func fakeTenantChild(spec string) int {
	var o struct {
		faketenant.Options
		State string
	}
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := faketenant.New(o.Options, o.State)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	info, err := s.Start("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(info)
	fmt.Println(string(b))
	if f := os.Getenv("HOLDFAST_FAKE_CPUPROFILE"); f != "" {
		// Where the fake tenant's own CPU goes, when a benchmark asks.
		if out, err := os.Create(f); err == nil {
			pprof.StartCPUProfile(out)
			defer pprof.StopCPUProfile()
		}
	}
	bufio.NewReader(os.Stdin).ReadString('\n') // serve until the parent closes stdin
	return 0
}

func peakRSSMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkRestoreToTenant restores 500 captured 10 KB messages into a
// mailbox of the fake tenant (in this process) through the SDK: the
// restore-to-tenant throughput of issue 4, without throttling.
func BenchmarkRestoreToTenant(b *testing.B) {
	ft, err := faketenant.New(faketenant.Options{Seed: 1, Users: 5, ItemsPerUser: 4}, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	info, err := ft.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ft.Close()
	c, err := graph.New(connOf(info, true))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := newDataDir(b, "bench").OpenTenant(ctx, "bench", store.OpenTenantOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	const n = 500
	accounts, _ := c.Accounts(ctx)
	for i := 0; i < n; i++ {
		ref, _ := s.PutBytes(ctx, synth.Message(7, i, 10000))
		s.Append(ctx, record.TypeItemVersion, map[string]any{"account": accounts[0].UPN, "account_id": accounts[0].ID, "workload": "mail",
			"item": fmt.Sprint("M", i), "path": fmt.Sprintf("Inbox/F%d", i%5)}, ref)
	}
	s.Flush(ctx)
	vs, err := restore.Select(ctx, s, restore.Scope{Workload: holdfast.Mail})
	if err != nil || len(vs) != n {
		b.Fatalf("select %d: %v", len(vs), err)
	}
	run := 0 // folder names must be new on every round, b.N rounds or not
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprint("workers=", workers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				run++
				j, err := restore.CreateJournal(b.TempDir(), restore.JournalHeader{Restore: "bench", Folder: fmt.Sprintf("Holdfast restore bench %d", run)})
				if err != nil {
					b.Fatal(err)
				}
				t := &restore.Tenant{Log: s, Mail: c, Journal: j, Workers: workers}
				res, err := t.Run(ctx, vs)
				j.Close()
				if err != nil || res.Items != n {
					b.Fatalf("restore: %v %+v", err, res)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
