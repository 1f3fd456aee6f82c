package reports

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/policy"
	"github.com/jung-kurt/gofpdf"
)

// DejaVu Sans (see fonts/LICENSE): Latin, Greek and Cyrillic with accents;
// characters it has no glyph for show as blanks, never break the report.
//
//go:embed fonts/DejaVuSans.ttf
var fontRegular []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var fontBold []byte

type doc struct {
	*gofpdf.Fpdf
	m *Model
}

const (
	pageW, margin = 210.0, 15.0
	lineH         = 5.0
)

func newDoc(m *Model) *doc {
	p := gofpdf.New("P", "mm", "A4", "")
	p.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	p.AddUTF8FontFromBytes("dejavu", "B", fontBold)
	p.SetMargins(margin, margin, margin)
	p.SetAutoPageBreak(true, margin)
	p.SetCreationDate(m.To)
	p.SetModificationDate(m.To)
	p.SetProducer("Holdfast", true)
	p.SetCreator("Holdfast", true)
	p.SetTitle(fmt.Sprintf("%s report, %s", m.Kind, m.Tenant), true)
	// The checkpoint the report speaks for, for holdfast report verify.
	p.SetSubject(fmt.Sprintf("holdfast-checkpoint %d %s", m.Checkpoint.Size, m.Checkpoint.Root), false)
	p.SetKeywords("holdfast-checkpoint-note "+base64.StdEncoding.EncodeToString([]byte(m.Checkpoint.Note)), false)
	d := &doc{Fpdf: p, m: m}
	p.SetFooterFunc(func() {
		p.SetY(-12)
		p.SetFont("dejavu", "", 7)
		p.CellFormat(0, 4, fmt.Sprintf("Holdfast %s report · %s · as of %s · checkpoint %d · page %d", m.Kind, m.Tenant, m.To.Format(time.RFC3339), m.Checkpoint.Size, p.PageNo()), "", 0, "C", false, 0, "")
	})
	p.AddPage()
	return d
}

func (d *doc) h1(s string) {
	d.SetFont("dejavu", "B", 16)
	d.MultiCell(0, 8, s, "", "L", false)
	d.Ln(2)
}

func (d *doc) h2(s string) {
	if d.GetY() > 250 {
		d.AddPage()
	}
	d.Ln(3)
	d.SetFont("dejavu", "B", 11)
	d.MultiCell(0, 6, s, "", "L", false)
	d.SetFont("dejavu", "", 9)
}

// caption names the table that follows.
func (d *doc) caption(s string) {
	d.SetFont("dejavu", "B", 9)
	d.MultiCell(0, lineH+1, s, "", "L", false)
	d.SetFont("dejavu", "", 9)
}

func (d *doc) para(s string) {
	d.SetFont("dejavu", "", 9)
	d.MultiCell(0, lineH, s, "", "L", false)
}

// fit cuts s to fit width w.
func (d *doc) fit(s string, w float64) string {
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120])
	}
	if d.GetStringWidth(s) <= w-1 {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && d.GetStringWidth(string(r)+"…") > w-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// maxCellLines bounds how many lines one cell wraps to; beyond it the
// text is cut with an ellipsis (a cell of hostile length cannot take a page).
const maxCellLines = 40

// wrap breaks s into lines that fit width w, at spaces where it can and
// inside a word (a URL, an address) where it must, so that two long names
// that differ only at their ends are told apart.
func (d *doc) wrap(s string, w float64) []string {
	if utf8.RuneCountInString(s) > 3000 {
		s = string([]rune(s)[:3000])
	}
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		r := []rune(para)
		for len(r) > 0 {
			if d.GetStringWidth(string(r)) <= w-1 {
				lines = append(lines, string(r))
				break
			}
			// The longest prefix that fits, then back to a space in it.
			n := 1
			for n < len(r) && d.GetStringWidth(string(r[:n+1])) <= w-1 {
				n++
			}
			cut := n
			for k := n; k > n/2; k-- {
				if r[k-1] == ' ' {
					cut = k
					break
				}
			}
			lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
			r = []rune(strings.TrimLeft(string(r[cut:]), " "))
		}
	}
	if len(lines) == 0 {
		lines = []string{""}
	}
	if len(lines) > maxCellLines {
		lines = append(lines[:maxCellLines-1], d.fit(lines[maxCellLines-1]+" "+lines[maxCellLines], w))
		if !strings.HasSuffix(lines[maxCellLines-1], "…") {
			lines[maxCellLines-1] = d.fit(lines[maxCellLines-1]+"…", w)
		}
	}
	return lines
}

