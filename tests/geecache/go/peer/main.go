// A real golang/groupcache peer for the interoperability tests. Its getter answers
// "go:" + key, and counts loads, which /loads reports.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/golang/groupcache"
)

func main() {
	self := flag.String("self", "", "this peer's base URL, e.g. http://127.0.0.1:9001")
	peers := flag.String("peers", "", "comma-separated peer URLs, this one included")
	addr := flag.String("addr", "", "listen address, e.g. 127.0.0.1:9001")
	group := flag.String("group", "scores", "group name")
	flag.Parse()

	var loads int64
	pool := groupcache.NewHTTPPoolOpts(*self, &groupcache.HTTPPoolOptions{})
	pool.Set(strings.Split(*peers, ",")...)
	cache := groupcache.NewGroup(*group, 64<<20, groupcache.GetterFunc(
		func(ctx context.Context, key string, dest groupcache.Sink) error {
			atomic.AddInt64(&loads, 1)
			return dest.SetString("go:" + key)
		}))

	mux := http.NewServeMux()
	mux.Handle("/_groupcache/", pool)
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		var value string
		if err := cache.Get(r.Context(), r.URL.Query().Get("key"), groupcache.StringSink(&value)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte(value))
	})
	mux.HandleFunc("/loads", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, atomic.LoadInt64(&loads))
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}
