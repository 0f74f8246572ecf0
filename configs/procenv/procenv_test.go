package procenv

import (
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScrubRemovesTheSecretButLookupKeepsIt(t *testing.T) {
	t.Setenv(Password, "env-Secret-41")
	t.Setenv("LANG", "de_DE.UTF-8")
	Scrub()
	t.Cleanup(func() { scrubbed.Lock(); scrubbed.vals = nil; scrubbed.Unlock() })

	_, inEnv := os.LookupEnv(Password)
	assert.False(t, inEnv, "still in the process environment")
	v, ok := Lookup(Password)
	require.True(t, ok)
	assert.Equal(t, "env-Secret-41", v)

	env := ForChild("LC_ALL=C", "LANG=C")
	for _, kv := range env {
		assert.NotContains(t, kv, "env-Secret-41")
	}
	assert.Contains(t, env, "LC_ALL=C")
	assert.Contains(t, env, "LANG=C")
	assert.False(t, slices.Contains(env, "LANG=de_DE.UTF-8"), "extra overrides")
}

// Set again after Scrub (a library, a test), the secret still never
// reaches a child, even when passed as an extra.
func TestForChildNeverPassesASecret(t *testing.T) {
	t.Setenv(Password, "late-Secret-7")
	for _, kv := range ForChild(Password + "=extra-Secret-8") {
		assert.NotContains(t, kv, "Secret")
	}
}
