package graph

import "github.com/holdfast/holdfast"

// collection is a page of a Graph collection.
type collection[T any] interface {
	GetValue() []T
	GetOdataNextLink() *string
}

// deltaCollection is a page of a delta round.
type deltaCollection[T any] interface {
	collection[T]
	GetOdataDeltaLink() *string
}

// pages calls each with every page of a collection, following next links
// as given, starting from the first page's response and error.
func pages[T any, P collection[T]](op string, resp P, err error, next func(url string) (P, error), each func([]T) error) error {
	for {
		if err != nil {
			return classify(op, err)
		}
		if err := each(resp.GetValue()); err != nil {
			return err
		}
		url := deref(resp.GetOdataNextLink())
		if url == "" {
			return nil
		}
		resp, err = next(url)
	}
}

// deltaPages follows a delta round from link ("" for an initial round),
// calling each with every page, and returns the round's delta link.
func deltaPages[T any, P deltaCollection[T]](op, link string, get func(url string) (P, error), each func([]T) error) (string, error) {
	url := link
	for {
		resp, err := get(url)
		if err != nil {
			return "", classify(op, err)
		}
		if err := each(resp.GetValue()); err != nil {
			return "", err
		}
		if url = deref(resp.GetOdataNextLink()); url != "" {
			continue
		}
		delta := deref(resp.GetOdataDeltaLink())
		if delta == "" {
			return "", holdfast.Errorf(op, holdfast.IO, "the Graph API ended a delta round without a delta link")
		}
		return delta, nil
	}
}
