package store_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// The crash test re-executes this test binary as a writer that appends
// blobs and records in a loop and prints "ack INDEX SHA256" for every record
// once Flush or Checkpoint has returned. The parent SIGKILLs it at random
// moments; after every kill the store must reopen, verify clean, and hold
// every acknowledged record with its content.

const crashChildEnv = "HOLDFAST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

type crashItem struct {
	N      int    `json:"n"`
	SHA256 string `json:"sha256"`
}

func crashChild(dir string) {
	ctx := context.Background()
	d := store.DataDir{Dir: dir}
	s, err := d.OpenTenant(ctx, "crash", store.OpenTenantOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(1)
	}
	seed, _ := strconv.ParseUint(os.Getenv("HOLDFAST_CRASH_SEED"), 10, 64)
	r := rand.New(rand.NewPCG(seed, 7))
	out := bufio.NewWriter(os.Stdout)
	var unacked []string
	for n := 0; ; n++ {
		size := 100 + r.IntN(40000)
		if r.IntN(25) == 0 {
			size = store.ChunkSize + r.IntN(3<<20) // content split into chunks
		}
		content := make([]byte, size)
		for i := range content {
			content[i] = byte(r.Uint32())
		}
		ref, err := s.PutBytes(ctx, content)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child put:", err)
			os.Exit(1)
		}
		sum := sha256.Sum256(content)
		idx, err := s.Append(ctx, record.TypeItemVersion, crashItem{N: n, SHA256: hex.EncodeToString(sum[:])}, ref)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child append:", err)
			os.Exit(1)
		}
		unacked = append(unacked, fmt.Sprintf("ack %d %x", idx, sum))
		var ferr error
		switch k := r.IntN(20); {
		case k == 0:
			_, _, ferr = s.Checkpoint(ctx)
		case k < 6:
			ferr = s.Flush(ctx)
		default:
			continue
		}
		if ferr != nil {
			fmt.Fprintln(os.Stderr, "child flush:", ferr)
			os.Exit(1)
		}
		for _, a := range unacked {
			fmt.Fprintln(out, a)
		}
		out.Flush()
		unacked = unacked[:0]
	}
}

func TestCrashSafety(t *testing.T) {
	rounds := 50
	if v, err := strconv.Atoi(os.Getenv("HOLDFAST_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	if testing.Short() {
		rounds = 10
	}
	ctx := context.Background()
	dir := t.TempDir()
	d := store.DataDir{Dir: dir}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(ctx, "crash", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{} // record index → content hash
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("HOLDFAST_CRASH_SEED=%d", rng.Uint64()))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		time.AfterFunc(time.Duration(20+rng.IntN(250))*time.Millisecond, func() {
			cmd.Process.Signal(syscall.SIGKILL)
		})
		for line := range lines {
			var idx uint64
			var sum string
			if _, err := fmt.Sscanf(line, "ack %d %s", &idx, &sum); err == nil && len(sum) == 64 {
				acked[idx] = sum
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended by itself (%v): %s", round, err, stderr.String())
		}

		s, err := d.OpenTenant(ctx, "crash", store.OpenTenantOptions{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		rep, err := s.Verify(ctx, store.VerifyOptions{})
		if err != nil {
			t.Fatalf("round %d: verify: %v", round, err)
		}
		if !rep.OK {
			t.Fatalf("round %d: verify after SIGKILL failed: %v (notes on open: %v)", round, rep.Failures, s.Notes())
		}
		missing := 0
		for idx, sum := range acked {
			rec, _, err := s.Record(ctx, idx)
			if err != nil {
				t.Errorf("round %d: acknowledged record %d: %v", round, idx, err)
				missing++
				continue
			}
			var it crashItem
			if err := json.Unmarshal(rec.Data, &it); err != nil || it.SHA256 != sum {
				t.Errorf("round %d: record %d holds %s, acknowledged %s", round, idx, it.SHA256, sum)
				continue
			}
			if round == rounds-1 || idx%17 == 0 { // read content back on a sample, all in the last round
				h := sha256.New()
				if err := s.ReadContent(ctx, rec.Refs[0], h); err != nil {
					t.Errorf("round %d: content of record %d: %v", round, idx, err)
				} else if hex.EncodeToString(h.Sum(nil)) != sum {
					t.Errorf("round %d: content of record %d differs", round, idx)
				}
			}
		}
		if missing > 0 {
			t.Fatalf("round %d: %d acknowledged records missing", round, missing)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
	t.Logf("%d kills, %d acknowledged records all present, verify clean after each", rounds, len(acked))
}
