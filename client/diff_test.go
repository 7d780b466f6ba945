package client

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := "Article 1\nBoth parties recognise each other.\nArticle 2\nThe border follows the river.\nArticle 3\nWater is shared.\n"
	b := "Article 1\nBoth parties recognise each other.\nArticle 2\nThe border follows the 1967 line.\nArticle 3\nWater is shared.\nArticle 4\nA joint committee meets monthly.\n"
	want := `--- v1
+++ v2
@@ -1,6 +1,8 @@
 Article 1
 Both parties recognise each other.
 Article 2
-The border follows the river.
+The border follows the 1967 line.
 Article 3
 Water is shared.
+Article 4
+A joint committee meets monthly.
`
	if got := unifiedDiff("v1", "v2", a, b); got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("a", "b", a, a) != "" {
		t.Fatal("equal texts differ")
	}
}

// TestDiffApplies checks on random texts that applying the script to a
// gives b: every '-' and ' ' line in order is a, every '+' and ' ' is b.
func TestDiffApplies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a\n", "b\n", "c\n", "d\n"}
	gen := func() []string {
		out := make([]string, r.IntN(30))
		for i := range out {
			out[i] = words[r.IntN(len(words))]
		}
		return out
	}
	for i := 0; i < 500; i++ {
		x, y := gen(), gen()
		var gotA, gotB []string
		for _, e := range myers(x, y) {
			if e.kind != '+' {
				gotA = append(gotA, e.line)
			}
			if e.kind != '-' {
				gotB = append(gotB, e.line)
			}
		}
		if strings.Join(x, "") == strings.Join(y, "") {
			continue
		}
		if strings.Join(gotA, "") != strings.Join(x, "") || strings.Join(gotB, "") != strings.Join(y, "") {
			t.Fatalf("script does not rebuild the texts:\n%q\n%q", x, y)
		}
	}
}
