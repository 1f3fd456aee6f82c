package ediscovery

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/holdfast/holdfast"
)

// A load file has one row per document a review platform shows: every
// captured item, every attachment written beside its item, every Teams
// message. Each row has its own DocID; an attachment carries its parent's
// DocID (ParentDocID) and the family's range (BegAttach, EndAttach), as
// Relativity and Concordance import them.

// Row is one document of the load file.
type Row struct {
	DocID       string
	ParentDocID string
	BegAttach   string
	EndAttach   string
	Custodian   string
	Kind        string
	From        string
	To          string
	CC          string
	BCC         string
	Subject     string
	Sent        string
	Received    string
	FileName    string
	Author      string
	Modified    string
	MD5         string
	SHA256      string
	NativePath  string
	TextPath    string
	Record      uint64
	Deleted     bool
	Disposed    string // disposed of on … under rule …: no native
}

// loadColumns are the load file's columns, in order.
var loadColumns = []string{"DocID", "ParentDocID", "BegAttach", "EndAttach", "Custodian", "Kind", "From", "To", "CC", "BCC",
	"Subject", "Sent", "Received", "FileName", "Author", "Modified", "MD5", "SHA256", "NativePath", "TextPath", "Record", "Deleted", "Disposed"}

func (r Row) fields() []string {
	return []string{r.DocID, r.ParentDocID, r.BegAttach, r.EndAttach, r.Custodian, r.Kind, r.From, r.To, r.CC, r.BCC,
		r.Subject, r.Sent, r.Received, r.FileName, r.Author, r.Modified, r.MD5, r.SHA256, r.NativePath, r.TextPath,
		fmt.Sprint(r.Record), fmt.Sprint(r.Deleted), r.Disposed}
}

// Load file formats.
const (
	FormatCSV = "csv" // RFC 4180, UTF-8
	FormatDAT = "dat" // Concordance: þ quote, ¶ (ASCII 20) separator, ® (ASCII 174) for a newline in a value, UTF-8 with BOM
)

// LoadFileName is the load file's name in the package for a format.
func LoadFileName(format string) string { return "loadfile." + format }

// ParseFormat checks a --load-file value.
func ParseFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", FormatCSV:
		return FormatCSV, nil
	case FormatDAT:
		return FormatDAT, nil
	}
	return "", holdfast.Errorf("load file", holdfast.Invalid, "load file format %q: use csv or dat (Concordance)", s)
}

// Concordance's delimiters.
const (
	datQuote   = 'þ'    // U+00FE, ASCII 254
	datSep     = '\x14' // ASCII 20, shown as ¶
	datNewline = '®'    // U+00AE, ASCII 174: a line break inside a value
)

// encodeLoadFile writes the rows in format.
func encodeLoadFile(format string, rows []Row) ([]byte, error) {
	var b bytes.Buffer
	if format == FormatDAT {
		b.WriteString("\ufeff")
		writeDAT(&b, loadColumns)
		for _, r := range rows {
			writeDAT(&b, r.fields())
		}
		return b.Bytes(), nil
	}
	w := csv.NewWriter(&b)
	if err := w.Write(loadColumns); err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := w.Write(r.fields()); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// writeDAT writes one Concordance line. The delimiters themselves cannot be
// escaped in the format, so a value holding one has it replaced (þ by
// "th", the separator by a space); line breaks become ®.
func writeDAT(b *bytes.Buffer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			b.WriteRune(datSep)
		}
		b.WriteRune(datQuote)
		f = strings.NewReplacer("\r\n", string(datNewline), "\n", string(datNewline), "\r", string(datNewline),
			string(datQuote), "th", string(datSep), " ").Replace(f)
		b.WriteString(f)
		b.WriteRune(datQuote)
	}
	b.WriteString("\r\n")
}

// parseDAT reads a Concordance file written by encodeLoadFile (for tests
// and for verify's check of the load file).
func parseDAT(data []byte) ([][]string, error) {
	s, ok := strings.CutPrefix(string(data), "\ufeff")
	if !ok {
		return nil, fmt.Errorf("a DAT load file starts with a UTF-8 byte-order mark")
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		var row []string
		for _, f := range strings.Split(line, string(datSep)) {
			if !strings.HasPrefix(f, string(datQuote)) || !strings.HasSuffix(f, string(datQuote)) || len(f) < 2*len(string(datQuote)) {
				return nil, fmt.Errorf("field %q is not quoted with þ", f)
			}
			row = append(row, strings.TrimSuffix(strings.TrimPrefix(f, string(datQuote)), string(datQuote)))
		}
		rows = append(rows, row)
	}
	return rows, nil
}
