// Prints the owner that golang/groupcache's consistent hash picks for each key read
// from stdin (one per line), for the peers and replicas given as flags. The Python
// tests compare geecache's ring against it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/golang/groupcache/consistenthash"
)

func main() {
	peers := flag.String("peers", "", "comma-separated peer URLs, in order")
	replicas := flag.Int("replicas", 50, "virtual nodes per peer")
	flag.Parse()
	ring := consistenthash.New(*replicas, nil)
	ring.Add(strings.Split(*peers, ",")...)
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		fmt.Println(ring.Get(scanner.Text()))
	}
}
