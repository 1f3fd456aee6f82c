// Package s3test starts a versitygw (the S3 gateway make builds into
// bin/versitygw: posix backend, versioning and Object Lock) for tests that
// need an S3 bucket.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Gateway is a running versitygw.
type Gateway struct {
	Endpoint string
	client   *awss3.Client
	buckets  atomic.Int64
}

// Access and Secret are the gateway's root credentials; Start puts them in
// the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) for the test.
const (
	Access = "holdfast-test"
	Secret = "holdfast-test-secret-key"
)

// Start runs versitygw on a free port until the test ends. It looks for
// the binary in HOLDFAST_VERSITYGW, else bin/versitygw above the test's
// directory.
func Start(t testing.TB) *Gateway {
	t.Helper()
	bin := os.Getenv("HOLDFAST_VERSITYGW")
	if bin == "" {
		for dir, _ := os.Getwd(); ; dir = filepath.Dir(dir) {
			if p := filepath.Join(dir, "bin", "versitygw"); fileExists(p) {
				bin = p
				break
			}
			if dir == filepath.Dir(dir) {
				t.Fatal("versitygw is not built; make test builds it: make bin/versitygw")
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	root, versions := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	os.MkdirAll(root, 0o755)
	os.MkdirAll(versions, 0o755)
	var log bytes.Buffer
	cmd := exec.Command(bin, "--access", Access, "--secret", Secret, "--port", addr, "posix", "--versioning-dir", versions, root)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s:\n%s", addr, log.String())
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", Secret)
	t.Setenv("AWS_REGION", "us-east-1")
	g := &Gateway{Endpoint: "http://" + addr}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g.client = awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.BaseEndpoint = aws.String(g.Endpoint); o.UsePathStyle = true })
	return g
}

// Bucket creates a new bucket with Object Lock enabled and returns its
// name.
func (g *Gateway) Bucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("holdfast-%d", g.buckets.Add(1))
	if _, err := g.client.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	return name
}

// Client is an S3 client of the gateway's root account.
func (g *Gateway) Client() *awss3.Client { return g.client }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
