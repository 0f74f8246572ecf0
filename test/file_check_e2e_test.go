package test

// file-check-failed against a real smbd: the scored file is missing,
// vetoed, or its content changed.

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/test/harness"
)

func TestDiagnoseFileCheckFailed(t *testing.T) {
	t.Parallel()
	good := []byte("flag{scored}\n")
	sum := sha256.Sum256(good)
	want := hex.EncodeToString(sum[:])
	write := func(t *testing.T, s *harness.Smbd, name string, data []byte) string {
		p := filepath.Join(s.SharePath("data"), name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	t.Run("content matches: no finding", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		write(t, s, "flag.txt", good)
		r := diagnose(t, diagArgs(s, "--file", "flag.txt", "--file-sha256", want)...)
		require.Equal(t, 0, r.code, "%+v", r.report.Findings)
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		r := diagnose(t, diagArgs(s, "--file", "flag.txt", "--file-sha256", want)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "file-check-failed", "file-missing")
		require.Equal(t, "cause file-missing", f.Decision[len(f.Decision)-1].Answer)
	})
	t.Run("vetoed", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{Shares: []harness.Share{{Name: "data", Lines: []string{"veto files = /*.txt/"}}}})
		write(t, s, "flag.txt", good)
		r := diagnose(t, diagArgs(s, "--file", "flag.txt", "--file-sha256", want)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "file-check-failed", "file-vetoed")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "veto files = /*.txt/"))
		require.Equal(t, checks.FixConfig, f.Fix.Kind)
	})
	t.Run("content changed", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		p := write(t, s, "flag.txt", []byte("defaced\n"))
		mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		r := diagnose(t, diagArgs(s, "--file", "flag.txt", "--file-sha256", want)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "file-check-failed", "content-changed")
		sumBad := sha256.Sum256([]byte("defaced\n"))
		var text string
		for _, e := range f.Evidence {
			text += e.Text + "\n"
		}
		require.Contains(t, text, "expected sha256 "+want)
		require.Contains(t, text, "actual sha256 "+hex.EncodeToString(sumBad[:]))
		require.Contains(t, text, "2026-01-02T03:04:05Z")
	})
}
