package checks

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// file-check-failed: the engine logs in, connects the share, then reads one
// file and compares its hash. pysmb's retrieveFile raises "Failed to
// retrieve PATH on SHARE: Unable to open file" (smb/base.py) when the
// CREATE is refused; a hash that differs is the engine's own failure.
func init() {
	registerAnswer("probe.file_read", ansFileRead)
	registerAnswer("config.file_hidden", ansFileHidden)
	registerAnswer("file.unix_access", ansFileUnixAccess)
	RegisterPattern(Pattern{ID: PatternFileCheckFailed, Deps: NeedsConnection, Fires: fileCheckFailedFires, Causes: map[string]CauseBuilder{
		"file-missing": func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the scored file %s does not exist in share %s", f.Probe.File.Path, f.Share)
			if sf := f.ScoredFile; sf != nil && sf.Path != "" {
				fd.Evidence = append(fd.Evidence, Evidence{Kind: "file", Text: fmt.Sprintf("%s: %s", sf.Path, sf.state())})
			}
		},
		"file-vetoed": func(f *Facts, _ Trigger, fd *Finding) {
			cv, pat := fileHiddenBy(f, "veto files")
			fd.Summary = fmt.Sprintf("veto files = %s in [%s] matches %s (%q): smbd answers as if it did not exist", cv.Printed, f.Share, f.Probe.File.Path, pat)
			fd.Evidence = append(fd.Evidence, cv.Evidence())
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("take %q out of veto files in [%s]", pat, f.Share),
				Changes: []Change{listWithout(f, cv, pat)}, Why: "only the pattern that matches the scored file is removed"}
		},
		"file-hidden": func(f *Facts, _ Trigger, fd *Finding) {
			cv, pat := fileHiddenBy(f, "hide files")
			if !cv.OK || pat == "" {
				cv, pat = lookup(f, f.Share, "hide dot files"), "."
				fd.Summary = fmt.Sprintf("hide dot files hides %s from listings of [%s]", f.Probe.File.Path, f.Share)
				fd.Evidence = append(fd.Evidence, cv.Evidence())
				fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set hide dot files = no in [%s]", f.Share),
					Changes: []Change{sectionChange(f, cv, "no")}}
				return
			}
			fd.Summary = fmt.Sprintf("hide files = %s in [%s] hides %s from listings (%q)", cv.Printed, f.Share, f.Probe.File.Path, pat)
			fd.Evidence = append(fd.Evidence, cv.Evidence())
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("take %q out of hide files in [%s]", pat, f.Share),
				Changes: []Change{listWithout(f, cv, pat)}}
		},
		"unix-permissions": func(f *Facts, _ Trigger, fd *Finding) {
			sf := f.ScoredFile
			fd.Summary = fmt.Sprintf("%s (owner %d, group %d, mode %04o) is not readable by %s (uid %d)", sf.Path, sf.UID, sf.GID, sf.Mode, f.User, sf.UserUID)
			fd.Evidence = append(fd.Evidence, Evidence{Kind: "file", Text: fmt.Sprintf("%s: %s; user %s uid %d groups %v", sf.Path, sf.state(), f.User, sf.UserUID, sf.UserGIDs)})
			fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("let %s read the one file (chgrp to a group of the user and chmod g+r, or chown), not the whole share", f.User),
				Steps: []string{"ls -l " + sf.Path}}
		},
		"acl-denied": func(f *Facts, _ Trigger, fd *Finding) {
			sf := f.ScoredFile
			fd.Summary = fmt.Sprintf("%s has a POSIX ACL and smbd refuses %s the open", sf.Path, f.User)
			fd.Evidence = append(fd.Evidence, Evidence{Kind: "file", Text: fmt.Sprintf("%s: %s", sf.Path, sf.state())})
			fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("grant %s read in the file's ACL (setfacl -m u:%s:r FILE) and check the mask", f.User, f.User),
				Steps: []string{"getfacl " + sf.Path}}
		},
		"content-changed": func(f *Facts, _ Trigger, fd *Finding) {
			r := f.Probe.File
			fd.Summary = fmt.Sprintf("%s on %s reads, but its SHA-256 is %s, not the expected %s", r.Path, f.Share, r.SHA256, r.Expected)
			fd.Evidence = append(fd.Evidence, Evidence{Kind: "file", Text: fmt.Sprintf("expected sha256 %s, actual sha256 %s, %d bytes", r.Expected, r.SHA256, r.Size)})
			if sf := f.ScoredFile; sf != nil && sf.Exists {
				fd.Evidence = append(fd.Evidence, Evidence{Kind: "file", Text: fmt.Sprintf("%s modified %s", sf.Path, sf.ModTime.UTC().Format(time.RFC3339))})
			}
		},
	}})
}

// PatternFileCheckFailed: the scored file cannot be read or has changed.
const PatternFileCheckFailed = "file-check-failed"

// ScoredFileFacts is the scored file as found on disk, and the scoring
// user's ids to judge its mode bits against.
type ScoredFileFacts struct {
	Name    string    `json:"name"`
	Path    string    `json:"path,omitempty"`
	Exists  bool      `json:"exists"`
	Missing bool      `json:"missing,omitempty"`
	Mode    uint32    `json:"mode,omitempty"`
	UID     int       `json:"uid"`
	GID     int       `json:"gid"`
	Size    int64     `json:"size,omitempty"`
	ModTime time.Time `json:"mod_time,omitempty"`
	// ACL: the file has a POSIX access ACL (system.posix_acl_access).
	ACL       bool   `json:"acl,omitempty"`
	UserKnown bool   `json:"user_known,omitempty"`
	UserUID   int    `json:"user_uid,omitempty"`
	UserGIDs  []int  `json:"user_gids,omitempty"`
	Err       string `json:"error,omitempty"`
}

