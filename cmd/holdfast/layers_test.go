package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsOnlyParseAndRender keeps the CLI a front door: it parses
// flags, calls the application layer (package app) and renders. The
// product's rules — which records are written, when a checkpoint is
// issued — live in app, where the service and the console reach them too.
// So no file of this command may open a tenant's store, append or deposit
// a log record, issue a checkpoint, name a record type, or declare a type
// of record data.
func TestCommandsOnlyParseAndRender(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	forbiddenCalls := map[string]bool{"Append": true, "Deposit": true, "PutBytes": true, "Checkpoint": true, "OpenTenant": true}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && forbiddenCalls[sel.Sel.Name] {
					t.Errorf("%s: cmd calls %s: stores and their logs belong to package app", fset.Position(n.Pos()), sel.Sel.Name)
				}
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "record" && strings.HasPrefix(n.Sel.Name, "Type") {
					t.Errorf("%s: cmd names record type %s: choosing what to record belongs in package app", fset.Position(n.Pos()), n.Sel.Name)
				}
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "store" && (n.Sel.Name == "OpenTenantOptions" || n.Sel.Name == "AddTenantOptions") {
					t.Errorf("%s: cmd uses store.%s: opening and creating tenants' stores belongs in package app", fset.Position(n.Pos()), n.Sel.Name)
				}
			case *ast.StructType:
				for _, fld := range n.Fields.List {
					if fld.Tag != nil && strings.Contains(fld.Tag.Value, `json:"actor`) {
						t.Errorf("%s: cmd declares a struct with an actor: record data is declared in package record", fset.Position(n.Pos()))
					}
				}
			}
			return true
		})
	}
}
