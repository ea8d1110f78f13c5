// Package sessionsecprom exports sessionsec's monitoring snapshot (sessionsec.Metrics) to Prometheus.
//
//	p, _ := sessionsec.New(db)
//	prometheus.MustRegister(sessionsecprom.NewCollector(p))
//
// Each scrape reads a fresh snapshot, which scans the session table once: keep the scrape interval at a
// minute or more on big tables. It is a module of its own, so that the library does not depend on the
// Prometheus client.
package sessionsecprom

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agui-go/sessionsec"
)

// Collector is a prometheus.Collector over one database.
type Collector struct {
	p       *sessionsec.Provider
	timeout time.Duration
	logger  *slog.Logger

	up     *prometheus.Desc
	byKey  *prometheus.Desc
	gauges []gauge
}

type gauge struct {
	desc  *prometheus.Desc
	value func(*sessionsec.Metrics) float64
}

// Option configures a Collector.
type Option func(*Collector)

// WithTimeout bounds one scrape's read (default 10 seconds).
func WithTimeout(d time.Duration) Option { return func(c *Collector) { c.timeout = d } }

// WithLogger receives a line when a scrape cannot read the snapshot (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Collector) { c.logger = l } }

// NewCollector returns a collector of p's database. Its metrics are named sessionsec_*.
func NewCollector(p *sessionsec.Provider, opts ...Option) *Collector {
	c := &Collector{p: p, timeout: 10 * time.Second, logger: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("sessionsec_"+name, help, nil, nil)
	}
	c.up = d("up", "1 when the last scrape read the snapshot, 0 when it failed.")
	c.gauges = []gauge{
		{d("sessions", "Rows in the session table."), func(m *sessionsec.Metrics) float64 { return float64(m.Sessions) }},
		{d("sessions_hashed_ratio", "Share of sessions with a security_hash."), func(m *sessionsec.Metrics) float64 { return m.HashedShare() }},
		{d("sessions_validated_ratio", "Share of sessions validated within the risk rule's window."), func(m *sessionsec.Metrics) float64 { return m.ValidatedShare() }},
		{d("risk_score_average", "Mean risk_score of the sessions."), func(m *sessionsec.Metrics) float64 { return m.AvgRiskScore }},
		{d("sessions_high_risk", "Sessions above the cleanup threshold."), func(m *sessionsec.Metrics) float64 { return float64(m.HighRisk) }},
		{d("sessions_expired", "Sessions past their expiry that cleanup has yet to remove."), func(m *sessionsec.Metrics) float64 { return float64(m.Expired) }},
		{d("sessions_archived", "Rows in the archive table."), func(m *sessionsec.Metrics) float64 { return float64(m.Archived) }},
		{d("audit_rows", "Rows in the audit log."), func(m *sessionsec.Metrics) float64 { return float64(m.AuditRows) }},
		{d("audit_rows_last_day", "Audit rows written in the last 24 hours."), func(m *sessionsec.Metrics) float64 { return float64(m.AuditRowsLastDay) }},
		{d("cleanup_deleted_last_day", "Sessions cleanup deleted in the last 24 hours."), func(m *sessionsec.Metrics) float64 { return float64(m.CleanupDeletedLastDay) }},
		{d("cleanup_effectiveness_ratio", "Share of the sessions due for removal that cleanup removed in the last day."), func(m *sessionsec.Metrics) float64 { return m.CleanupEffectiveness() }},
		{d("sessions_sealed_ratio", "Share of sessions with a keyed seal (security_version 2)."), func(m *sessionsec.Metrics) float64 { return m.SealedShare() }},
		{d("oldest_unsealed_age_seconds", "Age of the oldest unsealed session by its creation time (0 when none is)."), func(m *sessionsec.Metrics) float64 { return m.OldestUnsealedAge.Seconds() }},
		{d("tampered_last_day", "Sessions found tampered (SESSION_TAMPERED audit rows) in the last 24 hours."), func(m *sessionsec.Metrics) float64 { return float64(m.TamperedLastDay) }},
	}
	c.byKey = prometheus.NewDesc("sessionsec_sessions_sealed", "Sealed sessions per key id of the ring.", []string{"key_id"}, nil)
	return c
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.byKey
	for _, g := range c.gauges {
		ch <- g.desc
	}
}

// Collect reads a snapshot and sends the gauges; when the read fails it sends sessionsec_up 0 only.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	m, err := c.p.ReadMetrics(ctx)
	if err != nil {
		c.logger.Warn("sessionsecprom: reading the metrics failed", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, g := range c.gauges {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.value(m))
	}
	for id, n := range m.SealedByKey {
		ch <- prometheus.MustNewConstMetric(c.byKey, prometheus.GaugeValue, float64(n), id)
	}
}
