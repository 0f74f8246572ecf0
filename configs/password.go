package configs

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/configs/procenv"
	"github.com/smb-agent/smb-agent/configs/safefile"
)

// maxPasswordFile bounds what Password reads: a password file is one line,
// and a mistaken path (a log, a device) must not be read whole.
const maxPasswordFile = 64 << 10

// Password returns the SMB password: SMB_AGENT_PASSWORD when set, else the
// content of credentials.password_file with one trailing newline removed,
// else "" (no password: guest or anonymous). The password is never
// stored in Config, so no dump, String or JSON of a Config can show it.
func (c *Config) Password() (string, error) {
	lookup := c.lookupEnv
	if lookup == nil {
		lookup = procenv.Lookup
	}
	if pw, ok := lookup(EnvPassword); ok {
		return pw, nil
	}
	path := c.Credentials.PasswordFile
	if path == "" {
		return "", nil
	}
	pw, err := ReadPasswordFile(path)
	if err != nil {
		return "", fmt.Errorf("credentials.password_file: %w", err)
	}
	return pw, nil
}

// ReadPasswordFile reads a password file: a regular file (a FIFO or a
// device is refused without blocking), owned by the user the agent runs
// as and private to it (mode 0600 or 0400, as ssh requires of a key), at
// most 64 KiB. One trailing newline is removed.
func ReadPasswordFile(path string) (string, error) {
	o := safefile.Options{MaxSize: maxPasswordFile}
	f, fi, err := safefile.Open(path, o)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := safefile.RequirePrivate(path, fi); err != nil {
		return "", err
	}
	data, err := safefile.ReadAll(f, path, o)
	if err != nil {
		return "", err
	}
	pw := string(data)
	// One trailing newline is what `echo secret > file` adds; anything else
	// (spaces, a second newline) is taken as part of the password.
	if strings.HasSuffix(pw, "\r\n") {
		pw = pw[:len(pw)-2]
	} else if strings.HasSuffix(pw, "\n") {
		pw = pw[:len(pw)-1]
	}
	return pw, nil
}
