package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/agui-go/sessionsec"
)

// sealCommands are the session-integrity commands; both read the keyring from HMAC_KEY.
var sealCommands = []command{
	{"seal", "seal sessions with the HMAC_KEY primary key", "Seals version 1 rows and re-seals rows of older keys of the ring with the primary key, in batches\n(-batch, default 1000) under the migration lock, each with its SESSION_SEAL audit row; resumable. A row whose\nolder seal does not verify is audited and left as it is (exit 1). HMAC_KEY holds the keyring (see the README).", []string{"batch"}},
	{"verify", "verify every session's seal", "Reads every session in batches and verifies its seal with the HMAC_KEY keyring: counts, rows per key and the\nkeys of tampered rows (each gets a SESSION_TAMPERED audit row; nothing is deleted). Exit 1 when a row is tampered.", []string{"batch"}},
}

func init() { commands = append(commands, sealCommands...) }

// sealing runs seal or verify. Tampering found is an error (exit 1) after the result is printed.
func sealing(ctx context.Context, p *sessionsec.Provider, cmd string, o options, stderr io.Writer) (_ *result, err error) {
	ring, err := sessionsec.LoadKeyringFromEnv()
	if err != nil {
		return nil, err
	}
	logger := slog.Default()
	var call []sessionsec.Option
	if o.batch != 0 {
		call = append(call, sessionsec.WithBatchSize(o.batch))
	}
	bar := newProgress(stderr, isTerminal(stderr), logger, cmd, -1, "rows")
	defer func() { bar.finish(err) }()
	call = append(call, sessionsec.WithProgress(bar.report))
	if cmd == "seal" {
		res, err := p.Seal(ctx, ring, call...)
		if err == nil && res.Tampered > 0 {
			err = fmt.Errorf("%w: %d session(s) sealed with an older key do not verify (audited, left unsealed); run verify", sessionsec.ErrSessionTampered, res.Tampered)
		}
		return &result{Seal: res}, err
	}
	res, err := p.Verify(ctx, ring, call...)
	if err == nil && res.Tampered > 0 {
		err = fmt.Errorf("%w: %d tampered session(s) (audited as %s)", sessionsec.ErrSessionTampered, res.Tampered, sessionsec.AuditTampered)
	}
	return &result{Verify: res}, err
}