// table draws rows under a header that is repeated on every page; a cell
// too long for its column wraps, and its row grows to hold it.
func (d *doc) table(header []string, widths []float64, rows [][]string) {
	head := func() {
		d.SetFont("dejavu", "B", 8)
		d.SetFillColor(230, 230, 230)
		for i, h := range header {
			d.CellFormat(widths[i], lineH+1, h, "1", 0, "L", true, 0, "")
		}
		d.Ln(-1)
		d.SetFont("dejavu", "", 8)
	}
	head()
	if len(rows) == 0 {
		d.CellFormat(sum(widths), lineH, "none", "1", 1, "L", false, 0, "")
		return
	}
	_, pageH := d.GetPageSize()
	left, _, _, _ := d.GetMargins()
	cells := make([][]string, len(widths))
	for _, r := range rows {
		n := 1
		for i, c := range r {
			cells[i] = d.wrap(c, widths[i])
			n = max(n, len(cells[i]))
		}
		h := float64(n) * lineH
		if d.GetY()+h > pageH-margin-6 {
			d.AddPage()
			head()
		}
		x, y := left, d.GetY()
		for i := range r {
			d.Rect(x, y, widths[i], h, "D")
			for k, line := range cells[i] {
				d.SetXY(x, y+float64(k)*lineH)
				d.CellFormat(widths[i], lineH, line, "", 0, "L", false, 0, "")
			}
			x += widths[i]
		}
		d.SetXY(left, y+h)
	}
}

func sum(ws []float64) float64 {
	t := 0.0
	for _, w := range ws {
		t += w
	}
	return t
}

// accountState is a coverage row's state, with the kind of an account that
// is not an employee (a shared or room mailbox is disabled by design; a
// guest is never licensed), so that a reader does not take it for a
// departed employee.
func accountState(kind, state string) string {
	switch kind {
	case "shared", "room", "equipment", "guest":
		return kind
	}
	return state
}

