package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/switchd/internal/store"
	"github.com/switchd/switchd/switchd/internal/store/storetest"
)

const crashEnv = "SWITCHD_STORE_CRASH_CHILD"

// TestCrashChild is the child half of TestCrashKeepsAcknowledgedWrites:
// it writes payments from several goroutines with fsync on and prints each
// ID once its Update has returned (been acknowledged), until killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestCrashKeepsAcknowledgedWrites")
	}
	s, err := store.Open(path, store.Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%06d", w, i)
				err := s.Update(context.Background(), func(tx store.Tx) error {
					if err := tx.PutPayment(payment(id, "m1", time.Now(), "created")); err != nil {
						return err
					}
					if err := tx.AppendEvent(&store.Event{PaymentID: id, Type: "payment.created"}); err != nil {
						return err
					}
					return tx.Enqueue(&store.OutboxMessage{ID: "wh-" + id, Kind: store.KindWebhook, PaymentID: id})
				})
				if err != nil {
					fmt.Println("update:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(out, "ack", id)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashKeepsAcknowledgedWrites kills a writing process with SIGKILL
// and checks that every write it acknowledged survives and that the file
// passes bbolt's consistency check.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crash.db")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+path)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var acked []string
			sc := bufio.NewScanner(stdout)
			killAt := 300 + round*400
			for sc.Scan() {
				line := sc.Text()
				id, ok := strings.CutPrefix(line, "ack ")
				if !ok {
					if strings.HasPrefix(line, "open:") || strings.HasPrefix(line, "update:") {
						t.Fatalf("child: %s", line)
					}
					continue
				}
				acked = append(acked, id)
				if len(acked) == killAt {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
				}
			}
			cmd.Wait()
			if len(acked) < killAt {
				t.Fatalf("child acknowledged only %d writes before it ended", len(acked))
			}

			s := storetest.MustOpenAt(t, path, store.Options{})
			if err := s.Check(); err != nil {
				t.Fatalf("after SIGKILL: %v", err)
			}
			err = s.View(context.Background(), func(tx store.Tx) error {
				for _, id := range acked {
					if _, err := tx.GetPayment(id); err != nil {
						return fmt.Errorf("acknowledged payment %s: %w", id, err)
					}
					if evs, _ := tx.Events(id); len(evs) != 1 {
						return fmt.Errorf("acknowledged payment %s has %d events", id, len(evs))
					}
					if _, err := tx.GetOutbox("wh-" + id); err != nil {
						return fmt.Errorf("acknowledged outbox message of %s: %w", id, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
		})
	}
}
