// Package scripts holds the tests of the project's shell scripts.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzRun runs fuzz.sh on a copy of testdata/fuzzmodule with budget,
// optionally planting a crashing input first, and returns its output and
// whether it succeeded.
func fuzzRun(t *testing.T, budget string, plant bool, extraEnv ...string) (string, bool) {
	t.Helper()
	mod := t.TempDir()
	for _, f := range []string{"go.mod", "planted_test.go"} {
		data, err := os.ReadFile(filepath.Join("testdata", "fuzzmodule", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if plant {
		dir := filepath.Join(mod, "testdata", "fuzz", "FuzzPlanted")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		crash := "go test fuzz v1\n[]byte(\"PLANTED CRASH\")\n"
		if err := os.WriteFile(filepath.Join(dir, "planted"), []byte(crash), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("./fuzz.sh")
	cmd.Env = append(os.Environ(), "FUZZ_ROOT="+mod, "FUZZTIME="+budget, "GOFLAGS=")
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return string(out), err == nil
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command several times")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
}

func TestFuzzCleanTargetPasses(t *testing.T) {
	skipShort(t)
	for _, budget := range []string{"2000x", "1s"} {
		if out, ok := fuzzRun(t, budget, false); !ok {
			t.Errorf("a clean target failed with FUZZTIME=%s:\n%s", budget, out)
		}
	}
}

// A crashing input in the corpus fails the run, whatever the budget.
func TestFuzzPlantedCrashFails(t *testing.T) {
	skipShort(t)
	for _, budget := range []string{"2000x", "1s"} {
		out, ok := fuzzRun(t, budget, true)
		if ok || !strings.Contains(out, "planted crash") || !strings.Contains(out, "FAIL fuzz fuzzmodule FuzzPlanted") {
			t.Errorf("FUZZTIME=%s: a planted crash did not fail the run (ok=%v):\n%s", budget, ok, out)
		}
	}
}

// A bare deadline at the end of a time budget is the toolchain's flake
// and is reported, not failed; under an execution count there is no
// deadline, so the same output is a failure. A stand-in go command
// prints what the Go 1.26 coordinator prints when it races.
func TestFuzzDeadlineFlake(t *testing.T) {
	skipShort(t)
	real, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "go")
	script := `#!/bin/sh
for a in "$@"; do
	if [ "$a" = -fuzz ]; then
		echo 'fuzz: elapsed: 3s, execs: 161647 (0/sec), new interesting: 0 (total: 8)'
		echo '--- FAIL: FuzzPlanted (3.29s)'
		echo '    context deadline exceeded'
		echo FAIL
		exit 1
	fi
done
exec ` + real + ` "$@"
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, ok := fuzzRun(t, "1s", false, "GO="+fake)
	if !ok || !strings.Contains(out, "fuzz flake: FuzzPlanted") {
		t.Errorf("a bare deadline under a time budget failed the run or was not reported:\n%s", out)
	}
	out, ok = fuzzRun(t, "2000x", false, "GO="+fake)
	if ok || strings.Contains(out, "fuzz flake") {
		t.Errorf("a failure under an execution count was excused:\n%s", out)
	}
}

// Concurrent runs do not share a log file, and the log is removed.
func TestFuzzLogIsPrivate(t *testing.T) {
	skipShort(t)
	tmp := t.TempDir()
	fuzzRun(t, "500x", false, "TMPDIR="+tmp)
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "parley-fuzz") {
			t.Errorf("fuzz.sh left its log %s behind", e.Name())
		}
	}
	data, err := os.ReadFile("fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "/tmp/parley-fuzz.log") {
		t.Error("fuzz.sh writes to a fixed log path")
	}
}
