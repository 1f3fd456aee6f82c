package index

import "github.com/holdfast/holdfast/kql"

// The index evaluates the syntax tree of package kql; these names are
// that tree's, so that the index's own code reads as the query does.
type (
	Node        = kql.Node
	And         = kql.And
	Or          = kql.Or
	Not         = kql.Not
	Near        = kql.Near
	Term        = kql.Term
	SyntaxError = kql.SyntaxError
)
