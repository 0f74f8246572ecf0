package test

import (
	"context"
	"testing"
	"time"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/test/harness"
)

// BenchmarkProbe measures probe costs against a warm local smbd (make bench).
func BenchmarkProbe(b *testing.B) {
	s := harness.StartT(b, harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}},
	})
	if err := s.WarmRPC(harness.User{Name: probeUser, Password: probePass}, 10*time.Second); err != nil {
		b.Fatal(err)
	}
	full := probeOpts(s.Port())
	full.Timeout = 5 * time.Second
	ctx := context.Background()
	cases := []struct {
		name string
		f    func() bool
	}{
		{"run-full", func() bool { return len(probe.Run(ctx, "127.0.0.1", full).Failures()) == 0 }},
		// The same run negotiating every dialect on its own connection:
		// run-full derives most of them (five smbd forks fewer).
		{"run-full-every-dialect", func() bool {
			o := full
			o.EveryDialect = true
			return len(probe.Run(ctx, "127.0.0.1", o).Failures()) == 0
		}},
		// A serve light round: NT1 carried from an earlier run.
		{"run-full-carry-nt1", func() bool {
			o := full
			o.CarryNT1 = &probe.SMB1Result{Offer: probe.OfferNT1, Carried: &probe.Carried{Runs: 1},
				Step: probe.Step{Class: probe.ClassNoCommonDialect}}
			return len(probe.Run(ctx, "127.0.0.1", o).Failures()) == 0
		}},
		{"run-skip-auth", func() bool {
			o := full
			o.SkipAuth = true
			return len(probe.Run(ctx, "127.0.0.1", o).Failures()) == 0
		}},
		{"tcp", func() bool { return probe.TCPConnect(ctx, s.Addr()).OK() }},
		{"smb1-pysmb", func() bool { return probe.NegotiateSMB1(ctx, s.Addr(), probe.SMB1Offers[probe.OfferPysmb]).Accepted }},
		{"negotiate-smb2-own", func() bool { return probe.NegotiateSMB2(ctx, s.Addr(), []probe.Dialect{probe.SMB3_11}).Accepted }},
		{"dialect-go-smb2-login", func() bool {
			c := probe.Credentials{User: probeUser, Password: probePass}
			return probe.ProbeDialect(ctx, s.Addr(), probe.SMB3_11, &c).Login.OK()
		}},
		{"session-own-ntlmv2", func() bool {
			return probe.Session(ctx, s.Addr(), probe.Credentials{User: probeUser, Password: probePass}, nil).OK()
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if !c.f() {
					b.Fatal("probe failed")
				}
			}
		})
	}
}
