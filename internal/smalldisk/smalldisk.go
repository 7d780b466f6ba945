// Package smalldisk gives full-disk tests a real file system that runs
// out of space: a tmpfs of a given size, mounted for one test. It is for
// tests only. Mounting needs root; where the test cannot mount, it is
// skipped and says why.
package smalldisk

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size (as mount takes it: "64m") for the test
// and returns its folder, unmounted when the test ends.
func Mount(t testing.TB, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system for a full-disk test (it needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Fill writes a file of zeros into dir until its file system is full,
// then gives back leave bytes of it (rounded to 64 KiB), and returns the
// file's path: removing it makes room again.
func Fill(t testing.TB, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	var size int64
	for {
		n, err := f.Write(block)
		size += int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if leave > 0 {
		if err := f.Truncate(max(0, size-leave)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
