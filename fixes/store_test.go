package fixes

import (
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"testing"
	"time"
)

const fuzzID = "20260101T000000.000000000Z-42-beef"

var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

func signed(raw []byte) []byte {
	b, _ := json.Marshal(manifestEnvelope{Format: manifestFormat, Manifest: raw,
		HMAC: hex.EncodeToString(manifestMAC(fuzzKey, fuzzID, raw))})
	return b
}

// FuzzParseManifest: the manifest reader takes any bytes (an envelope as
// found on disk, and the same bytes as a manifest signed with the key)
// without panicking, and what it accepts is only what recovery may act
// on.
func FuzzParseManifest(f *testing.F) {
	good, _ := json.Marshal(Manifest{ID: fuzzID, Op: "apply", Time: time.Unix(0, 0).UTC(), State: StateInProgress,
		Fixes: []string{"protocol-mismatch/x"}, Action: ActionReload, SmbConf: "/etc/samba/smb.conf",
		Files: []ManifestFile{{Path: "/etc/samba/smb.conf", Real: "/etc/samba/smb.conf", Backup: "/b/1-smb.conf",
			BeforeSHA256: sha(nil), AfterSHA256: sha([]byte("x")), Mode: 0o644, UID: 0, GID: 0}}})
	f.Add(good)
	f.Add(signed(good))
	f.Add([]byte(`{"format":"smb-agent-manifest/1","manifest":{},"hmac_sha256":"00"}`))
	f.Add([]byte(`{"id":"` + fuzzID + `","op":"apply","state":"in-progress","smb_conf":"/a/../etc","files":[{"path":"rel"}]}`))
	f.Add([]byte(`{"manifest":[1,2,3]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, signed(b)} {
			m, err := parseManifest(in, fuzzID, fuzzKey)
			if err != nil {
				continue
			}
			if m.ID != fuzzID {
				t.Fatalf("accepted id %q", m.ID)
			}
			if !filepath.IsAbs(m.SmbConf) || len(m.Files) > maxManifestFiles {
				t.Fatalf("accepted %+v", m)
			}
			for _, mf := range m.Files {
				if !filepath.IsAbs(mf.Path) || filepath.Clean(mf.Path) != mf.Path || !filepath.IsAbs(mf.Real) {
					t.Fatalf("accepted file path %q / %q", mf.Path, mf.Real)
				}
				if mf.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
					t.Fatalf("accepted mode %v", mf.Mode)
				}
			}
			if _, err := parseManifest(in, fuzzID, []byte("another key, another agent......")); err == nil {
				t.Fatal("accepted under another key")
			}
		}
	})
}
