package probe

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInvalidNameNeverReachesDNS(t *testing.T) {
	for _, addr := range []string{"nonexist.invalid:445", "INVALID:445", "a.b.Invalid.:139", "x.invalid"} {
		err := invalidName(addr)
		require.Error(t, err, addr)
		var dnsErr *net.DNSError
		require.True(t, errors.As(err, &dnsErr), addr)
		assert.True(t, dnsErr.IsNotFound, addr)
	}
	for _, addr := range []string{"127.0.0.1:445", "invalid.example:445", "[::1]:445", "myinvalid:445", "localhost"} {
		assert.NoError(t, invalidName(addr), addr)
	}
	// dialTCP answers at once, before any resolver is asked.
	_, err := dialTCP(context.Background(), "nonexist.invalid:445")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
}
