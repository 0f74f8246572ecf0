package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/test/harness"
)

// Each test reproduces one failure a remote SMB check reports against its
// own real smbd, and checks the probes classify it.

func TestProbeHealthyServer(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	content := []byte("scored content\n")
	require.NoError(t, os.WriteFile(filepath.Join(s.SharePath("data"), "flag.txt"), content, 0o644))
	sum := sha256.Sum256(content)
	o := probeOpts(s.Port())
	o.File, o.FileSHA256 = "flag.txt", hex.EncodeToString(sum[:])
	o.Guest, o.NTLMv1 = true, true
	// Every dialect on its own connection, so that each has its own
	// NEGOTIATE response to check (TestProbeDerivedDialectsMatchProbed
	// covers the default, derived run).
	o.EveryDialect = true
	r := runProbe(t, o)

	require.Equal(t, s.Addr(), r.Target)
	require.Equal(t, probe.TCPAccepted, r.TCP[0].Outcome)
	// pysmb's offer gets SMB2_02 through an SMB2 reply (pysmb smb/base.py
	// switches to SMB2 on a \xFESMB reply).
	py := smb1Result(t, r, probe.OfferPysmb)
	require.True(t, py.Accepted)
	require.Equal(t, "smb2", py.Reply)
	require.Equal(t, probe.SMB2_02, py.Dialect)
	// SMB1 is off by default on 4.17.
	nt1 := smb1Result(t, r, probe.OfferNT1)
	require.Equal(t, probe.ClassNoCommonDialect, nt1.Class)
	require.Equal(t, 0xFFFF, nt1.DialectIndex)
	for _, d := range probe.SMB2Dialects {
		dr := dialectResult(t, r, d)
		require.True(t, dr.Negotiate.Accepted, d)
		require.Equal(t, d, dr.Negotiate.Dialect)
		require.False(t, dr.Negotiate.Info.SigningRequired, d)
		require.Equal(t, d >= probe.SMB3_00, dr.Negotiate.Info.EncryptionCapable, d)
		if d == probe.SMB2_02 || d == probe.SMB3_11 {
			// pysmb's login at SMB2_02, the main login at SMB3_11.
			require.Equal(t, probe.ClassOK, dr.Login.Class, d)
		} else {
			require.Nil(t, dr.Login, "no login at %s unless asked", d)
		}
	}
	// The scorer's login, replayed on pysmb's connection at SMB2_02.
	require.Equal(t, probe.ClassOK, py.Login.Class)
	require.Equal(t, probe.SMB2_02, py.Login.Dialect)
	require.Equal(t, probe.SMB3_11, r.Multi.Dialect)
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.False(t, r.Login.Guest)
	require.False(t, r.GuestMapping.MapsToGuest)
	require.Equal(t, probe.ClassLogonFailure, r.GuestMapping.Session.Class)
	require.Equal(t, probe.ClassOK, r.Anonymous.Class)
	// The 4.17 default "ntlm auth = ntlmv2-only" refuses NTLMv1.
	require.Equal(t, probe.ClassNTLMPolicy, r.NTLMv1.Class)
	require.Equal(t, probe.StatusLogonFailure, r.NTLMv1.Status)
	require.Equal(t, probe.ClassOK, r.IPC.Class)
	require.Equal(t, probe.ClassOK, r.Shares.Class)
	require.Contains(t, r.Shares.Names, "data")
	require.Contains(t, r.Shares.Names, "IPC$")
	require.Equal(t, probe.ClassOK, r.Share.Class)
	require.Equal(t, 1, r.Share.Entries)
	require.Equal(t, probe.ClassOK, r.File.Class)
	require.NotNil(t, r.File.Match)
	require.True(t, *r.File.Match)
	// Only the NTLMv1 refusal is a failure.
	require.Equal(t, map[string]probe.Class{"ntlmv1": probe.ClassNTLMPolicy}, failureClasses(r))
}