func day(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func size(n int64) string { return holdfast.HumanBytes(n) }

func retentionText(days int) string {
	if days == 0 {
		return "kept for ever (nothing is disposed of)"
	}
	return fmt.Sprintf("%d days", days)
}

// Render draws the model as a PDF (unsigned).
func Render(m *Model) ([]byte, error) {
	d := newDoc(m)
	switch m.Kind {
	case "procedures":
		d.procedures()
	case "coverage":
		d.coverage()
	case "hold":
		d.hold()
	case "restore-tests":
		d.restoreTests()
	case "disposal":
		d.disposal()
	}
	var b bytes.Buffer
	if err := d.Output(&b); err != nil {
		return nil, holdfast.E("render report", err)
	}
	return b.Bytes(), nil
}

func (d *doc) procedures() {
	m := d.m
	d.h1("Backup and retention procedures — " + m.Tenant)
	d.para(fmt.Sprintf("Period %s to %s (UTC). This report was written by Holdfast from the tenant's append-only store and speaks for its signed checkpoint of size %d (section 10). It is signed; its SHA-256 is logged in the store.",
		m.From.Format("2006-01-02"), m.To.Format("2006-01-02 15:04"), m.Checkpoint.Size))

	d.h2("1. Scope")
	d.para(fmt.Sprintf("Workloads backed up: %s. Accounts known: %d (users, SharePoint sites and Teams). Every account the directory lists is in scope; departed employees stay in scope until their data is captured and retained (section 6). Chats are captured through their members.",
		strings.Join(m.Settings.Workloads, ", "), m.Totals.Accounts))

	d.h2("2. Schedule and recovery point objective")
	d.para(fmt.Sprintf("Backups run incrementally (Microsoft Graph delta queries). The recovery point objective is %.0f hours: an account and workload whose last successful capture is older is a finding (section 4).", m.Settings.RPOHours))

	d.h2("3. Retention")
	d.para(fmt.Sprintf("Retention profile: %s. Retention: %s. Store: %s, object lock %s. The store is append-only: every object is written once and never replaced, and the log of records is a Merkle tree with signed checkpoints.",
		m.Settings.Profile, retentionText(m.Settings.RetentionDays), m.Store.Backend, m.Store.ObjectLock))

	d.h2("4. Policies applied and their findings")
	d.para(fmt.Sprintf("Policy bundle SHA-256 %s, evaluated as of %s.", m.PolicyHash, m.To.Format(time.RFC3339)))
	if len(m.Findings) == 0 {
		d.para("No findings.")
	}
	for _, f := range m.Findings {
		d.SetFont("dejavu", "B", 8)
		d.MultiCell(0, 4, fmt.Sprintf("%s  %s", strings.ToUpper(f.Severity), f.Rule), "", "L", false)
		d.SetFont("dejavu", "", 8)
		d.MultiCell(0, 4, f.Message, "", "L", false)
		d.Ln(1)
	}
	var rows [][]string

	d.h2("5. Coverage per account and workload")
	d.para(fmt.Sprintf("%d accounts, %d item versions, %s captured.", m.Totals.Accounts, m.Totals.Items, size(m.Totals.Bytes)))
	rows = rows[:0]
	for _, c := range m.Coverage {
		rows = append(rows, []string{c.Account, c.Workload, accountState(c.Kind, c.State), day(c.First), day(c.Last), fmt.Sprint(c.Items), size(c.Bytes)})
	}
	d.table([]string{"Account", "Workload", "State", "First capture", "Last capture", "Versions", "Bytes"}, []float64{58, 20, 17, 27, 27, 14, 17}, rows)

	d.h2("6. Departed employees and what was kept")
	rows = rows[:0]
	for _, r := range m.Departed {
		rows = append(rows, []string{r.Account, r.State, r.Since.Format("2006-01-02"), r.Last, fmt.Sprint(r.Items), size(r.Bytes)})
	}
	d.table([]string{"Account", "State", "Since", "Last capture", "Versions", "Bytes"}, []float64{62, 20, 22, 40, 16, 20}, rows)

	d.h2("7. Backup runs in the period")
	rows = rows[:0]
	for _, r := range m.Runs {
		rows = append(rows, []string{r.ID, r.Finished.Format("2006-01-02 15:04"), strings.ReplaceAll(r.Status, "_", " "), fmt.Sprint(r.Failed), strings.Join(r.Reasons, "; ")})
	}
	d.table([]string{"Run", "Finished", "Status", "Failed", "Reasons"}, []float64{45, 27, 35, 13, 60}, rows)

	d.h2("8. Restore tests (SOC 2 A1.3, ISO 27001 A.8.13)")
	rows = rows[:0]
	for _, r := range m.Restores {
		if r.Test {
			rows = append(rows, []string{r.Time.Format("2006-01-02 15:04"), r.Scope, r.Status, fmt.Sprint(r.Items), fmt.Sprint(r.Verified), fmt.Sprintf("%.1fs", r.DurationS)})
		}
	}
	d.table([]string{"When", "Scope", "Outcome", "Items", "Verified", "Took"}, []float64{27, 70, 25, 18, 20, 20}, rows)
	d.h2("9. Legal holds and verification of the store")
	rows = rows[:0]
	for _, h := range m.Holds {
		state := "active"
		if !h.Active {
			state = "released"
		}
		rows = append(rows, []string{h.Case, strings.Join(h.Custodians, ", "), h.Placed.Format("2006-01-02"), state})
	}
	d.table([]string{"Case", "Custodians", "Placed", "Status"}, []float64{45, 90, 25, 20}, rows)
	d.Ln(2)
	d.caption("Verification runs of the store (holdfast verify: every pack and blob re-hashed, the Merkle tree recomputed)")
	d.checks(m.Verify)

	d.h2("10. The checkpoint this report speaks for, and how to verify it offline")
	d.para(fmt.Sprintf("Log size %d, root hash %s. The signed checkpoint (c2sp.org/tlog-checkpoint):", m.Checkpoint.Size, m.Checkpoint.Root))
	d.SetFont("dejavu", "", 7)
	d.MultiCell(0, 3.5, m.Checkpoint.Note, "1", "L", false)
	d.para("To verify offline with only the log's public key: holdfast report verify REPORT.pdf --key VKEY checks this report's signature and the checkpoint's; holdfast proof and holdfast verify-proof prove that any record is in the log it commits to.")
}

func (d *doc) checks(cs []policy.Check) {
	var rows [][]string
	for _, c := range cs {
		outcome := "passed"
		if !c.Passed {
			outcome = "FAILED"
		}
		rows = append(rows, []string{c.Time.Format("2006-01-02 15:04"), outcome, c.Detail})
	}
	d.table([]string{"When", "Outcome", "Detail"}, []float64{40, 25, 115}, rows)
}

// coverage is the one-page summary for the customer, with a chart of items
// per workload and a timeline of the period's runs.
func (d *doc) coverage() {
	m := d.m
	d.h1("Backup coverage — " + m.Tenant)
	d.para(fmt.Sprintf("As of %s: %d accounts, %d item versions, %s. Retention: %s (profile %s). Open findings: %d.",
		m.To.Format("2006-01-02 15:04 UTC"), m.Totals.Accounts, m.Totals.Items, size(m.Totals.Bytes), retentionText(m.Settings.RetentionDays), m.Settings.Profile, len(m.Findings)))
	d.h2("Items captured per workload")
	per := map[string]int{}
	order := []string{}
	for _, c := range m.Coverage {
		if _, ok := per[c.Workload]; !ok {
			order = append(order, c.Workload)
		}
		per[c.Workload] += c.Items
	}
	maxN := 1
	for _, n := range per {
		maxN = max(maxN, n)
	}
	y := d.GetY() + 2
	for i, w := range order {
		by := y + float64(i)*8
		d.SetXY(margin, by)
		d.CellFormat(28, 6, w, "", 0, "L", false, 0, "")
		bw := 120 * float64(per[w]) / float64(maxN)
		d.SetFillColor(60, 110, 170)
		d.Rect(margin+30, by+0.5, bw, 5, "F")
		d.SetXY(margin+32+bw, by)
		d.CellFormat(30, 6, fmt.Sprint(per[w]), "", 0, "L", false, 0, "")
	}
	d.SetY(y + float64(len(order))*8 + 4)
	d.h2("Backup runs in the period")
	lineY := d.GetY() + 8
	d.SetDrawColor(120, 120, 120)
	d.Line(margin, lineY, pageW-margin, lineY)
	span := m.To.Sub(m.From).Seconds()
	for _, r := range m.Runs {
		x := margin
		if span > 0 {
			x += (pageW - 2*margin) * r.Finished.Sub(m.From).Seconds() / span
		}
		if r.Status == "completed" {
			d.SetFillColor(40, 150, 70)
		} else {
			d.SetFillColor(200, 60, 40)
		}
		d.Circle(x, lineY, 1.5, "F")
	}
	d.SetY(lineY + 3)
	d.SetFont("dejavu", "", 8)
	d.CellFormat(90, 5, m.From.Format("2006-01-02"), "", 0, "L", false, 0, "")
	d.CellFormat(90, 5, m.To.Format("2006-01-02"), "", 1, "R", false, 0, "")
	d.para(fmt.Sprintf("%d runs (green: completed, red: with failures or failed).", len(m.Runs)))
	d.h2("Findings")
	var rows [][]string
	for _, f := range m.Findings {
		rows = append(rows, []string{strings.ToUpper(f.Severity), f.Message})
	}
	if len(rows) > 12 {
		rows = append(rows[:12], []string{"", fmt.Sprintf("and %d more: see the procedures report", len(m.Findings)-12)})
	}
	d.table([]string{"Severity", "Finding"}, []float64{20, 160}, rows)
}

// hold is a case report: custodians, queries, what is held, searches and
// exports made, by whom.
func (d *doc) hold() {
	m, c := d.m, d.m.Case
	d.h1("Legal hold: " + c.Case)
	status := "active"
	if c.Released != nil {
		status = fmt.Sprintf("released %s by %s: %s", c.Released.Format("2006-01-02 15:04"), c.ReleasedBy, c.ReleaseReason)
	}
	d.para(fmt.Sprintf("Tenant %s. Placed %s by %s. Reason: %s. Status: %s. As of %s, speaking for checkpoint %d.",
		m.Tenant, c.Placed.Format("2006-01-02 15:04"), c.PlacedBy, c.Reason, status, m.To.Format("2006-01-02 15:04 UTC"), m.Checkpoint.Size))
	d.h2("Custodians and scope")
	scope := "everything captured of the custodians"
	if c.Query != "" {
		scope = "items matching the KQL query: " + c.Query
	}
	if c.From != nil || c.To != nil {
		scope += fmt.Sprintf(" dated %s to %s", day(c.From), day(c.To))
	}
	d.para(fmt.Sprintf("Custodians: %s. Held: %s, every version, deleted items included, including what is captured after the hold was placed. Held item versions cannot be disposed of.", strings.Join(c.Custodians, ", "), scope))
	d.h2(fmt.Sprintf("What is held: %d item versions", c.HeldTotal))
	var rows [][]string
	for _, h := range c.Held {
		kinds := []string{}
		for _, k := range []string{"email", "meetings", "contacts", "docs", "im", "microsoftteams"} {
			if n := h.Kinds[k]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
			}
		}
		rows = append(rows, []string{h.Custodian, fmt.Sprint(h.Total), strings.Join(kinds, ", ")})
	}
	d.table([]string{"Custodian", "Versions", "By kind"}, []float64{70, 20, 90}, rows)
	d.h2("Exports for the case")
	d.audit(c.Exports)
	d.h2("Searches in the period")
	d.audit(c.Searches)
}

