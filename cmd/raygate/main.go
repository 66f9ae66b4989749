// Command raygate is the secure front door and hardening toolkit for Ray on
// Kubernetes. See the README for the commands it offers.
package main

import (
	"os"

	"github.com/raygate/raygate/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