func TestProbeServerMinProtocolAboveClientMax(t *testing.T) {
	t.Parallel()
	// "server min protocol = SMB3" means SMB3_11 (lib/param/param_table.c
	// enum_protocol; the assertions below measure it).
	s := startScenario(t, "server min protocol = SMB3")
	r := runProbe(t, probeOpts(s.Port()))
	for _, d := range []probe.Dialect{probe.SMB2_02, probe.SMB2_10, probe.SMB3_00, probe.SMB3_02} {
		dr := dialectResult(t, r, d)
		require.Equal(t, probe.ClassNoCommonDialect, dr.Negotiate.Class, d)
		require.Equal(t, probe.StatusNotSupported, dr.Negotiate.Status, d)
	}
	require.True(t, dialectResult(t, r, probe.SMB3_11).Negotiate.Accepted)
	// The scorer's own handshake: pysmb gets DialectIndex 0xFFFF, "Server
	// does not support any of the pysmb dialects" (pysmb smb/smb_structs.py
	// raises that ProtocolError on DialectIndex 0xFFFF).
	py := smb1Result(t, r, probe.OfferPysmb)
	require.False(t, py.Accepted)
	require.Equal(t, "smb1", py.Reply)
	require.Equal(t, 0xFFFF, py.DialectIndex)
	require.Equal(t, probe.ClassNoCommonDialect, py.Class)
	require.Equal(t, probe.ClassSkipped, py.Login.Class)
	require.Equal(t, probe.SMB3_11, r.Multi.Dialect)
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.Equal(t, map[string]probe.Class{"smb1:pysmb": probe.ClassNoCommonDialect}, failureClasses(r))
}

func TestProbeServerMinProtocolSMB2(t *testing.T) {
	t.Parallel()
	// "SMB2" is SMB2_10: pysmb (SMB2_02 at most) fails, everything else works.
	s := startScenario(t, "server min protocol = SMB2")
	r := runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.ClassNoCommonDialect, dialectResult(t, r, probe.SMB2_02).Negotiate.Class)
	require.True(t, dialectResult(t, r, probe.SMB2_10).Negotiate.Accepted)
	require.Equal(t, probe.ClassNoCommonDialect, smb1Result(t, r, probe.OfferPysmb).Class)
}

func TestProbeSMB1OnlyServer(t *testing.T) {
	t.Parallel()
	// An NT1-only server against SMB2 clients: smbd hangs up on a native
	// SMB2 NEGOTIATE; the NT1 offer proves it is a dialect mismatch.
	s := startScenario(t, "server min protocol = NT1", "server max protocol = NT1")
	r := runProbe(t, probeOpts(s.Port()))
	nt1 := smb1Result(t, r, probe.OfferNT1)
	require.True(t, nt1.Accepted)
	require.Equal(t, probe.NT1, nt1.Dialect)
	require.Equal(t, 0, nt1.DialectIndex)
	py := smb1Result(t, r, probe.OfferPysmb)
	require.True(t, py.Accepted)
	require.Equal(t, "smb1", py.Reply)
	require.Equal(t, probe.NT1, py.Dialect)
	for _, d := range probe.SMB2Dialects {
		require.Equal(t, probe.ClassNoCommonDialect, dialectResult(t, r, d).Negotiate.Class, d)
	}
	require.Equal(t, probe.ClassNoCommonDialect, r.Multi.Class)
	require.Equal(t, probe.ClassSkipped, r.Login.Class)
	require.Equal(t, probe.ClassSkipped, r.Shares.Class)
}

func TestProbeSMB1OnlyClientAgainstDefaultServer(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := probe.NegotiateSMB1(ctx, s.Addr(), probe.SMB1Offers[probe.OfferNT1])
	require.Equal(t, probe.ClassNoCommonDialect, res.Class)
	require.Equal(t, "smb1", res.Reply)
	require.Equal(t, 0xFFFF, res.DialectIndex)
	require.False(t, res.Accepted)
}

