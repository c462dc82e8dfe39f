// Command go_peer times etcd's own Go client (clientv3) making the calls the
// Python benchmarks make, so that their numbers can stand side by side.
//
// One client, `-workers` goroutines sharing it (1: sequential, on the main
// goroutine), `-op` range (a serializable Range of `-key`) or put (`-key` =
// `-value`).  Each worker first makes its share of `-warmup` calls; then the
// clock starts and the workers make `-calls` in all, `-calls / -workers`
// each.  The result is one JSON line on stdout: the calls made, wall seconds,
// and this process's own CPU seconds (getrusage RUSAGE_SELF, user + system,
// every thread) over the timed calls only.
//
// With `-wait`, the program prints "ready" after the warm-up and waits for a
// line on stdin before it starts the clock: the caller reads etcd's CPU
// around the timed calls alone.
//
// benchmarks/_go_peer.py builds it (GOPATH mode, against Debian's
// golang-etcd-server-dev) and runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/version"
	"go.uber.org/zap"
)

type options struct {
	endpoint string
	op       string
	key      string
	value    []byte
	workers  int
	calls    int
	warmup   int
	timeout  time.Duration
	wait     bool
	version  bool
}

// result is the JSON line: the names match benchmarks/_go_peer.py.
type result struct {
	Calls     int     `json:"calls"`
	WallS     float64 `json:"wall_s"`
	CPUS      float64 `json:"cpu_s"`
	UserS     float64 `json:"user_s"`
	SysS      float64 `json:"sys_s"`
	Workers   int     `json:"workers"`
	Op        string  `json:"op"`
	GoMaxProc int     `json:"gomaxprocs"`
}

func parseFlags() (options, error) {
	var o options
	var valueHex string
	flag.StringVar(&o.endpoint, "endpoint", "127.0.0.1:2379", "etcd client endpoint")
	flag.StringVar(&o.op, "op", "range", "range (serializable) or put")
	flag.StringVar(&o.key, "key", "/pyetcd-wire-bench/key", "the key")
	flag.StringVar(&valueHex, "value", "", "the value Put writes and Range expects, hex")
	flag.IntVar(&o.workers, "workers", 1, "goroutines sharing the client (1: sequential)")
	flag.IntVar(&o.calls, "calls", 1000, "timed calls, in all")
	flag.IntVar(&o.warmup, "warmup", 250, "calls before the clock starts, in all")
	flag.DurationVar(&o.timeout, "timeout", 0, "per-call deadline (0: none)")
	flag.BoolVar(&o.wait, "wait", false, `print "ready" after the warm-up, then wait for a line on stdin`)
	flag.BoolVar(&o.version, "version", false, "print the Go and clientv3 versions, and exit")
	flag.Parse()
	value, err := hex.DecodeString(valueHex)
	if err != nil {
		return o, fmt.Errorf("-value %q is not hex: %v", valueHex, err)
	}
	o.value = value
	if o.op != "range" && o.op != "put" {
		return o, fmt.Errorf("-op %q: want range or put", o.op)
	}
	if o.workers < 1 || o.calls < o.workers {
		return o, fmt.Errorf("-workers %d, -calls %d: want 1 <= workers <= calls", o.workers, o.calls)
	}
	return o, nil
}

// caller makes one call of the chosen op; the first error stops the run.
func caller(cli *clientv3.Client, o options) func() error {
	ctx := context.Background()
	withDeadline := func() (context.Context, context.CancelFunc) {
		if o.timeout > 0 {
			return context.WithTimeout(ctx, o.timeout)
		}
		return ctx, func() {}
	}
	key, value := o.key, string(o.value)
	if o.op == "put" {
		return func() error {
			c, cancel := withDeadline()
			defer cancel()
			_, err := cli.Put(c, key, value)
			return err
		}
	}
	return func() error {
		c, cancel := withDeadline()
		defer cancel()
		resp, err := cli.Get(c, key, clientv3.WithSerializable())
		if err != nil {
			return err
		}
		if len(resp.Kvs) != 1 {
			return fmt.Errorf("Range of %q returned %d keys, not 1", key, len(resp.Kvs))
		}
		return nil
	}
}

// run makes `calls` calls from `workers` goroutines, all started at once.
func run(call func() error, workers, calls int) error {
	each := calls / workers
	if workers == 1 {
		for i := 0; i < each; i++ {
			if err := call(); err != nil {
				return err
			}
		}
		return nil
	}
	start := make(chan struct{})
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < each; i++ {
				if err := call(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

func cpuSeconds() (user, sys float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return seconds(ru.Utime), seconds(ru.Stime)
}

func check(cli *clientv3.Client, o options) error {
	resp, err := cli.Get(context.Background(), o.key, clientv3.WithSerializable())
	if err != nil {
		return err
	}
	if len(resp.Kvs) != 1 || !bytes.Equal(resp.Kvs[0].Value, o.value) {
		return fmt.Errorf("Range of %q did not return the expected %d-byte value", o.key, len(o.value))
	}
	return nil
}

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "go_peer:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	if o.version {
		fmt.Printf("clientv3 %s, %s\n", version.Version, runtime.Version())
		return nil
	}
	logs := zap.NewProductionConfig()
	logs.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{o.endpoint},
		DialTimeout: 5 * time.Second,
		LogConfig:   &logs,
	})
	if err != nil {
		return fmt.Errorf("client for %s: %v", o.endpoint, err)
	}
	defer cli.Close()
	call := caller(cli, o)
	if o.warmup > 0 {
		if err := run(call, o.workers, max(o.workers, o.warmup)); err != nil {
			return fmt.Errorf("warm-up: %v", err)
		}
	}
	if err := check(cli, o); err != nil {
		return err
	}
	if o.wait {
		fmt.Println("ready")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "start" {
			return fmt.Errorf(`waited for "start" on stdin, got %q (%v)`, line, err)
		}
	}
	runtime.GC()
	user0, sys0 := cpuSeconds()
	began := time.Now()
	err = run(call, o.workers, o.calls)
	wall := time.Since(began).Seconds()
	user1, sys1 := cpuSeconds()
	if err != nil {
		return fmt.Errorf("%s: %v", o.op, err)
	}
	out, err := json.Marshal(result{
		Calls:     o.calls / o.workers * o.workers,
		WallS:     wall,
		CPUS:      (user1 - user0) + (sys1 - sys0),
		UserS:     user1 - user0,
		SysS:      sys1 - sys0,
		Workers:   o.workers,
		Op:        o.op,
		GoMaxProc: runtime.GOMAXPROCS(0),
	})
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
