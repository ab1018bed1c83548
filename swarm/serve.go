package swarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
)

// ServePeer is `murderctl peer`: it reads the PeerConfig line from stdin,
// then runs RunPeer with the rest of stdin as the control stream. SIGTERM,
// SIGHUP and SIGINT stop it like a closed stdin.
func ServePeer(ctx context.Context, stdin io.Reader, stdout io.Writer, logger *slog.Logger) int {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGHUP, os.Interrupt)
	defer stop()
	// A closed stdout must not kill the peer before it cleans up.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

	br := bufio.NewReaderSize(stdin, 64<<10)
	line, err := readLine(br)
	if err == nil {
		var cfg PeerConfig
		if cfg, err = ParseConfigLine(line); err == nil {
			if cfg.Procs > 0 {
				runtime.GOMAXPROCS(cfg.Procs)
			}
			return RunPeer(ctx, cfg, br, stdout, logger)
		}
	}
	em := &emitter{w: stdout}
	em.Emit(Event{Event: EventFailed, Code: CodeConfig, Reason: err.Error()})
	return ExitConfig
}

// readLine reads one line of at most maxLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) == 0 {
				return nil, errors.New("peer config: stdin closed before the config line")
			}
			if errors.Is(err, io.EOF) {
				return line, nil
			}
			return nil, fmt.Errorf("peer config: read stdin: %w", err)
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("peer config: line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// controlWatch turns the control stream into two signals: stop (a stop
// command) and eof (the stream ended or failed).
type controlWatch struct {
	stop chan struct{}
	eof  chan struct{}
}

// stopped reports whether a stop command came (the deploy is over), even
// if the peer's loop saw the end of stdin first.
func (w *controlWatch) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func watchControl(r io.Reader, logger *slog.Logger) *controlWatch {
	w := &controlWatch{stop: make(chan struct{}), eof: make(chan struct{})}
	if r == nil {
		return w
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	var once sync.Once
	go func() {
		defer close(w.eof)
		for {
			line, err := readLine(br)
			if err != nil {
				return
			}
			c, err := ParseControlLine(line)
			if err != nil {
				logger.Warn("ignoring control line", "err", err)
				continue
			}
			if c.Cmd == ControlStop {
				once.Do(func() { close(w.stop) })
			}
		}
	}()
	return w
}
