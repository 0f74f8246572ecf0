package smbconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBehavioursWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Behaviours() {
		assert.NotEmpty(t, b.ID)
		assert.False(t, seen[b.ID], "duplicate behaviour id %q", b.ID)
		seen[b.ID] = true
		assert.NotEmpty(t, b.Claim, b.ID)
		assert.NotEmpty(t, b.Source, b.ID)
		for _, s := range []string{b.Since, b.Until} {
			if s != "" {
				_, err := ParseSambaVersion(s)
				assert.NoError(t, err, b.ID)
			}
		}
	}
}

func TestBehaviourHoldsAndRange(t *testing.T) {
	v := func(s string) SambaVersion { x, err := ParseSambaVersion(s); require.NoError(t, err); return x }
	b := Behaviour{Since: "4.16"}
	assert.False(t, b.Holds(v("4.15.13")))
	assert.True(t, b.Holds(v("4.16.0")))
	assert.True(t, b.Holds(v("4.24.8")))
	assert.Equal(t, "Samba 4.16 and later", b.Range())
	b = Behaviour{Since: "4.13", Until: "4.22"}
	assert.True(t, b.Holds(v("4.22.6")))
	assert.False(t, b.Holds(v("4.24.0")))
	assert.False(t, b.Holds(v("4.12.0")))
	assert.Equal(t, "Samba 4.13 to 4.22", b.Range())
	assert.Equal(t, "every Samba release", Behaviour{}.Range())
	d, ok := LookupBehaviour("samba-dcerpcd")
	require.True(t, ok)
	assert.False(t, d.Holds(v("4.13.13")))
	assert.True(t, d.Holds(v("4.17.12")))
	_, ok = LookupBehaviour("no-such")
	assert.False(t, ok)
}
