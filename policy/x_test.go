package policy

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

func BenchmarkXRules(b *testing.B) {
	now := time.Now().UTC()
	bu, _ := LoadBundle("")
	for _, stale := range []bool{true, false} {
		inv := syntheticInventory(100000, now)
		if !stale {
			fresh := now.Add(-time.Hour)
			for _, a := range inv.Accounts {
				for _, c := range a.Workloads {
					c.LastCapture = &fresh
				}
			}
		}
		in, _ := inv.Value()
		b.Run(map[bool]string{true: "stale", false: "fresh"}[stale], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := rego.New(rego.Query("count(data.holdfast.findings)"), rego.Compiler(bu.compiler), rego.Store(inmem.NewFromObject(bu.data)), rego.ParsedInput(in))
				rs, _ := r.Eval(context.Background())
				if i == 0 {
					b.Log(rs[0].Expressions[0].Value)
				}
			}
		})
	}
}
