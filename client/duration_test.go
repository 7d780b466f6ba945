package client

import (
	"testing"
	"time"
)

// ParseDuration and FormatDuration read and write durations the way
// people say them.
func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"7d", 7 * 24 * time.Hour},
		{"0d", 0},
		{"12h", 12 * time.Hour},
		{"90m", 90 * time.Minute},
	} {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for in, msg := range map[string]string{
		"-1d":   `bad duration "-1d"`,
		"xd":    `bad duration "xd"`,
		"1.5d":  `bad duration "1.5d"`,
		"soon":  `bad duration "soon" (use 90m, 12h or 7d)`,
		"":      `bad duration "" (use 90m, 12h or 7d)`,
		"7days": `bad duration "7days" (use 90m, 12h or 7d)`,
	} {
		if d, err := ParseDuration(in); err == nil || err.Error() != msg {
			t.Errorf("ParseDuration(%q) = %v, %v; want the error %s", in, d, err, msg)
		}
	}
	if s := FormatDuration(7 * 24 * time.Hour); s != "7d" {
		t.Errorf("FormatDuration(7 days) = %q", s)
	}
}
