package client

import "fmt"

// Count writes n with the singular or plural noun: "1 member",
// "3 members".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
