// Command sessionsec-bench runs the session-security schema change the naive way (the original script's plain
// ALTER / one UPDATE / plain CREATE INDEX) and with sessionsec.Migrate, side by side on identical data under a
// steady write load, on MySQL, MariaDB and PostgreSQL, and writes BENCHMARKS.md plus PNG latency charts.
//
//	go run ./bench                       # 100k rows, all three servers
//	go run ./bench -rows 100000,1000000  # cost growth
//	go run ./bench -servers postgres -rows 50000 -out /tmp/b.md -charts /tmp/charts
//
// Three more measurements, each a section of the report (marked, so that a run of only these, -compare=false,
// replaces its own sections in an existing BENCHMARKS.md and leaves the comparison's tables alone):
//
//	go run ./bench -compare=false -galera "$SESSIONSEC_GALERA_DSNS" -galera-rows 100000   # writes on every Galera node, without and during Migrate
//	go run ./bench -compare=false -integrity -integrity-rows 100000                       # VerifySession, Seal, Verify, rotation, RunSealer
//	go run ./bench -compare=false -replicas -replica-rows 1m -json docs/bench/replicas-1m.json  # the replicas' lag during Migrate, without and with the bound
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
	compare     bool // the naive-vs-library comparison (the main report)

	galera         []string // Galera node DSNs (-galera)
	galeraRows     int
	galeraWriters  int
	galeraBaseline time.Duration

	integrity       bool
	integrityRows   int
	integrityReps   int
	integritySealer time.Duration

	replicas       bool
	replicaRows    int
	replicaTargets []replicaTarget
	replicaBound   time.Duration
}

