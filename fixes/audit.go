package fixes

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"
)

// Transaction results, as the audit log and the terminal name them.
const (
	ResultApplied        = "applied"         // written, validated, acted on, proven
	ResultRolledBack     = "rolled-back"     // failed, every file restored
	ResultRollbackFailed = "rollback-failed" // failed, and the restore failed too
	ResultAborted        = "aborted"         // failed before any file changed
	ResultRefused        = "refused"         // no approval (no terminal, answer no)
	ResultNothing        = "nothing-to-do"
)

// AuditRecord is one line of the audit log: one transaction.
type AuditRecord struct {
	Time time.Time `json:"time"`
	// Op is apply, rollback or recover (undoing a transaction a killed run
	// left in progress).
	Op string `json:"op"`
	// User is who asked: SUDO_USER when run through sudo, else the account
	// of the uid.
	User string `json:"user"`
	UID  int    `json:"uid"`
	// ID is the transaction id (its backup directory).
	ID       string      `json:"id,omitempty"`
	Fixes    []string    `json:"fixes"`
	Action   Action      `json:"action"`
	Files    []AuditFile `json:"files,omitempty"`
	Result   string      `json:"result"`
	Error    string      `json:"error,omitempty"`
	Rollback *AuditStep  `json:"rollback,omitempty"`
	Manifest string      `json:"manifest,omitempty"`
	Steps    []Step      `json:"steps,omitempty"`
}

// AuditFile is one file a transaction changed.
type AuditFile struct {
	Path         string        `json:"path"`
	BeforeSHA256 string        `json:"before_sha256"`
	AfterSHA256  string        `json:"after_sha256"`
	Changes      []AuditChange `json:"changes,omitempty"`
}

// AuditChange is one parameter's value before and after.
type AuditChange struct {
	Section string `json:"section"`
	Param   string `json:"param"`
	// Name is the spelling on the edited line (a synonym stays one).
	Name   string `json:"name,omitempty"`
	Line   int    `json:"line,omitempty"`
	From   string `json:"from"`
	To     string `json:"to"`
	Remove bool   `json:"remove,omitempty"`
}

// AuditStep is the outcome of the rollback.
type AuditStep struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// currentUser names who runs the agent: the sudo caller when there is one
// (root's name says nothing about who acted).
func currentUser() (string, int) {
	uid := os.Getuid()
	if su := os.Getenv("SUDO_USER"); su != "" {
		return su, uid
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username, uid
	}
	return strconv.Itoa(uid), uid
}

// appendAudit appends one JSON line (O_APPEND: concurrent writers never
// interleave inside a line of this size) and fsyncs it. The log is created
// 0600: it names files and values of the server's configuration.
func appendAudit(path string, rec AuditRecord) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// Never through a symlink, into a hard link or a file not ours
	// (openStateFile).
	f, err := openStateFile(path, os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write audit log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync audit log: %w", err)
	}
	return f.Close()
}
