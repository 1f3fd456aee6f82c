package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/store/s3/s3test"
)

// TestTenantInS3: a tenant whose repository is a prefix of a versitygw
// bucket with Object Lock: backed up from the fake tenant, verified,
// searched and restored like a local one; its objects are in the bucket,
// locked; a second tenant on the same prefix is refused.
func TestTenantInS3(t *testing.T) {
	g := s3test.Start(t)
	bucket := g.Bucket(t)
	ft, err := faketenant.New(faketenant.Options{Seed: 11, Users: 3, ItemsPerUser: 15}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info, err := ft.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	c := newCLI(t)
	c.ok("init")
	t.Setenv("FAKE_SECRET", info.ClientSecret)
	repo := "s3://" + bucket + "/tenants/contoso"
	out := c.ok(connectArgs(info, "contoso", "--client-secret-env", "FAKE_SECRET",
		"--repository", repo, "--s3-endpoint", g.Endpoint, "--s3-path-style", "--lock-mode", "governance", "--lock-days", "1")...)
	if !strings.Contains(out, repo) {
		t.Errorf("tenant add: %q", out)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail")
	out = c.ok("--tenant", "contoso", "verify")
	if !strings.Contains(out, "OK: nothing stored was altered or removed") {
		t.Errorf("verify of a tenant in S3:\n%s", out)
	}
	if out := c.ok("--tenant", "contoso", "search", "kind:email", "--limit", "1"); strings.TrimSpace(out) == "" {
		t.Error("search of a tenant in S3 found nothing")
	}
	dir := filepath.Join(t.TempDir(), "restored")
	c.ok("--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "mail", "--to-dir", dir)

	// The objects are in the bucket, each locked.
	ctx := context.Background()
	list, err := g.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("tenants/contoso/")})
	if err != nil || len(list.Contents) < 3 {
		t.Fatalf("objects in the bucket: %d, %v", len(list.Contents), err)
	}
	for _, o := range list.Contents {
		if strings.HasSuffix(aws.ToString(o.Key), "/lease") {
			continue // the workers' lease: replaced by design, never locked
		}
		r, err := g.Client().GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil || r.Retention == nil || r.Retention.Mode != "GOVERNANCE" {
			t.Errorf("%s: retention %v, %v; want governance", aws.ToString(o.Key), r, err)
			break
		}
	}
	// A hold puts the objects holding the custodian's items under a legal
	// hold; releasing it takes it off.
	legalHolds := func() (on int) {
		t.Helper()
		l, err := g.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("tenants/contoso/packs/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Contents {
			h, err := g.Client().GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: aws.String(bucket), Key: o.Key})
			if err == nil && h.LegalHold != nil && h.LegalHold.Status == "ON" {
				on++
			}
		}
		return on
	}
	if n := legalHolds(); n != 0 {
		t.Fatalf("%d packs on legal hold before any hold", n)
	}
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Harbour", "--custodian", info.Users[0], "--reason", "letter before action")
	if n := legalHolds(); n == 0 {
		t.Error("no pack on legal hold after a hold was placed")
	}
	// What a backup captures later for the custodian is held too.
	before := legalHolds()
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "activity"}); err != nil {
		t.Fatal(err)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail")
	if n := legalHolds(); n <= before {
		t.Errorf("packs on legal hold: %d before a backup that captured more for the custodian, %d after", before, n)
	}
	c.ok("--tenant", "contoso", "hold", "release", "--case", "Harbour", "--reason", "settled")
	if n := legalHolds(); n != 0 {
		t.Errorf("%d packs still on legal hold after the release", n)
	}

	// A disposal in the bucket: the plan says when Object Lock lets the
	// content go, and an execution before then is refused, naming it.
	c.ok("--tenant", "contoso", "policy", "set", "--retention-days", "30")
	var plan struct {
		Eligible      int
		RemovableFrom *time.Time `json:"removable_from"`
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "plan", "--as-of", "2045-01-01"), &plan)
	if plan.Eligible == 0 || plan.RemovableFrom == nil || time.Until(*plan.RemovableFrom) < 23*time.Hour {
		t.Errorf("plan in a locked bucket: %d eligible, removable from %v; want about a day from now", plan.Eligible, plan.RemovableFrom)
	}
	t.Setenv("HOLDFAST_PASSWORD", "a long enough password")
	c.ok("user", "add", "legal1", "--role", "legal", "--tenant", "contoso")
	var prop struct{ Proposal uint64 }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "propose", "--as-of", "2045-01-01", "--reason", "test"), &prop)
	n := strconv.FormatUint(prop.Proposal, 10)
	c.ok("--tenant", "contoso", "disposal", "review", "--proposal", n, "--approve", "--reason", "ok", "--user", "legal1")
	if code, _, errs := c.run("--tenant", "contoso", "disposal", "execute", "--proposal", n); code == exitOK || !strings.Contains(errs, "under Object Lock until") {
		t.Errorf("execute in a locked bucket: exit %d %s", code, errs)
	}

	// A WORM profile raises what is written from now on to compliance mode
	// for its years; it never lowers it.
	out = c.ok("--tenant", "contoso", "policy", "set", "--profile", "sec-17a-4", "--retention-days", "2200")
	if !strings.Contains(out, "locked (compliance) for 2200 days") {
		t.Errorf("policy set on a tenant in S3:\n%s", out)
	}
	c.ok("--tenant", "contoso", "generate", "--items", "2", "--size", "300")
	newest := func() *string {
		l, err := g.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("tenants/contoso/checkpoints/")})
		if err != nil || len(l.Contents) == 0 {
			t.Fatalf("checkpoints in the bucket: %v", err)
		}
		return l.Contents[len(l.Contents)-1].Key
	}
	r, err := g.Client().GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: newest()})
	if err != nil || r.Retention.Mode != "COMPLIANCE" || time.Until(aws.ToTime(r.Retention.RetainUntilDate)) < 2199*24*time.Hour {
		t.Errorf("the newest checkpoint's retention: %+v, %v; want compliance for 2200 days", r.Retention, err)
	}

	// Policies see the bucket and its lock.
	inv := c.ok("--tenant", "contoso", "--json", "policy", "inventory", "--offline")
	if !strings.Contains(inv, `"backend":"s3"`) && !strings.Contains(inv, `"backend": "s3"`) || !strings.Contains(inv, "compliance") {
		t.Errorf("the inventory does not say where the store is:\n%.600s", inv)
	}
	// The folder's derived state, lost, is rebuilt from the bucket.
	if err := os.RemoveAll(filepath.Join(c.data, "tenants", "contoso", "state")); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("--tenant", "contoso", "search", "kind:email", "--limit", "1"); strings.TrimSpace(out) == "" {
		t.Error("search after the state was lost found nothing")
	}
	if out := c.ok("--tenant", "contoso", "verify"); !strings.Contains(out, "OK: nothing stored was altered or removed") {
		t.Errorf("verify after the state was lost:\n%s", out)
	}
	// The folder holds derived state only: no packs or log.
	if fs, _ := filepath.Glob(filepath.Join(c.data, "tenants", "contoso", "packs", "*")); len(fs) != 0 {
		t.Errorf("packs written under the data directory: %v", fs)
	}
	// A second tenant on the same prefix: refused, nothing written.
	if code, _, errs := c.run("tenant", "add", "other", "--repository", repo, "--s3-endpoint", g.Endpoint, "--s3-path-style"); code == exitOK || !strings.Contains(errs, "already holds a repository") {
		t.Errorf("a second tenant on one prefix: exit %d %q", code, errs)
	}
	// A bucket without Object Lock is refused for a locked repository,
	// before anything is written.
	plain := "holdfast-plain"
	if _, err := g.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(plain)}); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := c.run("tenant", "add", "unlocked", "--repository", "s3://"+plain+"/x", "--s3-endpoint", g.Endpoint, "--s3-path-style",
		"--lock-mode", "compliance", "--lock-days", "7"); code == exitOK || !strings.Contains(errs, "cannot hold a locked repository") {
		t.Errorf("a locked repository in a bucket without Object Lock: exit %d %q", code, errs)
	}
	if objs, _ := g.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(plain)}); len(objs.Contents) != 0 {
		t.Errorf("%d objects written to the refused bucket", len(objs.Contents))
	}
	// Unlocked there, a WORM profile is refused; a plain one is not.
	c.ok("tenant", "add", "unlocked", "--repository", "s3://"+plain+"/x", "--s3-endpoint", g.Endpoint, "--s3-path-style")
	if code, _, errs := c.run("--tenant", "unlocked", "policy", "set", "--profile", "sec-17a-4", "--retention-days", "2200"); code == exitOK || !strings.Contains(errs, "cannot hold a locked repository") {
		t.Errorf("a WORM profile for a tenant in a bucket without Object Lock: exit %d %q", code, errs)
	}
	c.ok("--tenant", "unlocked", "policy", "set", "--profile", "nl-fiscal", "--retention-days", "2600")
	for _, args := range [][]string{
		{"--repository", "s3://" + bucket + "/c", "--s3-endpoint", "http://ak:secretkey@127.0.0.1:1"},
		{"--repository", "s3://ak:secretkey@" + bucket + "/c"},
	} {
		if code, out, errs := c.run(append([]string{"tenant", "add", "creds"}, args...)...); code != exitUsage || strings.Contains(out+errs, "secretkey") {
			t.Errorf("credentials in %v: exit %d %q", args, code, errs)
		}
	}
	if code, _, errs := c.run("tenant", "add", "third", "--lock-mode", "governance"); code != exitUsage || !strings.Contains(errs, "go with --repository") {
		t.Errorf("S3 flags without --repository: exit %d %q", code, errs)
	}
}