// parseRows reads a row count: digits with an optional k or m suffix, 1000 to 50M.
func parseRows(flagName, v string) (int, error) {
	r := strings.ToLower(strings.TrimSpace(v))
	mult := 1
	switch {
	case strings.HasSuffix(r, "m"):
		mult, r = 1_000_000, strings.TrimSuffix(r, "m")
	case strings.HasSuffix(r, "k"):
		mult, r = 1_000, strings.TrimSuffix(r, "k")
	}
	n, err := strconv.Atoi(r)
	if err != nil || n < 1 || n*mult < 1000 || n*mult > 50_000_000 {
		return 0, fmt.Errorf("%s: %q is not a row count between 1000 and 50M", flagName, v)
	}
	return n * mult, nil
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
	flag.BoolVar(&o.compare, "compare", true, "run the naive-vs-library comparison on -servers (false: only -galera / -integrity / -replicas, whose sections are then spliced into -out)")
	galera := flag.String("galera", "", "comma-separated go-sql-driver DSNs of the nodes of a MariaDB Galera cluster (loopback): measure the application's write errors and stalls on every node, without and during Migrate (e.g. \"$SESSIONSEC_GALERA_DSNS\")")
	galeraRows := flag.String("galera-rows", "100000", "rows in the AG-UI SDK table of the Galera measurement")
	flag.IntVar(&o.galeraWriters, "galera-writers", 3, "paced writers per Galera node (each at -rate)")
	flag.DurationVar(&o.galeraBaseline, "galera-baseline", 20*time.Second, "Galera phase A: writers alone for this long before Migrate starts")
	flag.BoolVar(&o.integrity, "integrity", false, "measure the session seals on each of -servers: VerifySession vs a plain SELECT, Seal / Verify / rotation rates vs the backfill, RunSealer under the writers")
	integrityRows := flag.String("integrity-rows", "100000", "rows in the sessions table of the integrity measurement")
	flag.IntVar(&o.integrityReps, "integrity-reps", 2000, "VerifySession calls (and as many plain SELECTs, alternating) per server")
	flag.DurationVar(&o.integritySealer, "integrity-sealer", 15*time.Second, "how long RunSealer runs beside the writers")
	replicas := flag.Bool("replicas", false, "measure the replicas' lag during Migrate, without the lag bound and with the default bound, on each of -replica-servers (a primary and its replica)")
	replicaRows := flag.String("replica-rows", "100000", "rows in the sessions table of the replica measurement")
	replicaServers := flag.String("replica-servers", "mariadb,postgres", "primaries of the replica measurement, comma-separated: mariadb (with -mariadb-replica), postgres (with -postgres-standby)")
	flag.DurationVar(&o.replicaBound, "replica-bound", libDefaultMaxReplicaLag, "the bound of the replica measurement's bounded run (the library's default: WithMaxReplicaLag not given); the line both runs' \"over the bound\" is measured against")
	mariadbReplica := flag.String("mariadb-replica", "", "go-sql-driver DSN of a replica of the MariaDB server (loopback; empty: $SESSIONSEC_MARIADB_REPLICA_DSN); it must replicate databases named ssecrepl_*")
	pgStandby := flag.String("postgres-standby", "", "URL of a streaming hot standby of the PostgreSQL server (loopback; empty: $SESSIONSEC_PG_STANDBY_DSN)")
	flag.Parse()
	for _, r := range strings.Split(*rows, ",") {
		n, err := parseRows("-rows", r)
		if err != nil {
			return nil, err
		}
		o.rows = append(o.rows, n)
	}
	var err error
	if o.galeraRows, err = parseRows("-galera-rows", *galeraRows); err != nil {
		return nil, err
	}
	if o.integrityRows, err = parseRows("-integrity-rows", *integrityRows); err != nil {
		return nil, err
	}
	if o.replicaRows, err = parseRows("-replica-rows", *replicaRows); err != nil {
		return nil, err
	}
	if o.replicas = *replicas; o.replicas {
		dsns := map[string]string{"mariadb": *mariadbReplica, "postgres": *pgStandby}
		for _, k := range strings.Split(*replicaServers, ",") {
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			dsn, ok := dsns[k]
			if ok && dsn == "" {
				dsn = os.Getenv(replicaEnv[k])
			}
			t, err := loadReplicaTarget(k, dsn)
			if err != nil {
				return nil, fmt.Errorf("-replicas: %w", err)
			}
			o.replicaTargets = append(o.replicaTargets, t)
		}
		if o.replicaBound < 10*time.Millisecond || o.replicaBound > time.Hour {
			return nil, fmt.Errorf("-replica-bound must be 10ms..1h")
		}
		if len(o.replicaTargets) == 0 {
			return nil, fmt.Errorf("-replicas: -replica-servers names no server")
		}
	}
	for _, d := range strings.Split(*galera, ",") {
		if d = strings.TrimSpace(d); d != "" {
			o.galera = append(o.galera, d)
		}
	}
	if *galera != "" && len(o.galera) < 2 {
		return nil, fmt.Errorf("-galera: want the DSNs of at least 2 cluster nodes, comma-separated")
	}
	if o.galeraWriters < 1 || o.galeraWriters > 64 {
		return nil, fmt.Errorf("-galera-writers must be 1..64")
	}
	if o.galeraBaseline < time.Second {
		return nil, fmt.Errorf("-galera-baseline must be at least 1s")
	}
	if o.integrityReps < 10 || o.integrityReps > 1_000_000 {
		return nil, fmt.Errorf("-integrity-reps must be 10..1000000")
	}
	if o.integritySealer < 3*time.Second {
		return nil, fmt.Errorf("-integrity-sealer must be at least 3s (the sealer's interval is 1s)")
	}
	if !o.compare && len(o.galera) == 0 && !o.integrity && !o.replicas && o.fromJSON == "" {
		return nil, fmt.Errorf("-compare=false with nothing else to run: add -galera, -integrity and/or -replicas")
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
			if !o.compare && !o.integrity {
				break // -galera alone: the servers are not used
			}
			s, err := loadServer(k)
			if err != nil {
				fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
				os.Exit(2)
			}
			srvs = append(srvs, s)
		}
		var nodes []galeraNode
		if len(o.galera) > 0 {
			if nodes, err = parseGaleraNodes(o.galera); err != nil {
				fmt.Fprintln(os.Stderr, "sessionsec-bench: -galera:", err)
				os.Exit(2)
			}
		}
		res = &results{
			Machine: describeMachine(), Started: time.Now().UTC().Format(time.RFC3339),
			Args: strings.Join(redactArgs(os.Args[1:]), " "), Writers: o.writers, Rate: o.rate,
			WarmS: o.warm.Seconds(), CoolS: o.cool.Seconds(), TputS: o.tputDur.Seconds(), SkipNaive: o.skipNaive,
		}
		keep := func() {
			if o.jsonOut != "" { // keep partial results
				_ = writeJSON(o.jsonOut, res)
			}
		}
		if o.compare {
			for _, n := range o.rows {
				for _, s := range srvs {
					if ctx.Err() != nil {
						break
					}
					logf("=== %s, %d rows", s.Key, n)
					sr := runServer(ctx, s, n, o)
					res.Servers = append(res.Servers, sr)
					keep()
				}
			}
		}
		if len(nodes) > 0 && ctx.Err() == nil {
			logf("=== Galera, %d nodes, %d rows", len(nodes), o.galeraRows)
			res.Galera = runGalera(ctx, nodes, o)
			keep()
		}
		if o.integrity {
			for _, s := range srvs {
				if ctx.Err() != nil {
					break
				}
				logf("=== integrity: %s, %d rows", s.Key, o.integrityRows)
				res.Integrity = append(res.Integrity, runIntegrity(ctx, s, o))
				keep()
			}
		}
		for _, t := range o.replicaTargets {
			if ctx.Err() != nil {
				break
			}
			logf("=== replicas: %s and its replica %s, %d rows", t.s.Key, t.Addr, o.replicaRows)
			res.Replicas = append(res.Replicas, runReplicas(ctx, t, o))
			keep()
		}
		res.Finished = time.Now().UTC().Format(time.RFC3339)
		if o.jsonOut != "" {
			if err := writeJSON(o.jsonOut, res); err != nil {
				fmt.Fprintln(os.Stderr, "sessionsec-bench: writing results:", err)
			}
		}
	}
	// Without comparison results (-compare=false, or -from a results file that has none) only the extra
	// sections are rendered, and spliced into the existing report: the comparison's tables need a long run
	// and stay as they are.
	extras := renderExtras(res)
	var md string
	if len(res.Servers) == 0 {
		md = extras
		fmt.Print(md)
		if o.out != "" {
			old, err := os.ReadFile(o.out)
			if err != nil && !os.IsNotExist(err) {
				fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
				os.Exit(1)
			}
			md = spliceSections(string(old), extras, true)
		}
	} else {
		var charts map[string]string
		if o.charts != "" {
			charts, err = writeCharts(res, o.charts)
			if err != nil {
				fmt.Fprintln(os.Stderr, "sessionsec-bench: charts:", err)
			}
		}
		md = renderMarkdown(res, charts, o.out) + extras
		if o.out != "" {
			// Sections of earlier extra runs this run did not repeat are kept.
			if old, err := os.ReadFile(o.out); err == nil {
				md = spliceSections(md, string(old), false)
			}
		}
		fmt.Print(md)
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "sessionsec-bench:", err)
			os.Exit(1)
		}
	}
	failed := false
	for _, s := range res.Servers {
		failed = failed || s.Err != ""
	}
	if res.Galera != nil {
		failed = failed || res.Galera.Err != ""
	}
	for _, r := range res.Integrity {
		failed = failed || r.Err != ""
	}
	for _, r := range res.Replicas {
		failed = failed || r.Err != ""
	}
	if failed {
		os.Exit(1)
	}
}

// dsnFlags are the flags whose values are DSNs (which may carry passwords), with the environment variable
// they usually come from.
var dsnFlags = map[string]string{
	"galera":           "SESSIONSEC_GALERA_DSNS",
	"mariadb-replica":  "SESSIONSEC_MARIADB_REPLICA_DSN",
	"postgres-standby": "SESSIONSEC_PG_STANDBY_DSN",
}

// redactArgs keeps the DSN flags' values out of the report: the variable they came from, or their count.
func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		name, val, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		env, ok := dsnFlags[name]
		if !strings.HasPrefix(a, "-") || !ok {
			continue
		}
		if !inline {
			if i+1 >= len(out) {
				continue
			}
			val = out[i+1]
		}
		red := fmt.Sprintf("'<%d DSNs>'", len(strings.Split(val, ",")))
		if name != "galera" {
			red = "'<DSN>'"
		}
		if val == os.Getenv(env) {
			red = `"$` + env + `"`
		}
		if inline {
			out[i] = "-" + name + "=" + red
		} else {
			out[i+1] = red
		}
	}
	return out
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