func TestProbeRefusedWhenSmbdStopped(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	require.NoError(t, s.Stop())
	r := runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.TCPRefused, r.TCP[0].Outcome)
	require.Equal(t, probe.ClassRefused, r.TCP[0].Class)
	require.Equal(t, probe.ClassSkipped, r.Multi.Class)
	require.Equal(t, probe.ClassSkipped, r.Login.Class)
	require.Equal(t, map[string]probe.Class{"tcp:" + strconv.Itoa(s.Port()): probe.ClassRefused}, failureClasses(r))

	// Restart on the same port brings it back.
	require.NoError(t, s.Restart())
	r = runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.ClassOK, r.Login.Class)
}

func TestProbeRefusedOnWrongPort(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	wrong, err := harness.FreePort()
	require.NoError(t, err)
	o := probeOpts(wrong)
	o.Ports = append(o.Ports, s.Port()) // the right port, probed by TCP only
	r := runProbe(t, o)
	require.Equal(t, probe.ClassRefused, r.TCP[0].Class)
	require.Equal(t, probe.TCPAccepted, r.TCP[1].Outcome)
	require.Equal(t, probe.ClassSkipped, r.Multi.Class)
}

func TestProbeTimeoutWhenSmbdStopped(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	// SIGSTOP: the kernel still completes the handshake (listen backlog),
	// nobody answers: pysmb's "SMB operation timed out in 5 seconds".
	require.NoError(t, s.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = s.Signal(syscall.SIGCONT) })
	o := probeOpts(s.Port())
	o.Timeout = 1500 * time.Millisecond
	t0 := time.Now()
	r := runProbe(t, o)
	took := time.Since(t0)
	require.Less(t, took, o.Timeout+500*time.Millisecond)
	require.Equal(t, probe.TCPAccepted, r.TCP[0].Outcome)
	require.Equal(t, probe.ClassTimeout, smb1Result(t, r, probe.OfferPysmb).Class)
	for _, d := range probe.SMB2Dialects {
		require.Equal(t, probe.ClassTimeout, dialectResult(t, r, d).Negotiate.Class, d)
	}
	require.Equal(t, probe.ClassTimeout, r.Multi.Class)
	require.Equal(t, probe.ClassSkipped, r.Login.Class)
}

func TestProbeResetByMaxSmbdProcesses(t *testing.T) {
	t.Parallel()
	// smbd-notifyd and smbd-cleanupd count, so 2 lets no client in: the
	// parent accepts and closes at once. Whether the client sees RST or EOF
	// is a race (on Samba 4.17.12, 3 to 6 of 10 pysmb runs got errno 104).
	s := startScenario(t, "max smbd processes = 2")
	o := probeOpts(s.Port())
	r := runProbe(t, o)
	require.Contains(t, []probe.Class{probe.ClassReset, probe.ClassClosed}, r.Multi.Class)
	require.Contains(t, []probe.Class{probe.ClassReset, probe.ClassClosed}, smb1Result(t, r, probe.OfferPysmb).Class)
	require.Equal(t, probe.ClassSkipped, r.Login.Class)
}

func TestProbeIPCUnavailable(t *testing.T) {
	t.Parallel()
	s := harness.StartT(t, harness.Config{
		Users: []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}, {Name: "IPC$", Lines: []string{
			"hosts allow = 10.0.0.0/8", "hosts deny = 0.0.0.0/0",
		}}},
	})
	r := runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.Equal(t, probe.ClassIPCUnavailable, r.IPC.Class)
	require.Equal(t, probe.StatusAccessDenied, r.IPC.Status)
	require.Equal(t, probe.ClassSkipped, r.Shares.Class)
	require.Equal(t, probe.ClassOK, r.Share.Class, "other shares still work")
}