func (s *ScoredFileFacts) state() string {
	switch {
	case s.Missing:
		return "does not exist"
	case !s.Exists:
		return "not examined: " + s.Err
	}
	t := fmt.Sprintf("owner %d group %d mode %04o, %d bytes, modified %s", s.UID, s.GID, s.Mode, s.Size, s.ModTime.UTC().Format(time.RFC3339))
	if s.ACL {
		t += ", has a POSIX ACL"
	}
	return t
}

// fileCheckFailedFires: the probe's open or read of the scored file
// failed, or its hash differs from the expected one.
func fileCheckFailedFires(f *Facts) []Trigger {
	if f.Probe == nil || f.Probe.File == nil {
		return nil
	}
	r := f.Probe.File
	if r.Class == probe.ClassOK || r.Class == probe.ClassSkipped {
		return nil
	}
	return []Trigger{{Evidence: []Evidence{probeEvidence("read of %s on %s as %s: %s", r.Path, f.Share, orUnknown(f.User), stepText(r.Step))}}}
}

// fileRead is probe.file_read.
func fileRead(f *Facts) (string, bool) {
	if f.Probe == nil || f.Probe.File == nil || f.Probe.File.Class == probe.ClassSkipped {
		return "", false
	}
	switch r := f.Probe.File; r.Class {
	case probe.ClassOK:
		return "ok", true
	case probe.ClassFileMissing:
		return "missing", true
	case probe.ClassFileMismatch:
		return "mismatch", true
	case probe.ClassShareDenied, probe.ClassAccessDenied:
		return "access-denied", true
	case probe.ClassTimeout:
		return "timeout", true
	}
	return "other", true
}

func ansFileRead(c *answerCtx) (string, bool) { return fileRead(c.f) }

// fileHiddenBy returns the share's list parameter (veto files, hide
// files) and the entry of it that matches a component of the scored
// file's path. smbd's lists are "/"-separated wildcard patterns matched
// per path component, case-insensitively by default
// (source3/smbd/filename.c is_vetoed_path, source3/lib/util.c is_in_path).
func fileHiddenBy(f *Facts, param string) (configValue, string) {
	cv := lookup(f, f.Share, param)
	if !cv.OK || f.Probe == nil || f.Probe.File == nil {
		return cv, ""
	}
	comps := strings.FieldsFunc(f.Probe.File.Path, func(r rune) bool { return r == '/' || r == '\\' })
	for _, pat := range strings.Split(cv.Printed, "/") {
		pat = strings.TrimSpace(pat)
		if pat == "" {
			continue
		}
		for _, c := range comps {
			if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(c)); ok {
				return cv, pat
			}
		}
	}
	return cv, ""
}

// fileHidden is config.file_hidden.
func fileHidden(f *Facts) (string, bool) {
	if f.Config == nil || f.Share == "" || f.Probe == nil || f.Probe.File == nil {
		return "", false
	}
	if _, pat := fileHiddenBy(f, "veto files"); pat != "" {
		return "veto", true
	}
	if _, pat := fileHiddenBy(f, "hide files"); pat != "" {
		return "hide", true
	}
	if hd := lookup(f, f.Share, "hide dot files"); hd.OK && boolValue(hd) {
		base := path.Base(strings.ReplaceAll(f.Probe.File.Path, `\`, "/"))
		if strings.HasPrefix(base, ".") {
			return "hide", true
		}
	}
	return "none", true
}

func ansFileHidden(c *answerCtx) (string, bool) { return fileHidden(c.f) }

// fileUnixAccess is file.unix_access: the mode bits judged for the
// scoring user, as the kernel checks them for the uid smbd switches to
// (owner, then group, then other; root reads anything).
func fileUnixAccess(f *Facts) (string, bool) {
	sf := f.ScoredFile
	if sf == nil || !sf.Exists || !sf.UserKnown {
		return "", false
	}
	if sf.ACL {
		return "acl", true
	}
	var bit uint32
	switch {
	case sf.UserUID == 0:
		return "allowed", true
	case sf.UserUID == sf.UID:
		bit = 0o400
	case containsInt(sf.UserGIDs, sf.GID):
		bit = 0o040
	default:
		bit = 0o004
	}
	if sf.Mode&bit != 0 {
		return "allowed", true
	}
	return "denied", true
}

func ansFileUnixAccess(c *answerCtx) (string, bool) { return fileUnixAccess(c.f) }

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// listWithout is a change that removes one entry from a "/"-separated
// list parameter of the scored share.
func listWithout(f *Facts, cv configValue, entry string) Change {
	var kept []string
	for _, p := range strings.Split(cv.Printed, "/") {
		if p = strings.TrimSpace(p); p != "" && p != entry {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		c := removeChange(cv)
		c.Section = f.Share
		return c
	}
	return sectionChange(f, cv, "/"+strings.Join(kept, "/")+"/")
}

func sectionChange(f *Facts, cv configValue, value string) Change {
	c := configChange(cv, value)
	if cv.Section == "" || strings.EqualFold(cv.Section, "global") {
		c.Section = f.Share
	}
	return c
}
