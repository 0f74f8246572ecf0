package gather

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The journal is written by anyone who may call logger(1) or sd_journal:
// `journalctl -o json` output is untrusted bytes.
func FuzzParseJournalJSON(f *testing.F) {
	f.Add([]byte(`{"MESSAGE":"smbd: Requested protocol [NT LM 0.12]","__REALTIME_TIMESTAMP":"1700000000000000","_PID":"42"}` + "\n"))
	f.Add([]byte(`{"MESSAGE":[104,105,10,255],"__REALTIME_TIMESTAMP":"1","_PID":"x"}` + "\n" + `not json` + "\n"))
	f.Add([]byte(`{"MESSAGE":null}` + "\n" + `{"MESSAGE":[999999999999,-1]}` + "\n"))
	f.Add([]byte(`{"MESSAGE":"a\nb\u001b[2J"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := parseJournalJSON(data)
		for _, l := range lines {
			if strings.Contains(l.text, "\n") {
				t.Fatalf("line with a newline: %q", l.text)
			}
			// encoding/json turns each invalid UTF-8 byte of a string
			// into U+FFFD (3 bytes): a line may grow that much, no more.
			if len(l.text) > 3*len(data) {
				t.Fatalf("line more than 3 times the input: %d > 3*%d", len(l.text), len(data))
			}
		}
		if err != nil && !strings.Contains(err.Error(), "were not JSON") {
			t.Fatalf("unexpected error %v", err)
		}
		// What follows the journal parse: the scan must take any line.
		sc := &logScan{}
		sc.scan("journal", parseLogEntries(lines, time.UTC), "127.0.0.1")
		sc.finish()
	})
}

// A `log level` value comes from smb.conf or smbd's command line.
func FuzzParseLogLevel(f *testing.F) {
	for _, s := range []string{"1", "1 smb2:3 auth_audit:2", "0,auth:10@auth.log", "x:y:z", "", "-1 a:-2", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lv, ok := parseLogLevel(s)
		if ok != (len(lv) > 0) {
			t.Fatalf("ok=%v with %d classes", ok, len(lv))
		}
		for class, n := range lv {
			if n < 0 {
				t.Fatalf("negative level %d for %q", n, class)
			}
			if utf8.ValidString(s) && strings.ContainsAny(class, " \t,") {
				t.Fatalf("class %q holds a separator", class)
			}
		}
	})
}