func TestProbeIPCUnavailableForInvalidUser(t *testing.T) {
	t.Parallel()
	s := startScenario(t, "invalid users = "+probeUser)
	r := runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.Equal(t, probe.ClassIPCUnavailable, r.IPC.Class)
}

func TestProbeRPCEndpointMissing(t *testing.T) {
	t.Parallel()
	t.Run("rpc start on demand helpers = no", func(t *testing.T) {
		t.Parallel()
		s := startScenario(t, "rpc start on demand helpers = no")
		r := runProbe(t, probeOpts(s.Port()))
		require.Equal(t, probe.ClassOK, r.IPC.Class)
		require.Equal(t, probe.ClassOK, r.Share.Class)
		if b, ok := releaseHas(t, "rpc-start-on-demand-helpers"); !ok {
			// Before samba-dcerpcd the parameter is unknown (ignored with
			// a warning) and smbd serves srvsvc in the connection's own
			// child: the listing works.
			require.Equal(t, probe.ClassOK, r.Shares.Class, "%s: %s; this release has no such setting", b.Range(), b.Claim)
			return
		}
		// No samba-dcerpcd and smbd may not start one: opening srvsvc
		// fails, pysmb's "Unable to locate Server Service RPC endpoint".
		require.Equal(t, probe.ClassRPCEndpointMissing, r.Shares.Class)
		require.NotZero(t, r.Shares.Status)
	})
	t.Run("nt pipe support = no", func(t *testing.T) {
		t.Parallel()
		// Every release: smbd refuses named-pipe opens on IPC$
		// (source3/smbd/smb2_create.c, "nt pipe support").
		s := startScenario(t, "nt pipe support = no")
		r := runProbe(t, probeOpts(s.Port()))
		require.Equal(t, probe.ClassOK, r.IPC.Class)
		require.Equal(t, probe.ClassRPCEndpointMissing, r.Shares.Class)
		require.NotZero(t, r.Shares.Status)
		require.Equal(t, probe.ClassOK, r.Share.Class)
	})
}

func TestProbeLoginWrongPassword(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	o := probeOpts(s.Port())
	o.Password = "wrong"
	r := runProbe(t, o)
	require.Equal(t, probe.ClassLogonFailure, r.Login.Class)
	require.Equal(t, probe.StatusLogonFailure, r.Login.Status)
	require.Equal(t, probe.ClassSkipped, r.IPC.Class)
	require.Equal(t, probe.ClassSkipped, r.Shares.Class)
	require.Equal(t, probe.ClassSkipped, r.Share.Class)
	require.Equal(t, probe.ClassLogonFailure, smb1Result(t, r, probe.OfferPysmb).Login.Class)
	require.Equal(t, map[string]probe.Class{
		"login": probe.ClassLogonFailure, "smb1:pysmb:login": probe.ClassLogonFailure,
	}, failureClasses(r))
}

func TestProbeLoginUnknownUser(t *testing.T) {
	t.Parallel()
	// Samba answers LOGON_FAILURE for an unknown user too; only its log
	// says NO_SUCH_USER (auth_audit at level 2).
	s := startScenario(t)
	o := probeOpts(s.Port())
	o.User = "nosuchuser"
	r := runProbe(t, o)
	require.Equal(t, probe.ClassLogonFailure, r.Login.Class)
}

func TestProbeLoginGuestMapping(t *testing.T) {
	t.Parallel()
	// Debian's stock "map to guest = bad user": an unknown user becomes
	// guest and the login "succeeds" (go-smb2 v1.1.0 session.go
	// sessionSetup does not see the guest flag).
	s := startScenario(t, "map to guest = bad user")
	o := probeOpts(s.Port())
	o.User = "nosuchuser"
	r := runProbe(t, o)
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.True(t, r.Login.Guest)
	require.True(t, r.GuestMapping.MapsToGuest)
	require.True(t, r.GuestMapping.Session.Guest)
}

