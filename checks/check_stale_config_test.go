package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestStaleConfigCauses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		conf     string
		mods     []factsMod
		cause    string
		severity Status
	}{
		{name: "healthy", conf: "[global]\n"},
		{name: "edited, nothing that needs a restart", conf: "[global]\nworkgroup = X\n", mods: []factsMod{withConfigChangedAfterStart()}},
		{name: "other config file", conf: "[global]\n", mods: []factsMod{func(f *Facts) { f.Smbd.ConfigPath = "/etc/samba/other.conf" }}, cause: causeOtherConfig, severity: Warning},
		{name: "smb ports edited, not restarted: target still served", conf: "[global]\nsmb ports = 445\n",
			mods: []factsMod{withConfigChangedAfterStart()}, cause: causeListenNotApplied2, severity: Warning},
		{name: "smb ports edited, target port closed", conf: "[global]\nsmb ports = 445\n",
			mods: []factsMod{withConfigChangedAfterStart(), withListeners(Listener{Addr: "0.0.0.0", Port: 4455, PID: 100})}, cause: causeListenNotApplied2, severity: Critical},
		{name: "bind interfaces only set after start", conf: "[global]\ninterfaces = lo\nbind interfaces only = yes\n",
			mods: []factsMod{withConfigChangedAfterStart()}, cause: causeListenNotApplied2, severity: Warning},
		{name: "global hosts edited, not reloaded", conf: "[global]\nhosts deny = 10.0.0.0/8\n",
			mods: []factsMod{withConfigChangedAfterStart(), withRemoteIP("10.0.0.5")}, cause: causeGlobalHostsNotReload, severity: Warning},
		{name: "per-connection change not seen yet", conf: "[global]\nserver min protocol = SMB2_02\n",
			mods: []factsMod{withConfigChangedAfterStart(), withProbe(func(r *probe.Result) {
				r.Dialects[0].Negotiate.Accepted, r.Dialects[0].Negotiate.Step = false, failStep(probe.ClassNoCommonDialect, probe.StatusNotSupported)
			})}, cause: causePendingPerConn, severity: Warning},
		{name: "smbd not running", conf: "[global]\n", mods: []factsMod{withoutSmbd()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternStaleConfig, newFacts(t, tc.conf, tc.mods...))
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			require.Equal(t, tc.severity, fd.Severity, fd.Summary)
		})
	}
}
