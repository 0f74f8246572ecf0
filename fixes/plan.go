package fixes

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// PlanOptions select what MakePlan may include.
type PlanOptions struct {
	// AllowSMB1 admits a fix that enables SMB1 (NT1), with its risk
	// spelled out; without it such a fix is refused.
	AllowSMB1 bool
	// Only limits the plan to the fix with this id (Fix.ID,
	// "pattern/cause"); optional fixes are selectable this way.
	Only string
}

// ErrNoSuchFix is returned when PlanOptions.Only names no fix of the report.
var ErrNoSuchFix = errors.New("no such fix")

// Plan is what `agent fix` would do: the edits per file with their diff, the
// one smbd action, and what it will not do (refused, optional, manual).
type Plan struct {
	// SmbConf is the smb.conf that was checked; SmbdConfig the file the
	// running smbd was started with ("" when unknown or not running).
	SmbConf     string `json:"smb_conf"`
	SmbdConfig  string `json:"smbd_config,omitempty"`
	SmbdRunning bool   `json:"smbd_running"`
	// Fixes are the fixes Apply carries out, most severe first.
	Fixes []PlannedFix `json:"fixes"`
	// Optional are fixes of warnings whose change weakens something (their
	// Risk is set): planned and shown, applied only when --only names one.
	Optional []PlannedFix `json:"optional,omitempty"`
	// Refused are fixes the agent will not apply, each with its Refusal.
	Refused []PlannedFix `json:"refused,omitempty"`
	// Manual are steps for a person (manual and firewall fixes): shown,
	// never applied.
	Manual []PlannedFix `json:"manual,omitempty"`
	// Files are the edits of Fixes merged per file, in the order the
	// parser reads the files.
	Files []FileEdit `json:"files,omitempty"`
	// Action is the heaviest action any fix needs.
	Action    Action `json:"action"`
	ActionWhy string `json:"action_why,omitempty"`
	// SambaVersion is the version whose defaults the parser used; Apply
	// validates with the same.
	SambaVersion smbconf.SambaVersion `json:"-"`
	// Before is the report the plan was made from: the proof compares the
	// next diagnosis with it.
	Before *checks.Report `json:"-"`
}

// PlannedFix is one finding's fix as the plan will carry it out.
type PlannedFix struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"`
	Pattern  string        `json:"pattern"`
	Cause    string        `json:"cause,omitempty"`
	Client   string        `json:"client,omitempty"`
	Severity checks.Status `json:"severity"`
	// Finding is the finding's one-line summary.
	Finding     string `json:"finding"`
	Summary     string `json:"summary"`
	Why         string `json:"why,omitempty"`
	Risk        string `json:"risk,omitempty"`
	EnablesSMB1 bool   `json:"enables_smb1,omitempty"`
	Edits       []Edit `json:"edits,omitempty"`
	// Action is what smbd must do for this fix; ActionWhy cites the rule.
	Action    Action   `json:"action"`
	ActionWhy string   `json:"action_why,omitempty"`
	Steps     []string `json:"steps,omitempty"`
	// Refusal says why the fix is not applied (refused fixes only).
	Refusal string `json:"refusal,omitempty"`
}

// Edit is one parameter change, resolved to a file and line.
type Edit struct {
	Path string `json:"path"`
	// Line is the first physical line of the assignment that is changed or
	// removed, or where a new one is inserted.
	Line    int    `json:"line"`
	Section string `json:"section"`
	// Param is the canonical name; Name the spelling on that line (a
	// synonym such as "min protocol" is kept).
	Param  string `json:"param"`
	Name   string `json:"name"`
	From   string `json:"from"`
	To     string `json:"to,omitempty"`
	Remove bool   `json:"remove,omitempty"`
	Insert bool   `json:"insert,omitempty"`
	// Desc is the editor's description of the change.
	Desc string `json:"desc"`

	fc smbconf.FileChange // the editor's result, composed per file by merge
}

