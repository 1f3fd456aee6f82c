package store_test

import (
	"testing"

	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

func TestLocalBackend(t *testing.T) {
	storetest.RunBackend(t, func(t *testing.T) store.Backend { return store.NewLocal(t.TempDir()) })
}

func TestLocalStore(t *testing.T) {
	storetest.RunStore(t,
		func(t *testing.T) store.Backend { return store.NewLocal(t.TempDir()) },
		func(t *testing.T) string { return t.TempDir() })
}
