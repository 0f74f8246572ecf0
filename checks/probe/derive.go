package probe

import "fmt"

// Why derive: every probe connection makes smbd fork a child and load its
// configuration, which is most of what a probe run costs the host. The
// all-dialect negotiate and pysmb's handshake, which Run makes anyway,
// already answer most per-dialect questions; a connection of its own is
// opened only for a dialect whose answer they leave open. A derived cell
// says so (DialectResult.DerivedFrom) and names the probe steps it follows
// from, so the report never passes a guess off as a probe.

// Step names of the probes a dialect cell can be derived from (as in
// Result.Steps).
const (
	stepMulti = "negotiate"
	stepPysmb = "smb1:" + OfferPysmb
)

// deriveDialects returns the per-dialect results that pysmb's handshake
// and the all-dialect negotiate imply, keyed by dialect; a dialect missing
// from the map needs a negotiate of its own. The rules:
//
//   - the all-dialect negotiate chose H: H is accepted, and every offered
//     dialect above H is refused, because a server selects the greatest
//     dialect it shares with the client (MS-SMB2 3.3.5.4);
//   - pysmb's "SMB 2.002" offer was answered with SMB2_02: SMB2_02 is
//     accepted (Samba gates "SMB 2.002" by the same server min/max protocol
//     range as a native SMB2_02 NEGOTIATE, source3/smbd/smb1_negprot.c);
//   - both SMB2_02 and H are accepted: every dialect between them is too,
//     because smbd accepts exactly the dialects from server min protocol to
//     server max protocol, with no way to switch off one in the middle
//     (source3/smbd/smb2_negprot.c, smbd_smb2_request_process_negprot).
//
// Nothing is derived from a probe that failed or timed out: those dialects
// are probed on their own, as is any dialect the server's answers do not
// bracket.
func deriveDialects(pysmb SMB1Result, multi SMB2Result) map[Dialect]DialectResult {
	out := map[Dialect]DialectResult{}
	high := Dialect(0)
	if multi.OK() && multi.Accepted && multi.Info != nil && offeredDialect(multi.Offered, multi.Dialect) {
		high = multi.Dialect
		for _, d := range multi.Offered {
			switch {
			case d == high:
				out[d] = DialectResult{Dialect: d, DerivedFrom: stepMulti, Negotiate: SMB2Result{
					Offered: multi.Offered, Accepted: true, Dialect: d, Info: multi.Info,
					Step: Step{Class: ClassOK, LatencyMS: multi.LatencyMS},
				}}
			case d > high:
				out[d] = DialectResult{Dialect: d, DerivedFrom: stepMulti, Negotiate: SMB2Result{
					Offered: multi.Offered,
					Step: Step{Class: ClassNoCommonDialect, LatencyMS: multi.LatencyMS, Error: fmt.Sprintf(
						"derived from %s: offered with every dialect, the server chose %s, and a server selects the greatest dialect it accepts", stepMulti, high)},
				}}
			}
		}
	}
	low := Dialect(0)
	if pysmb.OK() && pysmb.Accepted && pysmb.Reply == "smb2" && pysmb.Dialect == SMB2_02 &&
		pysmb.Raw != nil && pysmb.Raw.SMB2 != nil {
		low = SMB2_02
		if _, ok := out[SMB2_02]; !ok {
			out[SMB2_02] = DialectResult{Dialect: SMB2_02, DerivedFrom: stepPysmb, Negotiate: SMB2Result{
				Offered: []Dialect{SMB2_02}, Accepted: true, Dialect: SMB2_02, Info: pysmb.Raw.SMB2,
				Step: Step{Class: ClassOK, LatencyMS: pysmb.LatencyMS},
			}}
		}
	}
	if low != 0 && high > low {
		for _, d := range SMB2Dialects {
			if d > low && d < high {
				out[d] = DialectResult{Dialect: d, DerivedFrom: stepPysmb + " + " + stepMulti, Negotiate: SMB2Result{
					Offered: []Dialect{d}, Accepted: true, Dialect: d,
					Step: Step{Class: ClassOK},
				}}
			}
		}
	}
	return out
}
