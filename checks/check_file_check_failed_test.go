package checks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestFileCheckFailedCauses(t *testing.T) {
	const conf = "[global]\n[data]\npath = /srv/data\n"
	mtime := t0.Add(30 * time.Minute)
	file := func(c probe.Class, st probe.NTStatus, mods ...func(*probe.FileResult)) factsMod {
		return func(f *Facts) {
			fr := &probe.FileResult{Path: "flag.txt", Step: okStep()}
			if c != probe.ClassOK {
				fr.Step = failStep(c, st)
			}
			for _, m := range mods {
				m(fr)
			}
			f.Probe.File = fr
		}
	}
	onDisk := func(mode uint32, uid, gid int, acl bool) factsMod {
		return func(f *Facts) {
			f.ScoredFile = &ScoredFileFacts{Name: "flag.txt", Path: "/srv/data/flag.txt", Exists: true, Mode: mode, UID: uid, GID: gid,
				ModTime: mtime, Size: 5, ACL: acl, UserKnown: true, UserUID: 1001, UserGIDs: []int{1001}}
		}
	}
	changed := file(probe.ClassFileMismatch, 0, func(r *probe.FileResult) {
		r.SHA256, r.Expected = "aaaa", "bbbb"
		no := false
		r.Match = &no
	})
	for _, tc := range []struct {
		name  string
		conf  string
		mods  []factsMod
		cause string
		want  []string // texts the finding must carry
	}{
		{name: "healthy", conf: conf, mods: []factsMod{file(probe.ClassOK, 0), onDisk(0o644, 0, 0, false)}},
		{name: "missing", conf: conf, mods: []factsMod{file(probe.ClassFileMissing, probe.StatusObjectNameNotFound)}, cause: "file-missing"},
		{name: "vetoed", conf: conf + "veto files = /*.txt/\n", mods: []factsMod{file(probe.ClassFileMissing, probe.StatusObjectNameNotFound)}, cause: "file-vetoed", want: []string{"veto files"}},
		{name: "hidden and missing from a listing", conf: conf + "hide files = /flag*/\n", mods: []factsMod{file(probe.ClassFileMissing, probe.StatusObjectNameNotFound)}, cause: "file-hidden"},
		{name: "mode bits deny", conf: conf, mods: []factsMod{file(probe.ClassShareDenied, probe.StatusAccessDenied), onDisk(0o600, 0, 0, false)}, cause: "unix-permissions", want: []string{"mode 0600"}},
		{name: "ACL denies", conf: conf, mods: []factsMod{file(probe.ClassShareDenied, probe.StatusAccessDenied), onDisk(0o644, 0, 0, true)}, cause: "acl-denied"},
		{name: "mode allows, smbd refuses", conf: conf, mods: []factsMod{file(probe.ClassShareDenied, probe.StatusAccessDenied), onDisk(0o644, 0, 0, false)}, cause: "share-denies-file"},
		{name: "access denied, file not examined", conf: conf, mods: []factsMod{file(probe.ClassShareDenied, probe.StatusAccessDenied)}, cause: CauseUnexplained},
		{name: "content changed", conf: conf, mods: []factsMod{changed, onDisk(0o644, 0, 0, false)}, cause: "content-changed",
			want: []string{"expected sha256 bbbb, actual sha256 aaaa", mtime.UTC().Format(time.RFC3339)}},
		{name: "read times out", conf: conf, mods: []factsMod{file(probe.ClassTimeout, 0)}, cause: "read-timeout"},
		{name: "other failure", conf: conf, mods: []factsMod{file(probe.ClassError, 0)}, cause: "read-failed"},
		{name: "not requested", conf: conf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFacts(t, tc.conf, tc.mods...)
			fs := runOne(t, PatternFileCheckFailed, f)
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			text := fd.Summary
			for _, e := range fd.Evidence {
				text += "\n" + e.Text + " " + e.Param + " "
			}
			for _, w := range tc.want {
				require.Contains(t, text, w)
			}
			require.NotNil(t, fd.Fix)
		})
	}
}

func TestFileUnixAccess(t *testing.T) {
	base := ScoredFileFacts{Exists: true, UID: 0, GID: 50, UserKnown: true, UserUID: 1001, UserGIDs: []int{1001, 50}}
	for _, tc := range []struct {
		mode uint32
		uid  int
		want string
	}{
		{0o640, 0, "allowed"},    // group 50 has r
		{0o600, 0, "denied"},     // only the owner
		{0o400, 1001, "allowed"}, // the user owns it
		{0o044, 1001, "denied"},  // owner bits decide for the owner
	} {
		sf := base
		sf.Mode, sf.UID = tc.mode, tc.uid
		got, ok := fileUnixAccess(&Facts{ScoredFile: &sf})
		require.True(t, ok)
		require.Equal(t, tc.want, got, "%04o uid %d", tc.mode, tc.uid)
	}
}
