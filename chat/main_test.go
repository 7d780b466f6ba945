package chat

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
)

// binDir holds the parley binary that TestChatTextIsNeverAKey runs; it
// is removed when the tests end.
var binDir string

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "parley-chat-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	parleyBin string
	buildErr  error
)

// parleyBinary builds cmd/parley once per test run, with the race
// detector when this test binary has it, as the real program the
// terminal tests drive.
func parleyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		parleyBin = filepath.Join(binDir, "parley")
		args := []string{"build", "-o", parleyBin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "parley/cmd/parley")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return parleyBin
}

// raceEnabled says whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
