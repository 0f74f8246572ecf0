package probe

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDialect(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Dialect
		err  bool
	}{
		{"NT1", NT1, false},
		{"nt1", NT1, false},
		{"SMB2_02", SMB2_02, false},
		{"smb2_10", SMB2_10, false},
		{"SMB2", SMB2_10, false}, // Samba alias, measured on 4.17
		{"SMB3", SMB3_11, false},
		{"SMB3_00", SMB3_00, false},
		{" SMB3_02 ", SMB3_02, false},
		{"SMB3_11", SMB3_11, false},
		{"0x0311", SMB3_11, false},
		{"SMB 2.002", SMB2_02, false},
		{"NT LM 0.12", NT1, false},
		{"SMB4", 0, true},
		{"", 0, true},
		{"0x9999", 0, true},
		{"LANMAN1", 0, true},
	} {
		got, err := ParseDialect(tc.in)
		if tc.err {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestDialectStringAndJSON(t *testing.T) {
	require.Equal(t, []string{"NT1", "SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"}, func() []string {
		var out []string
		for _, d := range AllDialects {
			out = append(out, d.String())
		}
		return out
	}())
	require.Equal(t, "0x0400", Dialect(0x0400).String())
	b, err := json.Marshal([]Dialect{SMB2_02, SMB3_11, 0x0400})
	require.NoError(t, err)
	require.Equal(t, `["SMB2_02","SMB3_11","0x0400"]`, string(b))
	var back []Dialect
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, []Dialect{SMB2_02, SMB3_11, 0x0400}, back)
	require.Error(t, json.Unmarshal([]byte(`["SMB9"]`), &back))
}

func TestDialectIsSMB2(t *testing.T) {
	require.False(t, NT1.IsSMB2())
	require.False(t, SMB2_FF.IsSMB2())
	for _, d := range SMB2Dialects {
		require.True(t, d.IsSMB2(), d)
	}
}

func TestNTStatusText(t *testing.T) {
	require.Equal(t, "STATUS_LOGON_FAILURE", StatusLogonFailure.Name())
	require.Equal(t, "0xC000006D", StatusLogonFailure.Hex())
	require.Equal(t, "0xDEADBEEF", NTStatus(0xDEADBEEF).Name())
	b, err := json.Marshal(StatusAccessDenied)
	require.NoError(t, err)
	require.Equal(t, `"0xC0000022"`, string(b))
	var s NTStatus
	require.NoError(t, json.Unmarshal(b, &s))
	require.Equal(t, StatusAccessDenied, s)
}
