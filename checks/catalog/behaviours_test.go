package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smb-agent/smb-agent/configs/smbconf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBehaviourReferenceIsExpandedFromTheRegistry(t *testing.T) {
	c, err := ParseFS(miniFS(func(f map[string]string) {
		f["patterns/01-alpha.yaml"] = strings.Replace(f["patterns/01-alpha.yaml"],
			"detail: Really down.", "detail: Really down ({behaviour:samba-dcerpcd}).", 1)
	}))
	require.NoError(t, err)
	p, _ := c.Get("alpha")
	b, ok := smbconf.LookupBehaviour("samba-dcerpcd")
	require.True(t, ok)
	cs, _ := p.Cause("down")
	assert.Equal(t, "Really down ("+b.Qualifier()+").", cs.Detail)
	assert.Equal(t, []string{"samba-dcerpcd"}, cs.Behaviours)
	assert.Empty(t, p.Behaviours, "a cause's reference is the cause's")
}

func TestBehaviourReferenceErrors(t *testing.T) {
	for name, mod := range map[string]func(map[string]string){
		"unknown id": func(f map[string]string) {
			f["patterns/01-alpha.yaml"] = strings.Replace(f["patterns/01-alpha.yaml"],
				"meaning: Alpha means something.", "meaning: Alpha ({behaviour:no-such-thing}).", 1)
		},
		"in a command": func(f map[string]string) {
			f["patterns/01-alpha.yaml"] = strings.Replace(f["patterns/01-alpha.yaml"],
				"command: systemctl start smbd", "command: systemctl start smbd {behaviour:samba-dcerpcd}", 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFS(miniFS(mod))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "behaviour")
		})
	}
}

// Every reference in the catalog the agent loads is expanded: no placeholder is
// left for a person to read, and the texts that state smbd's behaviour
// name its releases.
func TestEmbeddedCatalogNamesReleases(t *testing.T) {
	c, err := Load()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, p := range c.All() {
		for _, id := range p.Behaviours {
			seen[id] = true
		}
		for _, c := range p.Causes {
			for _, id := range c.Behaviours {
				seen[id] = true
			}
		}
		raw, err := os.ReadFile(filepath.Join("data", "patterns", patternFile(t, p.ID)))
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "Since Samba 4.", "%s: a release range typed by hand; use {behaviour:ID}", p.ID)
	}
	for _, id := range []string{smbconf.BehaviourSambaDcerpcd, smbconf.BehaviourNewConnectionRereads,
		smbconf.BehaviourGlobalHostsNeedReload, smbconf.BehaviourSocketsNeedRestart, smbconf.BehaviourSMB1OffByDefault} {
		assert.True(t, seen[id], "no catalog text states %s", id)
	}
}

func patternFile(t *testing.T, id string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("data", "patterns"))
	require.NoError(t, err)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join("data", "patterns", e.Name()))
		if strings.Contains(string(b), "\nid: "+id+"\n") || strings.HasPrefix(string(b), "id: "+id+"\n") {
			return e.Name()
		}
	}
	t.Fatalf("no file for pattern %s", id)
	return ""
}
