package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"multimsg/config"
	"multimsg/gateway"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default "+config.DefaultPath+" if it exists, else the embedded default)")
	dataDir := fs.String("data", "", "data directory (overrides data_dir)")
	listen := fs.String("listen", "", "listen address (overrides listen)")
	useSyslog := fs.Bool("syslog", false, "log to the local syslog instead of stderr (BusyBox init drops stdout)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "multimsg serve: -log-level: %v\n", err)
		return 2
	}
	var out io.Writer = stderr
	if *useSyslog {
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "multimsg")
		if err != nil {
			fmt.Fprintf(stderr, "multimsg serve: syslog: %v\n", err)
			return 1
		}
		defer w.Close()
		out = w
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: lvl}))
	cfg, err := loadConfig(*cfgPath, log)
	if err != nil {
		fmt.Fprintf(stderr, "multimsg serve: %v\n", err)
		return 1
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir // a relative maildir (the embedded default's outbox) follows it
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "multimsg serve: %v\n", err)
		return 1
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Upload bodies are admitted against limits.body_budget (web/cost.go); a soft memory
		// limit a little above it makes the collector return their memory before the heap
		// doubles, which is what a Pi's RAM cannot afford.
		debug.SetMemoryLimit(int64(cfg.Limits.BodyBudget) + 48<<20)
	}
	var fromFlags []string
	if *dataDir != "" {
		fromFlags = append(fromFlags, "data_dir")
	}
	if *listen != "" {
		fromFlags = append(fromFlags, "listen")
	}
	path := *cfgPath
	if path == "" {
		path = config.DefaultPath
	}
	g, err := gateway.New(cfg, gateway.Options{Log: log, Version: version, Console: stderr, ConfigPath: path, FromFlags: fromFlags})
	if err != nil {
		fmt.Fprintf(stderr, "multimsg serve: %v\n", err)
		return 1
	}
	// SIGHUP: the file was edited by hand; apply it as the settings page would (checked first,
	// nothing applied if it is not valid).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if a, err := g.Settings.ReloadFile("SIGHUP"); err != nil {
					log.Error("SIGHUP: configuration not applied", "path", path, "err", err)
				} else {
					log.Info("SIGHUP: configuration applied", "path", path, "changed", len(a.Changed), "at_next_start", strings.Join(a.Restart, ","))
				}
			}
		}
	}()
	err = g.Run(ctx)
	if errors.Is(err, gateway.ErrRestart) {
		signal.Stop(hup)
		return reexec(log, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "multimsg serve: %v\n", err)
		return 1
	}
	return 0
}

// reexec replaces this process with a fresh start of the same binary, arguments and
// environment (a restart from the settings page, once the gateway has stopped cleanly): the
// PID stays, so the init script's pidfile stays right, and the flags (-config, -listen, -data,
// -syslog) stay what they were. Descriptors Go opened are close-on-exec; stdin, stdout and
// stderr are kept. It returns only if the exec failed: the service then exits non-zero.
func reexec(log *slog.Logger, stderr io.Writer) int {
	log.Info("multimsg: restarting", "exe", "/proc/self/exe", "args", strings.Join(os.Args[1:], " "))
	err := syscall.Exec("/proc/self/exe", os.Args, os.Environ())
	fmt.Fprintf(stderr, "multimsg serve: restart: %v\n", err)
	log.Error("multimsg: restart failed; the service is stopped", "err", err)
	return 1
}

// loadConfig reads path; with no path, the default file if it exists, else the embedded
// default.
func loadConfig(path string, log *slog.Logger) (config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	cfg, err := config.Load(config.DefaultPath)
	if errors.Is(err, config.ErrNoFile) {
		log.Info("no configuration file: using the embedded default", "path", config.DefaultPath)
		return config.LoadDefault()
	}
	return cfg, err
}
