// Command sessionsec-bench runs the session-security schema change the naive way (the original script's plain
// ALTER / one UPDATE / plain CREATE INDEX) and with sessionsec.Migrate, side by side on identical data under a
// steady write load, on MySQL, MariaDB and PostgreSQL, and writes BENCHMARKS.md plus PNG latency charts.
//
//	go run ./cmd/sessionsec-bench                       # 100k rows, all three servers
//	go run ./cmd/sessionsec-bench -rows 100000,1000000  # cost growth
//	go run ./cmd/sessionsec-bench -servers postgres -rows 50000 -out /tmp/b.md -charts /tmp/charts
//
// DSNs come from SESSIONSEC_MYSQL_DSN, SESSIONSEC_MARIADB_DSN, SESSIONSEC_POSTGRES_DSN (loopback hosts only). Each
// run creates its own database (ssbench_<pid>_<server>_<rows>_{naive,lib}) and drops it afterwards.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	rows        []int
	servers     []string
	writers     int
	rate        float64
	warm, cool  time.Duration
	tputDur     time.Duration
	reps        int
	out         string
	charts      string
	jsonOut     string
	fromJSON    string
	skipNaive   bool
	seed        string
	stepTimeout time.Duration
	verbose     bool
}

func parseFlags() (*options, error) {
	o := &options{}
	rows := flag.String("rows", "100000", "rows in the sessions table; a comma list (e.g. 100000,1000000) runs each size and reports cost growth; 1m/10m accepted")
	servers := flag.String("servers", "mysql,mariadb,postgres", "servers to run, comma-separated: mysql, mariadb, postgres")
	flag.IntVar(&o.writers, "writers", 8, "concurrent writers during the migration")
	flag.Float64Var(&o.rate, "rate", 125, "operations per second per writer (paced; 8 x 125 = one write every millisecond)")
	flag.DurationVar(&o.warm, "warm", 5*time.Second, "write load before the migration starts")
	flag.DurationVar(&o.cool, "cool", 5*time.Second, "write load after the migration ends")
	flag.DurationVar(&o.tputDur, "tput", 5*time.Second, "duration of each trigger-overhead throughput sample")
	flag.IntVar(&o.reps, "reps", 20, "repetitions of the nothing-pending Migrate / Validate / golang-migrate Up calls")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "markdown report file (also printed to stdout); empty: stdout only")
	flag.StringVar(&o.charts, "charts", "docs/bench", "directory for the PNG latency charts")
	flag.StringVar(&o.jsonOut, "json", "", "also write the raw results (JSON, rewritten after each server) to this file")
	flag.StringVar(&o.fromJSON, "from", "", "do not run anything: re-render the report and charts from a results.json")
	flag.BoolVar(&o.skipNaive, "skip-naive", false, "run only the library (no baseline; ratios are omitted)")
	flag.StringVar(&o.seed, "seed", "sessionsec", "data seed ([a-z0-9_]); same seed = same rows")
	flag.DurationVar(&o.stepTimeout, "step-timeout", 60*time.Minute, "bound on one migration (naive script or Migrate) per server")
	flag.BoolVar(&o.verbose, "v", false, "log the library's messages to stderr")
	flag.Parse()
	for _, r := range strings.Split(*rows, ",") {
		r = strings.ToLower(strings.TrimSpace(r))
		mult := 1
		switch {
		case strings.HasSuffix(r, "m"):
			mult, r = 1_000_000, strings.TrimSuffix(r, "m")
		case strings.HasSuffix(r, "k"):
			mult, r = 1_000, strings.TrimSuffix(r, "k")
		}
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 || n*mult < 1000 || n*mult > 50_000_000 {
			return nil, fmt.Errorf("-rows: %q is not a row count between 1000 and 50M", *rows)
		}
		o.rows = append(o.rows, n*mult)
	}
	for _, s := range strings.Split(*servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.servers = append(o.servers, s)
		}
	}
	if o.writers < 1 || o.writers > 64 {
		return nil, fmt.Errorf("-writers must be 1..64")
	}
	if o.rate <= 0 || o.rate > 10000 {
		return nil, fmt.Errorf("-rate must be in (0, 10000]")
	}
	if o.reps < 1 || o.reps > 1000 {
		return nil, fmt.Errorf("-reps must be 1..1000")
	}
	if sanitizeIdent(o.seed) != o.seed || o.seed == "" {
		return nil, fmt.Errorf("-seed must be [a-z0-9_]+")
	}
	return o, nil
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var res *results
	if o.fromJSON != "" {
		b, err := os.ReadFile(o.fromJSON)
		if err == nil {
			res = &results{}
			err = json.Unmarshal(b, res)
			res.Rendered = "re-rendered from that run's raw results (-json / -from) on " + time.Now().UTC().Format(time.RFC3339)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
			os.Exit(1)
		}
	} else {
		var srvs []server
		for _, k := range o.servers {
			s, err := loadServer(k)
			if err != nil {
				fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
				os.Exit(2)
			}
			srvs = append(srvs, s)
		}
		res = &results{
			Machine: describeMachine(), Started: time.Now().UTC().Format(time.RFC3339),
			Args: strings.Join(os.Args[1:], " "), Writers: o.writers, Rate: o.rate,
			WarmS: o.warm.Seconds(), CoolS: o.cool.Seconds(), TputS: o.tputDur.Seconds(), SkipNaive: o.skipNaive,
		}
		for _, n := range o.rows {
			for _, s := range srvs {
				if ctx.Err() != nil {
					break
				}
				logf("=== %s, %d rows", s.Key, n)
				sr := runServer(ctx, s, n, o)
				res.Servers = append(res.Servers, sr)
				if o.jsonOut != "" { // keep partial results
					_ = writeJSON(o.jsonOut, res)
				}
			}
		}
		res.Finished = time.Now().UTC().Format(time.RFC3339)
		if o.jsonOut != "" {
			if err := writeJSON(o.jsonOut, res); err != nil {
				fmt.Fprintln(os.Stderr, "sessionsec-bench: writing results:", err)
			}
		}
	}
	var charts map[string]string
	if o.charts != "" {
		charts, err = writeCharts(res, o.charts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sessionsec-bench: charts:", err)
		}
	}
	md := renderMarkdown(res, charts, o.out)
	fmt.Print(md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
			os.Exit(1)
		}
	}
	for _, s := range res.Servers {
		if s.Err != "" {
			os.Exit(1)
		}
	}
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

type machineInfo struct {
	CPU    string
	Cores  int
	MemGiB float64
	Kernel string
	GoVer  string
}

func describeMachine() machineInfo {
	m := machineInfo{}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") && m.CPU == "" {
				if i := strings.Index(l, ":"); i >= 0 {
					m.CPU = strings.TrimSpace(l[i+1:])
				}
			}
			if strings.HasPrefix(l, "processor") {
				m.Cores++
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%f", &kb)
		m.MemGiB = kb / 1024 / 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.GoVer = goVersion()
	return m
}

// quietLogger discards everything (the nothing-pending calls), or logs to stderr with -v.
func quietLogger(verbose bool) *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}
