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

func TestBehaviourQualifierAndFor(t *testing.T) {
	v := func(s string) SambaVersion { x, err := ParseSambaVersion(s); require.NoError(t, err); return x }
	known := KnownReleases()
	oldest, newest := known[0].Series(), known[len(known)-1].Series()
	since := Behaviour{Since: "4.16"}
	assert.Equal(t, "Samba 4.16 and later, checked up to "+newest, since.Qualifier())
	assert.Equal(t, "every Samba release, checked on "+oldest+" to "+newest, Behaviour{}.Qualifier())
	assert.Equal(t, "Samba 4.13 and earlier", Behaviour{Until: "4.13"}.Qualifier())

	assert.Equal(t, "Samba 4.16 and later", since.For(v("4.17.12")))
	assert.Equal(t, "Samba 4.16 and later; not Samba 4.13", since.For(v("4.13.13")))
	// Outside the matrix only what was checked is said.
	assert.Equal(t, "checked on Samba 4.17 to "+newest+"; not verified on 4.99", since.For(v("4.99.0")))
	assert.Equal(t, "checked on Samba "+oldest+"; not verified on 4.12", Behaviour{Until: "4.13"}.For(v("4.12.0")))
	assert.Equal(t, since.Qualifier(), since.For(SambaVersion{}))
	assert.False(t, since.HoldsKnown(v("4.99.0")), "a release outside the matrix is not known to do it")
	assert.True(t, since.Holds(v("4.99.0")))
	assert.True(t, since.HoldsKnown(v("4.22.6")))

	text, ok := BehaviourText(BehaviourSambaDcerpcd)
	require.True(t, ok)
	assert.Contains(t, text, "rpcd_* helpers (Samba 4.16 and later, checked up to "+newest+")")
	_, ok = BehaviourText("no-such")
	assert.False(t, ok)
}