// FileEdit is the new content of one file.
type FileEdit struct {
	Path   string `json:"path"`
	Before []byte `json:"-"`
	After  []byte `json:"-"`
	// Diff is a unified diff from Before to After.
	Diff  string `json:"diff"`
	Edits []Edit `json:"edits"`
}

// Changed lists the files the plan writes.
func (p *Plan) Changed() []string {
	var out []string
	for _, f := range p.Files {
		out = append(out, f.Path)
	}
	return out
}

// Empty says whether Apply has nothing to do.
func (p *Plan) Empty() bool { return len(p.Fixes) == 0 }

// IDs are the ids of the fixes Apply carries out.
func (p *Plan) IDs() []string {
	var out []string
	for _, f := range p.Fixes {
		out = append(out, f.ID)
	}
	return out
}

// MakePlan makes the plan for a report. It is pure: every byte it reasons
// about is what the parser read into f.Config; it touches no file.
//
// Selection: the fixes of critical findings, and of warnings whose fix
// weakens nothing (no Risk), are planned; a warning's fix with a Risk is
// optional (only with Only); manual and firewall fixes are steps for a
// person; a fix that enables SMB1 is refused without AllowSMB1; a config
// fix the editor cannot resolve, or that contradicts a more severe fix, is
// refused with the reason.
func MakePlan(r *checks.Report, f *checks.Facts, opts PlanOptions) (*Plan, error) {
	if r == nil {
		return nil, errors.New("no report to plan from")
	}
	if f == nil {
		f = &checks.Facts{}
	}
	p := &Plan{
		SmbConf:      f.SmbConfPath,
		SmbdConfig:   f.Smbd.ConfigPath,
		SmbdRunning:  f.Smbd.Running,
		Action:       ActionNone,
		SambaVersion: f.SambaVersion,
		Before:       r,
	}
	if f.Config != nil && p.SmbConf == "" {
		p.SmbConf = f.Config.Path()
	}
	var ids []string
	found := opts.Only == ""
	for _, fd := range r.Findings {
		if fd.Fix == nil {
			continue
		}
		ids = append(ids, fd.Fix.ID)
		if opts.Only != "" {
			if fd.Fix.ID != opts.Only {
				continue
			}
			found = true
		}
		pf := basePlanned(fd)
		switch fd.Fix.Kind {
		case checks.FixManual, checks.FixFirewall:
			p.Manual = append(p.Manual, pf)
			continue
		case checks.FixStart:
			pf.Action, pf.ActionWhy = ActionStart, "smbd is not running"
		case checks.FixRestart:
			pf.Action, pf.ActionWhy = ActionRestart, ruleWhy(srcSockets)
		case checks.FixReload:
			pf.Action, pf.ActionWhy = ActionReload, ruleWhy(srcParentHosts)
		case checks.FixConfig:
			pf.Action, pf.ActionWhy = ActionNone, ""
			for _, c := range fd.Fix.Changes {
				a, why := ActionFor(c.Section, c.Param)
				if a.weight() > pf.Action.weight() || pf.ActionWhy == "" {
					pf.Action, pf.ActionWhy = Heavier(pf.Action, a), why
				}
			}
		default:
			pf.Refusal = fmt.Sprintf("unknown fix kind %q", fd.Fix.Kind)
			p.Refused = append(p.Refused, pf)
			continue
		}
		if fd.Fix.EnablesSMB1 && !opts.AllowSMB1 {
			pf.Refusal = "it enables SMB1 (NT1), which the agent never does without --allow-smb1 (config fix.allow_smb1)"
			if pf.Risk != "" {
				pf.Refusal += "; the risk: " + pf.Risk
			}
			p.Refused = append(p.Refused, pf)
			continue
		}
		if fd.Fix.Kind == checks.FixConfig {
			edits, err := resolveChanges(f.Config, fd.Fix.Changes)
			if err != nil {
				pf.Refusal = "the change cannot be made safely: " + err.Error()
				p.Refused = append(p.Refused, pf)
				continue
			}
			pf.Edits = edits
		}
		if opts.Only == "" && fd.Severity != checks.Critical && pf.Risk != "" {
			p.Optional = append(p.Optional, pf)
			continue
		}
		p.Fixes = append(p.Fixes, pf)
	}
	if !found {
		if len(ids) == 0 {
			return nil, fmt.Errorf("%w %q: the report proposes no fix", ErrNoSuchFix, opts.Only)
		}
		return nil, fmt.Errorf("%w %q (the report's fixes: %s)", ErrNoSuchFix, opts.Only, strings.Join(ids, ", "))
	}
	if err := p.merge(f); err != nil {
		return nil, err
	}
	for _, pf := range p.Fixes {
		if pf.Action.weight() > p.Action.weight() || (p.ActionWhy == "" && pf.ActionWhy != "") || pf.Action == ActionStart {
			p.Action, p.ActionWhy = Heavier(p.Action, pf.Action), pf.ActionWhy
		}
	}
	// A stopped smbd reads the new file when it starts; there is nothing
	// to reload or restart.
	if len(p.Fixes) > 0 && !p.SmbdRunning && (p.Action == ActionReload || p.Action == ActionRestart) {
		p.Action, p.ActionWhy = ActionStart, "smbd is not running: starting it loads the new configuration"
	}
	return p, nil
}

