// Package synth makes deterministic synthetic content that looks like an
// accountancy's mail, for the store demo and benchmarks: compressible text
// with headers, names and figures, never random noise.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/holdfast/holdfast/record"
)

var (
	people = []string{"Alice Moreau", "Ben Okafor", "Chloe Lindqvist", "Dev Patel", "Emma Rossi", "Farid Haddad",
		"Grace Kim", "Hugo Brandt", "Isla MacLeod", "Jonas Weber", "Keiko Sato", "Liam O'Neill", "Maya Cohen", "Noah Fischer", "Olivia Novak"}
	clients = []string{"Harbour Bakery Ltd", "Greenfield Dental", "Northwind Logistics", "Bluebell Florists", "Oakridge Builders", "Riverside Vets"}
	topics  = []string{"VAT return", "year-end accounts", "payroll run", "invoice query", "bank reconciliation", "tax planning",
		"audit schedule", "expense claims", "budget review", "corporation tax", "cash-flow forecast", "engagement letter"}
	words = strings.Fields(`please find attached the latest figures for the quarter we have reviewed
the ledger and noted a few items that need your attention before we can finalise the return
could you confirm the opening balances and send the missing receipts the deadline is approaching
and we would like to avoid any penalties thank you for your patience regards kind the team
balance sheet profit loss accruals prepayments depreciation schedule trial journal entries
reconciled outstanding supplier customer statement remittance advice payment terms net thirty`)
)

func addr(name string) string {
	first, _, _ := strings.Cut(strings.ToLower(name), " ")
	return strings.ReplaceAll(first, "'", "") + "@contoso-accountants.example"
}

// Message returns an RFC 5322 message of about size bytes, fixed by (seed, i).
func Message(seed uint64, i int, size int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	from := people[r.IntN(len(people))]
	to := people[r.IntN(len(people))]
	client := clients[r.IntN(len(clients))]
	topic := topics[r.IntN(len(topics))]
	date := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * 17 * time.Minute)
	var b strings.Builder
	b.Grow(size + 256)
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s <%s>\r\nSubject: %s for %s (#%d)\r\nDate: %s\r\nMessage-ID: <%d.%d@contoso-accountants.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, addr(from), to, addr(to), topic, client, i, date.Format(time.RFC1123Z), seed, i)
	fmt.Fprintf(&b, "Hi %s,\r\n\r\n", strings.Fields(to)[0])
	for b.Len() < size {
		n := 8 + r.IntN(12)
		for w := 0; w < n; w++ {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		fmt.Fprintf(&b, " %s %d.%02d.\r\n", client, r.IntN(90000)+100, r.IntN(100))
	}
	return []byte(b.String())
}

// Meta is the metadata of a synthetic message, as a record would hold it.
func Meta(seed uint64, i int) record.Synthetic {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	from := people[r.IntN(len(people))]
	return record.Synthetic{Item: fmt.Sprintf("synthetic-%d-%d", seed, i), Account: addr(from), Workload: "mail", Folder: "Inbox"}
}
