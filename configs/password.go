package configs

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxPasswordFile bounds what Password reads: a password file is one line,
// and a mistaken path (a log, a device) must not be read whole.
const maxPasswordFile = 64 << 10

// Password returns the SMB password: SMB_AGENT_PASSWORD when set, else the
// content of credentials.password_file with one trailing newline removed,
// else "" (no password: guest or anonymous). A world-readable password file
// is refused, as ssh refuses a world-readable key. The password is never
// stored in Config, so no dump, String or JSON of a Config can show it.
func (c *Config) Password() (string, error) {
	lookup := c.lookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if pw, ok := lookup(EnvPassword); ok {
		return pw, nil
	}
	path := c.Credentials.PasswordFile
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("credentials.password_file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("credentials.password_file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("credentials.password_file: %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("credentials.password_file: %s is readable by every user (mode %04o); run chmod o-rwx %s",
			path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
	if err != nil {
		return "", fmt.Errorf("credentials.password_file: read %s: %w", path, err)
	}
	if len(data) > maxPasswordFile {
		return "", fmt.Errorf("credentials.password_file: %s is larger than %d bytes; it should hold one line", path, maxPasswordFile)
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