func TestProbeLoginAccountDisabled(t *testing.T) {
	t.Parallel()
	s := startScenario(t)
	require.NoError(t, s.DisableUser(probeUser))
	r := runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.ClassAccountDisabled, r.Login.Class)
	require.Equal(t, probe.StatusAccountDisabled, r.Login.Status)
}

func TestProbeNTLMv1AgainstNTLMv2Only(t *testing.T) {
	t.Parallel()
	s := startScenario(t, "ntlm auth = ntlmv2-only")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v1 := probe.Session(ctx, s.Addr(), probe.Credentials{User: probeUser, Password: probePass, Auth: probe.AuthNTLMv1}, nil)
	require.Equal(t, probe.ClassLogonFailure, v1.Class)
	v2 := probe.Session(ctx, s.Addr(), probe.Credentials{User: probeUser, Password: probePass}, nil)
	require.Equal(t, probe.ClassOK, v2.Class)

	o := probeOpts(s.Port())
	o.NTLMv1 = true
	r := runProbe(t, o)
	require.Equal(t, probe.ClassNTLMPolicy, r.NTLMv1.Class)
}

func TestProbeNTLMv1Permitted(t *testing.T) {
	t.Parallel()
	// The fix for an NTLMv1-only client (TestProbeNTLMv1AgainstNTLMv2Only):
	// our NTLMv1 response is correct, so it
	// gets in once the server permits NTLMv1, and a wrong password does not.
	s := startScenario(t, "ntlm auth = ntlmv1-permitted")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok := probe.Session(ctx, s.Addr(), probe.Credentials{User: probeUser, Password: probePass, Auth: probe.AuthNTLMv1}, nil)
	require.Equal(t, probe.ClassOK, ok.Class, ok.Error)
	bad := probe.Session(ctx, s.Addr(), probe.Credentials{User: probeUser, Password: "nope", Auth: probe.AuthNTLMv1}, nil)
	require.Equal(t, probe.ClassLogonFailure, bad.Class)
}

func TestProbeEncryptionRequired(t *testing.T) {
	t.Parallel()
	// SMB2_02 and SMB2_10 cannot encrypt: smbd "reject session with
	// dialect[0x0202] as encryption is required" (STATUS_ACCESS_DENIED).
	s := startScenario(t, encryptParam(t)+" = required")
	o := probeOpts(s.Port())
	o.DialectLogins = probe.SMB2Dialects
	r := runProbe(t, o)
	// pysmb cannot encrypt: its login at SMB2_02 is refused, which pysmb
	// reports as "protocol error" (pysmb smb/base.py raises ProtocolError
	// for a session setup status it does not know, here ACCESS_DENIED).
	py := smb1Result(t, r, probe.OfferPysmb)
	require.True(t, py.Accepted)
	require.Equal(t, probe.ClassAccessDenied, py.Login.Class)
	require.Equal(t, probe.StatusAccessDenied, py.Login.Status)
	for _, d := range []probe.Dialect{probe.SMB2_02, probe.SMB2_10} {
		dr := dialectResult(t, r, d)
		require.True(t, dr.Negotiate.Accepted, d)
		require.Equal(t, probe.ClassAccessDenied, dr.Login.Class, d)
		require.Equal(t, probe.StatusAccessDenied, dr.Login.Status, d)
	}
	for _, d := range []probe.Dialect{probe.SMB3_00, probe.SMB3_02, probe.SMB3_11} {
		require.Equal(t, probe.ClassOK, dialectResult(t, r, d).Login.Class, d)
	}
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.True(t, r.Login.Encrypted, "SMB2_SESSION_FLAG_ENCRYPT_DATA")
	require.Equal(t, probe.ClassOK, r.Shares.Class)

	// Without explicit per-dialect logins the same verdict is visible: the
	// replayed pysmb login fills SMB2_02, the main login SMB3_11.
	r = runProbe(t, probeOpts(s.Port()))
	require.Equal(t, probe.ClassAccessDenied, dialectResult(t, r, probe.SMB2_02).Login.Class)
	require.Equal(t, probe.ClassOK, dialectResult(t, r, probe.SMB3_11).Login.Class)
	require.Nil(t, dialectResult(t, r, probe.SMB2_10).Login)
}