func (d *doc) audit(rows []AuditRow) {
	var out [][]string
	for _, r := range rows {
		out = append(out, []string{r.Time.Format("2006-01-02 15:04"), r.Actor, r.Query, fmt.Sprint(r.Hits)})
	}
	d.table([]string{"When", "By", "Query", "Items"}, []float64{27, 45, 93, 15}, out)
}

// restoreTests is the restore-test evidence for SOC 2 A1.3 and ISO 27001
// A.8.13.
func (d *doc) restoreTests() {
	m := d.m
	d.h1("Restore tests — " + m.Tenant)
	tests, passed := 0, 0
	for _, r := range m.Restores {
		if r.Test {
			tests++
			if r.Status == "passed" {
				passed++
			}
		}
	}
	d.para(fmt.Sprintf("Evidence for SOC 2 A1.3 (recovery plan testing) and ISO/IEC 27001:2022 A.8.13 (information backup): every restore and restore test from %s to %s. %d restore tests, %d passed; %d restores. Each restore test exports a random sample of captured items and re-hashes every file against the store's SHA-256.",
		m.From.Format("2006-01-02"), m.To.Format("2006-01-02"), tests, passed, len(m.Restores)-tests))
	var rows [][]string
	for _, r := range m.Restores {
		kind := "restore"
		if r.Test {
			kind = "test"
		}
		rows = append(rows, []string{r.Time.Format("2006-01-02 15:04"), kind, r.Scope, r.Status, fmt.Sprint(r.Items), fmt.Sprint(r.Verified), fmt.Sprintf("%.1fs", r.DurationS), r.Actor})
	}
	d.table([]string{"When", "Kind", "Scope", "Outcome", "Items", "Verified", "Took", "By"}, []float64{26, 13, 45, 28, 13, 15, 12, 28}, rows)
}
