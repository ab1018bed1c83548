// Command murderctl ships big files to a fleet of servers peer-to-peer.
package main

import (
	"os"

	"github.com/murderctl/murderctl/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