func TestProbeSigningMandatory(t *testing.T) {
	t.Parallel()
	s := startScenario(t, "server signing = mandatory")
	o := probeOpts(s.Port())
	o.EveryDialect = true
	r := runProbe(t, o)
	for _, d := range probe.SMB2Dialects {
		dr := dialectResult(t, r, d)
		require.True(t, dr.Negotiate.Info.SigningRequired, d)
	}
	// Derived cells carry the NEGOTIATE response they come from, where
	// there is one (pysmb's for SMB2_02, the all-dialect one for SMB3_11).
	r = runProbe(t, probeOpts(s.Port()))
	for _, d := range []probe.Dialect{probe.SMB2_02, probe.SMB3_11} {
		dr := dialectResult(t, r, d)
		require.NotEmpty(t, dr.DerivedFrom, d)
		require.True(t, dr.Negotiate.Info.SigningRequired, d)
	}
	require.True(t, smb1Result(t, r, probe.OfferPysmb).SigningRequired)
	require.Equal(t, probe.ClassOK, r.Login.Class)
	// go-smb2 may fail on an unsigned interim reply; the probe then lists on
	// its own signed client.
	require.Equal(t, probe.ClassOK, r.Shares.Class)
}

// TestProbeDerivedDialectsMatchProbed: a dialect cell derived from pysmb's
// handshake and the all-dialect negotiate (the default) says the same as a
// NEGOTIATE of that dialect alone (EveryDialect), for server ranges that
// put the range's ends at each place the derivation depends on: the whole
// range, a capped top, a raised bottom, and no SMB2 at all.
func TestProbeDerivedDialectsMatchProbed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		global  []string
		derived []probe.Dialect // the cells the default run must derive
	}{
		{"default", nil, probe.SMB2Dialects},
		{"max-SMB3_00", []string{"server max protocol = SMB3_00"}, probe.SMB2Dialects},
		{"min-SMB2_10", []string{"server min protocol = SMB2_10", "server max protocol = SMB3_02"},
			[]probe.Dialect{probe.SMB3_02, probe.SMB3_11}},
		{"NT1-only", []string{"server min protocol = NT1", "server max protocol = NT1"}, nil},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startScenario(t, c.global...)
			o := probeOpts(s.Port())
			o.NoGuestMapping = true
			derived := runProbe(t, o)
			o.EveryDialect = true
			probed := runProbe(t, o)
			var got []probe.Dialect
			for _, d := range probe.SMB2Dialects {
				dv, pv := dialectResult(t, derived, d), dialectResult(t, probed, d)
				require.Empty(t, pv.DerivedFrom, d)
				if dv.DerivedFrom != "" {
					got = append(got, d)
				}
				require.Equal(t, pv.Negotiate.Class, dv.Negotiate.Class, d)
				require.Equal(t, pv.Negotiate.Accepted, dv.Negotiate.Accepted, d)
				if pv.Negotiate.Accepted {
					require.Equal(t, d, dv.Negotiate.Dialect)
				}
				if dv.Negotiate.Info != nil && pv.Negotiate.Info != nil {
					require.Equal(t, pv.Negotiate.Info.SigningRequired, dv.Negotiate.Info.SigningRequired, d)
				}
			}
			require.Equal(t, c.derived, got, "derived cells")
			// The derived run leaves out the negotiates it derived.
			steps := map[string]bool{}
			for _, st := range derived.Steps() {
				steps[st.Name] = true
			}
			for _, d := range got {
				require.False(t, steps["negotiate:"+d.String()], d)
			}
		})
	}
}
