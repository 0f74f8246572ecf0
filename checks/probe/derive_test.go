package probe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDeriveDialects(t *testing.T) {
	multi := func(d Dialect) SMB2Result {
		return SMB2Result{Offered: SMB2Dialects, Accepted: true, Dialect: d, Info: &NegotiateInfo{Dialect: d}, Step: Step{Class: ClassOK}}
	}
	pysmb202 := SMB1Result{Offer: OfferPysmb, Reply: "smb2", Accepted: true, Dialect: SMB2_02,
		Raw: &SMB1Reply{Form: "smb2", SMB2: &NegotiateInfo{Dialect: SMB2_02}}, Step: Step{Class: ClassOK}}
	pysmbNone := SMB1Result{Offer: OfferPysmb, Reply: "smb1", Step: Step{Class: ClassNoCommonDialect}}
	timedOut := SMB2Result{Offered: SMB2Dialects, Step: Step{Class: ClassTimeout}}

	type cell struct {
		accepted bool
		from     string
	}
	cases := []struct {
		name  string
		pysmb SMB1Result
		multi SMB2Result
		want  map[Dialect]cell
	}{
		{"whole range", pysmb202, multi(SMB3_11), map[Dialect]cell{
			SMB2_02: {true, "smb1:pysmb"}, SMB2_10: {true, "smb1:pysmb + negotiate"},
			SMB3_00: {true, "smb1:pysmb + negotiate"}, SMB3_02: {true, "smb1:pysmb + negotiate"},
			SMB3_11: {true, "negotiate"},
		}},
		{"capped top", pysmb202, multi(SMB3_00), map[Dialect]cell{
			SMB2_02: {true, "smb1:pysmb"}, SMB2_10: {true, "smb1:pysmb + negotiate"},
			SMB3_00: {true, "negotiate"}, SMB3_02: {false, "negotiate"}, SMB3_11: {false, "negotiate"},
		}},
		// pysmb refused: the bottom of the range is unknown, so everything
		// below the chosen dialect is left to its own negotiate.
		{"raised bottom", pysmbNone, multi(SMB3_02), map[Dialect]cell{
			SMB3_02: {true, "negotiate"}, SMB3_11: {false, "negotiate"},
		}},
		{"only SMB2_02", pysmb202, multi(SMB2_02), map[Dialect]cell{
			SMB2_02: {true, "negotiate"}, SMB2_10: {false, "negotiate"}, SMB3_00: {false, "negotiate"},
			SMB3_02: {false, "negotiate"}, SMB3_11: {false, "negotiate"},
		}},
		// Nothing is derived from a negotiate that did not answer.
		{"multi timed out", pysmb202, timedOut, map[Dialect]cell{SMB2_02: {true, "smb1:pysmb"}}},
		{"nothing answered", SMB1Result{}, SMB2Result{}, map[Dialect]cell{}},
		// A server that chose a dialect it was not offered proves nothing.
		{"bogus choice", pysmbNone, SMB2Result{Offered: []Dialect{SMB2_02}, Accepted: true, Dialect: SMB3_11,
			Info: &NegotiateInfo{}, Step: Step{Class: ClassOK}}, map[Dialect]cell{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := deriveDialects(c.pysmb, c.multi)
			gotCells := map[Dialect]cell{}
			for d, r := range got {
				require.Equal(t, d, r.Dialect)
				gotCells[d] = cell{r.Negotiate.Accepted, r.DerivedFrom}
				if r.Negotiate.Accepted {
					require.Equal(t, ClassOK, r.Negotiate.Class, d)
					require.Equal(t, d, r.Negotiate.Dialect, d)
				} else {
					require.Equal(t, ClassNoCommonDialect, r.Negotiate.Class, d)
					require.Contains(t, r.Negotiate.Error, "derived from negotiate", d)
				}
			}
			require.Equal(t, c.want, gotCells)
		})
	}
}