func basePlanned(fd checks.Finding) PlannedFix {
	fx := fd.Fix
	return PlannedFix{
		ID: fx.ID, Kind: fx.Kind, Pattern: fd.Pattern, Cause: fd.Cause, Client: fd.Client,
		Severity: fd.Severity, Finding: fd.Summary, Summary: fx.Summary, Why: fx.Why,
		Risk: fx.Risk, EnablesSMB1: fx.EnablesSMB1, Steps: append([]string(nil), fx.Steps...),
	}
}

// resolveChanges asks the smb.conf editor for each change: it finds the
// file and line where the parameter is effective (an included file when it
// is set there), keeps the spelling written there, or inserts the
// parameter into the section, and verifies its own result by re-parsing.
func resolveChanges(c *smbconf.Config, changes []checks.Change) ([]Edit, error) {
	if c == nil {
		return nil, errors.New("smb.conf could not be read")
	}
	if len(changes) == 0 {
		return nil, errors.New("the fix lists no change")
	}
	var out []Edit
	for _, ch := range changes {
		sec := ch.Section
		if sec == "" {
			sec = "global"
		}
		param := ch.Param
		// The release's own table: its canonical name may differ from the
		// default table's ("smb encrypt" is not a synonym before 4.14).
		if p, ok := c.LookupParam(param); ok {
			param = p.Canonical().Name
		}
		cur, known := c.Lookup(sec, param)
		var (
			fcs []smbconf.FileChange
			err error
		)
		if ch.Remove {
			fcs, err = c.PlanRemove(sec, param)
		} else {
			fcs, err = c.PlanSet(sec, param, ch.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("%s in [%s]: %w", param, sec, err)
		}
		from := ch.From
		if from == "" && known {
			from = cur.Printed
		}
		for _, fc := range fcs {
			// The editor says what it did and under which spelling.
			e := Edit{Path: fc.Path, Line: fc.Line, Section: sec, Param: param, Name: fc.Name,
				From: from, To: ch.Value, Remove: fc.Kind == smbconf.ChangeRemove,
				Insert: fc.Kind == smbconf.ChangeInsert, Desc: fc.Desc}
			e.fc = fc
			out = append(out, e)
		}
	}
	return out, nil
}

func sameFile(a, b string) bool {
	return filepath.Clean(a) == filepath.Clean(b)
}

// merge drops duplicate changes (two findings proposing the same value),
// refuses a fix that contradicts a more severe one, and composes the edits
// of each file into one new content with its diff.
func (p *Plan) merge(f *checks.Facts) error {
	type key struct{ section, param string }
	seen := map[key]Edit{}
	owner := map[key]string{}
	var kept []PlannedFix
	for _, pf := range p.Fixes {
		conflict := ""
		var edits []Edit
		for _, e := range pf.Edits {
			k := key{strings.ToLower(e.Section), e.Param}
			if prev, ok := seen[k]; ok {
				if prev.Remove == e.Remove && strings.EqualFold(prev.To, e.To) {
					continue // the same change, already planned
				}
				conflict = fmt.Sprintf("it sets %s in [%s] to %q, but fix %s sets it to %q", e.Param, e.Section, editValue(e), owner[k], editValue(prev))
				break
			}
			edits = append(edits, e)
		}
		if conflict != "" {
			pf.Refusal = conflict
			p.Refused = append(p.Refused, pf)
			continue
		}
		for _, e := range edits {
			k := key{strings.ToLower(e.Section), e.Param}
			seen[k], owner[k] = e, pf.ID
		}
		kept = append(kept, pf)
	}
	p.Fixes = kept

	byFile := map[string]*FileEdit{}
	var order []string
	for _, pf := range p.Fixes {
		for _, e := range pf.Edits {
			fe, ok := byFile[e.Path]
			if !ok {
				fe = &FileEdit{Path: e.Path, Before: e.fc.Before}
				byFile[e.Path] = fe
				order = append(order, e.Path)
			}
			if !bytes.Equal(fe.Before, e.fc.Before) {
				return fmt.Errorf("the editor read %s twice with different content", e.Path)
			}
			if containsEdit(fe.Edits, e) {
				continue
			}
			fe.Edits = append(fe.Edits, e)
		}
	}
	files := []string(nil)
	if f != nil && f.Config != nil {
		files = f.Config.Files()
	}
	sort.SliceStable(order, func(i, j int) bool { return fileIndex(files, order[i]) < fileIndex(files, order[j]) })
	for _, path := range order {
		fe := byFile[path]
		var regs []region
		for i, e := range fe.Edits {
			r := regionOf(e.fc.Before, e.fc.After)
			r.order = i
			regs = append(regs, r)
		}
		after, err := compose(fe.Before, regs)
		if err != nil {
			return fmt.Errorf("%s: %w; apply the fixes one at a time with --only", path, err)
		}
		fe.After = after
		fe.Diff = UnifiedDiff(path, path, fe.Before, fe.After, 3)
		p.Files = append(p.Files, *fe)
	}
	return nil
}

func containsEdit(es []Edit, e Edit) bool {
	for _, x := range es {
		if x.Path == e.Path && x.Line == e.Line && x.Param == e.Param && strings.EqualFold(x.Section, e.Section) {
			return true
		}
	}
	return false
}

func fileIndex(files []string, path string) int {
	for i, f := range files {
		if sameFile(f, path) {
			return i
		}
	}
	return len(files)
}

func editValue(e Edit) string {
	if e.Remove {
		return "(removed: the default)"
	}
	return e.To
}

// region is one edit as a byte range of the original file and its
// replacement: the bytes between the longest common prefix and suffix of
// the editor's before and after.
type region struct {
	start, end int
	repl       []byte
	order      int
}

func regionOf(before, after []byte) region {
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && before[len(before)-1-s] == after[len(after)-1-s] {
		s++
	}
	return region{start: p, end: len(before) - s, repl: after[p : len(after)-s]}
}

// compose applies non-overlapping regions to orig. Each region was
// computed against orig, so applying them together is exactly applying
// each edit; overlapping regions would make the result depend on order,
// and are an error.
func compose(orig []byte, regs []region) ([]byte, error) {
	sort.SliceStable(regs, func(i, j int) bool {
		if regs[i].start != regs[j].start {
			return regs[i].start < regs[j].start
		}
		if regs[i].end != regs[j].end {
			return regs[i].end < regs[j].end
		}
		return regs[i].order < regs[j].order
	})
	var out bytes.Buffer
	pos := 0
	for _, r := range regs {
		if r.start < pos {
			return nil, errors.New("two edits touch the same bytes")
		}
		out.Write(orig[pos:r.start])
		out.Write(r.repl)
		pos = r.end
	}
	out.Write(orig[pos:])
	return out.Bytes(), nil
}
