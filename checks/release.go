package checks

import (
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Which Samba release does what is configs/smbconf/behaviours.go's
// knowledge; the checks ask it here, never compare versions themselves.
// Decisions (which cause, which parameter name) follow Holds: the range
// comes from Samba's source, so a release outside the matrix is judged by
// it too; the texts name the range with behaviours.go's helpers.

// The server's encryption setting under its two names (encryptParam).
const (
	paramServerSMBEncrypt = "server smb encrypt"
	paramSMBEncryptPre414 = "smb encrypt"
)

// releaseDoes reports whether the release that read smb.conf does
// behaviour id: the detected or configured one, or, when unknown, the
// release whose parameter table the parser used (smbconf.TableFor), so the
// answer agrees with the config the checks read.
func releaseDoes(f *Facts, id string) bool {
	b, ok := smbconf.LookupBehaviour(id)
	if !ok {
		// A programming error the first test that evaluates it shows.
		panic("checks: behaviour " + id + " is not in the registry")
	}
	var v smbconf.SambaVersion
	if f != nil {
		v = f.SambaVersion
	}
	return b.Holds(smbconf.TableFor(v).Requested)
}

// encryptParam is the release's name of the server's encryption setting:
// "server smb encrypt" since 4.14, "smb encrypt" before (where the new
// name is an unknown parameter). Lookups and fixes use it, so that a plan
// never writes a line the release ignores.
func encryptParam(f *Facts) string {
	if releaseDoes(f, smbconf.BehaviourServerSMBEncrypt) {
		return paramServerSMBEncrypt
	}
	return paramSMBEncryptPre414
}
