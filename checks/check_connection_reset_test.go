package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestConnectionResetCauses(t *testing.T) {
	reset := withProbe(func(r *probe.Result) {
		r.SMB1[0].Step = failStep(probe.ClassReset, 0)
		r.Multi.Step = failStep(probe.ClassClosed, 0)
	})
	for _, tc := range []struct {
		name  string
		conf  string
		mods  []factsMod
		cause string
	}{
		{name: "healthy", conf: "[global]\n"},
		{name: "max smbd processes reached", conf: "[global]\nmax smbd processes = 3\n", mods: []factsMod{reset}, cause: causeMaxSmbdProcesses},
		{name: "max smbd processes = 2 from config alone", conf: "[global]\nmax smbd processes = 2\n", cause: causeMaxSmbdProcesses},
		{name: "child died", conf: "[global]\n", mods: []factsMod{reset, func(f *Facts) { f.Smbd.Children = append(f.Smbd.Children, Process{PID: 120, Comm: "smbd", State: "D"}) }}, cause: causeSmbdChildDied},
		{name: "nothing on this host", conf: "[global]\n", mods: []factsMod{reset}, cause: causeMiddleboxReset},
		{name: "large limit is fine", conf: "[global]\nmax smbd processes = 100\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternConnectionReset, newFacts(t, tc.conf, tc.mods...))
			if tc.cause == "" {
				require.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			require.Equal(t, tc.cause, fs[0].Cause, fs[0].Summary)
			if tc.cause == causeMaxSmbdProcesses {
				require.True(t, hasEvidenceAt(fs[0], testConf, 2))
				require.True(t, fs[0].Fix.Changes[0].Remove)
			}
		})
	}
}
