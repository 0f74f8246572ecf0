package fixes

import (
	"bytes"
	"fmt"
	"strings"
)

// UnifiedDiff renders the change from a to b in the unified format of
// `diff -u` (POSIX diff -u; GNU diffutils "Detailed Unified"), with the
// given number of context lines, between headers "--- aName" and
// "+++ bName". It returns "" when a and b are equal.
//
// Lines are compared with their terminators, so a CRLF line that becomes LF
// shows as changed, and a last line without a newline is marked
// "\ No newline at end of file" as diff and patch(1) expect. The line
// matching is Myers' O(ND) shortest edit script ("An O(ND) Difference
// Algorithm and Its Variations", 1986), so the diff is minimal.
//
// We write our own because no diff library is in go.mod, and a smb.conf
// diff needs only this one well-specified output format.
func UnifiedDiff(aName, bName string, a, b []byte, context int) string {
	if bytes.Equal(a, b) {
		return ""
	}
	if context < 0 {
		context = 0
	}
	al, bl := splitLines(a), splitLines(b)
	ops := myers(al, bl)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	for _, h := range hunks(ops, context) {
		writeHunk(&out, h, al, bl)
	}
	return out.String()
}

// splitLines splits after each '\n', keeping the terminators; a last line
// without '\n' is kept as it is.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// op is one line of the edit script: a line of a (equal, delete) at A, or a
// line of b (insert) at B. Both indexes are kept for every op so hunks can
// compute their ranges.
type op struct {
	kind opKind
	a, b int // index of the line in a and b at this point
}

// myers returns the shortest edit script turning a into b.
func myers(a, b []string) []op {
	n, m := len(a), len(b)
	max := n + m
	if max == 0 {
		return nil
	}
	offset := max
	v := make([]int, 2*max+2)
	var trace [][]int
	found := false
	for d := 0; d <= max && !found; d++ {
		snap := make([]int, len(v))
		copy(snap, v)
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1] // down: insert
			} else {
				x = v[offset+k-1] + 1 // right: delete
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[offset+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	// Backtrack through the saved V arrays (trace[d] is V before round d).
	var rev []op
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if d == 0 {
			prevK = k
		} else if k == -d || (k != d && vd[offset+k-1] < vd[offset+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := 0
		if d > 0 {
			prevX = vd[offset+prevK]
		}
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, op{opEqual, x, y})
		}
		if d > 0 {
			if x == prevX {
				y--
				rev = append(rev, op{opInsert, x, y})
			} else {
				x--
				rev = append(rev, op{opDelete, x, y})
			}
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, op{opEqual, x, y})
	}
	out := make([]op, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}

// hunk is a run of ops: changes with up to context equal lines around them.
type hunk struct{ ops []op }

func hunks(ops []op, context int) []hunk {
	var out []hunk
	i := 0
	for i < len(ops) {
		// Find the next change.
		for i < len(ops) && ops[i].kind == opEqual {
			i++
		}
		if i >= len(ops) {
			break
		}
		// The previous hunk ended at most context lines after its last
		// change and more than 2*context equal lines lie between the two
		// changes (else they were merged), so this never overlaps it.
		start := max(i-context, 0)
		end := i
		for {
			// Extend over this change run.
			for end < len(ops) && ops[end].kind != opEqual {
				end++
			}
			// Count equal lines up to the next change.
			j := end
			for j < len(ops) && ops[j].kind == opEqual {
				j++
			}
			if j < len(ops) && j-end <= 2*context {
				end = j // merge: the gap is covered by both contexts
				continue
			}
			end += min(context, j-end)
			break
		}
		out = append(out, hunk{ops: ops[start:end]})
		i = end
	}
	return out
}

func writeHunk(w *strings.Builder, h hunk, a, b []string) {
	aStart, bStart := h.ops[0].a, h.ops[0].b
	aCount, bCount := 0, 0
	for _, o := range h.ops {
		switch o.kind {
		case opEqual:
			aCount++
			bCount++
		case opDelete:
			aCount++
		case opInsert:
			bCount++
		}
	}
	fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(aStart, aCount), hunkRange(bStart, bCount))
	for _, o := range h.ops {
		var line string
		if o.kind == opInsert {
			line = b[o.b]
		} else {
			line = a[o.a]
		}
		w.WriteByte(byte(o.kind))
		w.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange is GNU diff's range: "START,COUNT", "START" when COUNT is 1, and
// for an empty range the line before it ("3,0").
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}
