package fixes

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"time"
)

// Fault points, in the order a transaction passes them. Env.Fault is
// called at each; tests make it kill the process or fail there.
const (
	FaultAfterLock      = "after-lock"
	FaultAfterBackup    = "after-backup"
	FaultAfterTempWrite = "after-temp-write"
	FaultBeforeRename   = "before-rename"
	// FaultAfterSwap is right after the new file took the old one's name,
	// before the check that the old one was not written meanwhile.
	FaultAfterSwap     = "after-swap"
	FaultAfterRename   = "after-rename"
	FaultAfterValidate = "after-validate"
	FaultAfterAction   = "after-action"
	FaultProve         = "prove"
)

// FaultPoints lists every point, for the fault-injection build's checks.
var FaultPoints = []string{FaultAfterLock, FaultAfterBackup, FaultAfterTempWrite, FaultBeforeRename,
	FaultAfterSwap, FaultAfterRename, FaultAfterValidate, FaultAfterAction, FaultProve}

// tempMarker names our temporary files: ".smb.conf.smb-agent-RANDOM.tmp"
// beside the file they replace, so a later run can find and remove what a
// killed run left (only while it holds the lock, when no fixer is writing).
const tempMarker = ".smb-agent-"

// fileMeta is what is kept of a file besides its bytes.
type fileMeta struct {
	Mode fs.FileMode `json:"mode"`
	UID  int         `json:"uid"`
	GID  int         `json:"gid"`
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}

// Manifest states.
const (
	StateInProgress = "in-progress" // files may be half written: recover
	StateApplied    = "applied"     // proven; --rollback may restore it
	StateRolledBack = "rolled-back" // restored (after a failure or --rollback)
	StateAborted    = "aborted"     // stopped before any file changed
	StateFailed     = "failed"      // restore failed: a person must look
)

// Manifest records one transaction's backups, so that a failure, a later
// run (after a crash) or --rollback can restore every file byte for byte.
type Manifest struct {
	ID      string    `json:"id"`
	Op      string    `json:"op"` // apply or rollback
	Time    time.Time `json:"time"`
	State   string    `json:"state"`
	Fixes   []string  `json:"fixes"`
	Action  Action    `json:"action"`
	SmbConf string    `json:"smb_conf"`
	// SmbdConfig is the file smbd ran with (for smbcontrol -s).
	SmbdConfig string         `json:"smbd_config,omitempty"`
	Files      []ManifestFile `json:"files"`
	// Of is the transaction a rollback undoes.
	Of string `json:"of,omitempty"`
}

// ManifestFile is one file of a transaction.
type ManifestFile struct {
	Path string `json:"path"`
	// Real is Path with symlinks resolved: the file written (a symlinked
	// smb.conf is edited at its target).
	Real string `json:"real,omitempty"`
	// Backup is the copy of the bytes before the transaction.
	Backup       string      `json:"backup"`
	BeforeSHA256 string      `json:"before_sha256"`
	AfterSHA256  string      `json:"after_sha256"`
	Mode         fs.FileMode `json:"mode"`
	UID          int         `json:"uid"`
	GID          int         `json:"gid"`
}

func (m ManifestFile) meta() fileMeta { return fileMeta{Mode: m.Mode, UID: m.UID, GID: m.GID} }
