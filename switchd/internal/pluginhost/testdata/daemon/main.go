// Command daemon is a test helper for package pluginhost: a stand-in for
// the switchd daemon that starts one plugin through the host, prints the
// plugin's pid on stdout and then waits to be killed.
//
//	daemon <plugin-path> <sha256>
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: daemon <plugin-path> <sha256>")
		os.Exit(2)
	}
	h := pluginhost.New(pluginhost.Options{})
	if err := h.Start(context.Background(), []pluginhost.Spec{{Name: "sample", Path: os.Args[1], SHA256: os.Args[2]}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st := h.Status(context.Background())
	fmt.Println(st[0].PID)
	select {}
}
