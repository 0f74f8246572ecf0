package fixes

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnifiedDiff(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		ctx  int
		want string
	}{
		{name: "equal", a: "x\n", b: "x\n", ctx: 3, want: ""},
		{name: "one value on a line", ctx: 3,
			a:    "[global]\n# keep\n   server min protocol = SMB3\n\n[data]\n   path = /srv\n",
			b:    "[global]\n# keep\n   server min protocol = SMB2_10\n\n[data]\n   path = /srv\n",
			want: "--- a\n+++ b\n@@ -1,6 +1,6 @@\n [global]\n # keep\n-   server min protocol = SMB3\n+   server min protocol = SMB2_10\n \n [data]\n    path = /srv\n"},
		{name: "context limits the hunk", ctx: 1,
			a:    "1\n2\n3\n4\n5\n",
			b:    "1\n2\nx\n4\n5\n",
			want: "--- a\n+++ b\n@@ -2,3 +2,3 @@\n 2\n-3\n+x\n 4\n"},
		{name: "two hunks", ctx: 1,
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n",
			b:    "x\n2\n3\n4\n5\n6\n7\ny\n",
			want: "--- a\n+++ b\n@@ -1,2 +1,2 @@\n-1\n+x\n 2\n@@ -7,2 +7,2 @@\n 7\n-8\n+y\n"},
		{name: "close changes merge", ctx: 1,
			a:    "1\n2\n3\n4\n",
			b:    "x\n2\n3\ny\n",
			want: "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+x\n 2\n 3\n-4\n+y\n"},
		{name: "insert into empty", ctx: 3, a: "", b: "a\n",
			want: "--- a\n+++ b\n@@ -0,0 +1 @@\n+a\n"},
		{name: "insert only", ctx: 0, a: "1\n2\n", b: "1\nx\n2\n",
			want: "--- a\n+++ b\n@@ -1,0 +2 @@\n+x\n"},
		{name: "delete only", ctx: 0, a: "1\nx\n2\n", b: "1\n2\n",
			want: "--- a\n+++ b\n@@ -2 +1,0 @@\n-x\n"},
		{name: "no newline at end", ctx: 3, a: "a\nb", b: "a\nc",
			want: "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"},
		{name: "CRLF kept", ctx: 3, a: "a\r\nb = 1\r\n", b: "a\r\nb = 2\r\n",
			want: "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\r\n-b = 1\r\n+b = 2\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, UnifiedDiff("a", "b", []byte(tc.a), []byte(tc.b), tc.ctx))
		})
	}
}

// TestUnifiedDiffProperties checks random inputs: applying the diff to a
// gives b, the number of changed lines is minimal (the LCS distance), and,
// when GNU diff is installed, patch-compatible hunk headers agree with it
// on the line counts.
func TestUnifiedDiffProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	words := []string{"a\n", "b\n", "c\n", "[g]\n", "x = 1\n", "\n", "d"}
	gen := func() []byte {
		var b bytes.Buffer
		n := rng.Intn(12)
		for i := 0; i < n; i++ {
			w := words[rng.Intn(len(words))]
			if w == "d" && i != n-1 {
				w = "d\n"
			}
			b.WriteString(w)
		}
		return b.Bytes()
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(), gen()
		ctx := rng.Intn(4)
		d := UnifiedDiff("a", "b", a, b, ctx)
		if bytes.Equal(a, b) {
			require.Empty(t, d)
			continue
		}
		got, changed, err := applyUnified(a, d)
		require.NoError(t, err, "a=%q b=%q\n%s", a, b, d)
		require.Equal(t, string(b), string(got), "a=%q b=%q ctx=%d\n%s", a, b, ctx, d)
		al, bl := splitLines(a), splitLines(b)
		require.Equal(t, len(al)+len(bl)-2*lcs(al, bl), changed, "minimal: a=%q b=%q\n%s", a, b, d)
	}
}

// TestUnifiedDiffAgainstPatch feeds our diffs to patch(1) when it is
// installed: the format must be what the standard tool reads.
func TestUnifiedDiffAgainstPatch(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Skip("patch(1) not installed")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(11))
	for i := 0; i < 40; i++ {
		var a, b strings.Builder
		for j := 0; j < 30; j++ {
			line := "line " + strconv.Itoa(j) + "\n"
			a.WriteString(line)
			switch rng.Intn(6) {
			case 0: // delete
			case 1:
				b.WriteString("changed " + strconv.Itoa(j) + "\n")
			case 2:
				b.WriteString(line + "added\n")
			default:
				b.WriteString(line)
			}
		}
		f := filepath.Join(dir, fmt.Sprintf("f%d", i))
		require.NoError(t, os.WriteFile(f, []byte(a.String()), 0o600))
		d := UnifiedDiff(f, f, []byte(a.String()), []byte(b.String()), 3)
		cmd := exec.Command(patch, "-s", "-f", "--no-backup-if-mismatch", f)
		cmd.Stdin = strings.NewReader(d)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", out, d)
		got, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, b.String(), string(got))
	}
}

// applyUnified applies a unified diff to src, checking every context and
// deleted line, and counts the changed lines.
func applyUnified(src []byte, diff string) ([]byte, int, error) {
	lines := splitLines([]byte(diff))
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		return nil, 0, fmt.Errorf("no headers")
	}
	in := splitLines(src)
	var out []string
	pos, changed := 0, 0
	i := 2
	for i < len(lines) {
		var as, ac, bs, bc int
		h := strings.TrimSuffix(lines[i], "\n")
		if _, err := fmt.Sscanf(normRange(h), "@@ -%d,%d +%d,%d @@", &as, &ac, &bs, &bc); err != nil {
			return nil, 0, fmt.Errorf("bad hunk header %q: %w", h, err)
		}
		start := as - 1
		if ac == 0 {
			start = as
		}
		if start < pos {
			return nil, 0, fmt.Errorf("hunks overlap")
		}
		out = append(out, in[pos:start]...)
		pos = start
		i++
		for i < len(lines) && !strings.HasPrefix(lines[i], "@@") {
			l := lines[i]
			body := l[1:]
			if i+1 < len(lines) && lines[i+1] == "\\ No newline at end of file\n" {
				body = strings.TrimSuffix(body, "\n")
				i++
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(in) || in[pos] != body {
					return nil, 0, fmt.Errorf("line %d: want %q, have %q", pos+1, body, in[min(pos, len(in)-1)])
				}
				if l[0] == ' ' {
					out = append(out, body)
				} else {
					changed++
				}
				pos++
			case '+':
				out = append(out, body)
				changed++
			default:
				return nil, 0, fmt.Errorf("bad line %q", l)
			}
			i++
		}
	}
	out = append(out, in[pos:]...)
	return []byte(strings.Join(out, "")), changed, nil
}

// normRange turns GNU's short ranges ("-3", "+0,0") into "S,C" form.
func normRange(h string) string {
	f := strings.Fields(h)
	if len(f) < 4 {
		return h
	}
	for _, k := range []int{1, 2} {
		if !strings.Contains(f[k], ",") {
			f[k] += ",1"
		}
	}
	return strings.Join(f, " ")
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}
