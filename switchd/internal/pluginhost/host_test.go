package pluginhost_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchd/switchd/internal/testbin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/switchd/internal/pluginhost"
)

const samplePkg = "./switchd/internal/pluginhost/testdata/sample"

func configure(t *testing.T, h *pluginhost.Host, instance, greeting string) *pb.ConfigureResponse {
	t.Helper()
	res, err := h.Configure(context.Background(), "sample", &pb.ConfigureRequest{
		InstanceId: instance, Kind: pb.Kind_KIND_PAYMENT_METHOD,
		ConfigJson: []byte(fmt.Sprintf(`{"greeting":%q}`, greeting)),
	})
	if err != nil {
		t.Fatalf("Configure %s: %v", instance, err)
	}
	return res
}

func resolve(ctx context.Context, m sdk.PaymentMethod, instance, paymentID string) (string, error) {
	res, err := m.ResolveInstrument(ctx, &pb.ResolveInstrumentRequest{InstanceId: instance, PaymentId: paymentID})
	return res.GetDisplay(), err
}

// resolveAfterCrash is resolve for the first call after a plugin died. A
// call made before the host has noticed the exit still reaches the dead
// process and gets ErrPluginExited, which is retryable, as the flow does
// (one retry after a pause); the host notices within milliseconds.
func resolveAfterCrash(ctx context.Context, m sdk.PaymentMethod, instance, paymentID string) (string, error) {
	for {
		got, err := resolve(ctx, m, instance, paymentID)
		if !errors.Is(err, pluginhost.ErrPluginExited) || ctx.Err() != nil {
			return got, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func samplePID(t *testing.T, h *pluginhost.Host) int {
	t.Helper()
	st := h.Status(context.Background())
	if len(st) != 1 || st[0].PID == 0 {
		t.Fatalf("status = %+v, want one running plugin", st)
	}
	return st[0].PID
}

func TestStartRefusesBadDigestBeforeExec(t *testing.T) {
	tests := []struct {
		name   string
		sha256 func(actual string) string
		want   error
	}{
		{name: "unpinned", sha256: func(string) string { return "" }, want: pluginhost.ErrNotPinned},
		{name: "other binary's digest", sha256: func(string) string { return strings.Repeat("ab", 32) }, want: pluginhost.ErrDigestMismatch},
		{name: "upper-case hex", sha256: strings.ToUpper, want: nil},
		{name: "not hex", sha256: func(string) string { return "sha256:abc" }, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := mustCopyBinary(t, samplePkg)
			actual := mustSHA(t, path)
			pinned := tt.sha256(actual)
			h := pluginhost.New(pluginhost.Options{})
			defer h.Close()
			err := h.Start(context.Background(), []pluginhost.Spec{{Name: "sample", Path: path, SHA256: pinned}})
			if err == nil {
				t.Fatal("Start succeeded, want refusal")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), `"sample"`) {
				t.Errorf("err = %q, does not name the plugin", err)
			}
			if errors.Is(err, pluginhost.ErrDigestMismatch) && (!strings.Contains(err.Error(), pinned) || !strings.Contains(err.Error(), actual)) {
				t.Errorf("err = %q, want expected %s and actual %s", err, pinned, actual)
			}
			if _, statErr := os.Stat(path + ".started"); !errors.Is(statErr, os.ErrNotExist) {
				t.Fatalf("the refused plugin ran (marker file: %v)", statErr)
			}
			if _, ok := h.Info("sample"); ok {
				t.Error("a refused plugin is listed")
			}
		})
	}
	t.Run("control: the right digest runs it", func(t *testing.T) {
		_, path := mustStartSample(t, pluginhost.Options{})
		if _, err := os.Stat(path + ".started"); err != nil {
			t.Fatalf("marker file missing after a successful start: %v", err)
		}
	})
}

func TestStdoutBeforeHandshake(t *testing.T) {
	path := mustCopyBinary(t, "./switchd/internal/pluginhost/testdata/stdout")
	h := pluginhost.New(pluginhost.Options{})
	defer h.Close()
	err := h.Start(context.Background(), []pluginhost.Spec{{Name: "noisy", Path: path, SHA256: mustSHA(t, path)}})
	if !errors.Is(err, pluginhost.ErrStdoutBeforeHandshake) {
		t.Fatalf("err = %v, want ErrStdoutBeforeHandshake", err)
	}
	if !strings.Contains(err.Error(), `plugin "noisy"`) {
		t.Errorf("err = %q, does not name the plugin", err)
	}
	if strings.Contains(err.Error(), "hello from a plugin") {
		t.Errorf("err = %q repeats the plugin's stdout", err)
	}
}

func TestInfoAndKinds(t *testing.T) {
	h, _ := mustStartSample(t, pluginhost.Options{})
	info, ok := h.Info("sample")
	if !ok || info.GetVersion() != "1.2.3" || info.GetName() != "sample" {
		t.Fatalf("Info = %v, %v", info, ok)
	}
	if got := h.Infos(); len(got) != 1 || got["sample"] == nil {
		t.Errorf("Infos = %v", got)
	}
	tests := []struct {
		name string
		get  func() error
		want error
	}{
		{"payment method", func() error { _, err := h.PaymentMethod("sample"); return err }, nil},
		{"not an authenticator", func() error { _, err := h.Authenticator("sample"); return err }, pluginhost.ErrWrongKind},
		{"not an enroller", func() error { _, err := h.Enroller("sample"); return err }, pluginhost.ErrWrongKind},
		{"unknown", func() error { _, err := h.PaymentMethod("nope"); return err }, pluginhost.ErrUnknownPlugin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.get(); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	st := h.Status(context.Background())
	if len(st) != 1 || !st[0].Healthy || st[0].Version != "1.2.3" || st[0].Restarts != 0 || len(st[0].Kinds) != 1 {
		t.Errorf("Status = %+v", st)
	}
}

// within fails the test if f does not return in d (a guard against a hang,
// not a performance assertion).
func within[T any](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("call did not return within %v", d)
		panic("unreachable")
	}
}

func TestHangingCallReturnsAtDeadline(t *testing.T) {
	const callTimeout = 300 * time.Millisecond
	h, _ := mustStartSample(t, pluginhost.Options{CallTimeout: callTimeout})
	configure(t, h, "bank-a", "hi")
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		deadline time.Duration
	}{
		{"caller's deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, 200 * time.Millisecond},
		{"no deadline: CallTimeout", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, callTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			err := within(t, 10*time.Second, func() error { _, err := resolve(ctx, m, "bank-a", "hang"); return err })
			if sdk.CodeOf(err) != sdk.CodeDeadlineExceeded {
				t.Fatalf("err = %v (code %v), want deadline_exceeded", err, sdk.CodeOf(err))
			}
			if el := time.Since(start); el < tt.deadline {
				t.Errorf("returned after %v, before its deadline %v", el, tt.deadline)
			}
		})
	}
	// The plugin is still usable: only the call was abandoned.
	if got, err := resolve(context.Background(), m, "bank-a", "ok"); err != nil || got != "hi" {
		t.Fatalf("after the hang: %q, %v", got, err)
	}
}

func TestSIGKILLMidCall(t *testing.T) {
	h, _ := mustStartSample(t, pluginhost.Options{})
	configure(t, h, "bank-a", "hello a")
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	pid := samplePID(t, h)

	const callers = 20
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			_, err := resolve(ctx, m, "bank-a", "sleep:30s")
			errs <- err
		}()
	}
	time.Sleep(500 * time.Millisecond) // let the calls reach the plugin
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, func() bool { wg.Wait(); return true })
	close(errs)
	exited := 0
	for err := range errs {
		if !sdk.IsRetryable(err) {
			t.Errorf("in-flight call: err = %v (code %v), want a retryable error", err, sdk.CodeOf(err))
		}
		if errors.Is(err, pluginhost.ErrPluginExited) {
			exited++
		}
	}
	t.Logf("%d of %d callers saw ErrPluginExited", exited, callers)

	// The next call waits for the restart and succeeds on the new process,
	// which got bank-a's Configure replayed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := resolveAfterCrash(ctx, m, "bank-a", "ok")
	if err != nil || got != "hello a" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
	st := h.Status(context.Background())
	if st[0].Restarts != 1 {
		t.Errorf("Restarts = %d, want exactly 1", st[0].Restarts)
	}
	if st[0].PID == pid || !st[0].Healthy {
		t.Errorf("status after restart = %+v (old pid %d)", st[0], pid)
	}
}

func TestConfigureReplayAfterRestart(t *testing.T) {
	h, _ := mustStartSample(t, pluginhost.Options{})
	configure(t, h, "bank-a", "hello a")
	configure(t, h, "bank-b", "hello b")
	// A rejected Configure changes nothing and is not replayed.
	if res := configure(t, h, "bank-a", ""); len(res.GetDiagnostics()) == 0 {
		t.Fatal("empty greeting accepted")
	}
	if _, err := h.Configure(context.Background(), "sample", &pb.ConfigureRequest{ConfigJson: []byte(`{}`)}); sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Errorf("Configure without instance_id: err = %v", err)
	}
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	// The plugin crashes itself during the call.
	if _, err := resolve(context.Background(), m, "bank-a", "crash"); !sdk.IsRetryable(err) {
		t.Fatalf("crashing call: err = %v, want retryable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct{ instance, want string }{{"bank-a", "hello a"}, {"bank-b", "hello b"}} {
		t.Run(tc.instance, func(t *testing.T) {
			got, err := resolveAfterCrash(ctx, m, tc.instance, "ok")
			if err != nil || got != tc.want {
				t.Errorf("after restart: %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := resolve(ctx, m, "bank-c", "ok"); sdk.CodeOf(err) != sdk.CodeFailedPrecondition {
		t.Errorf("unconfigured instance: err = %v, want failed_precondition", err)
	}
	if r := h.Status(ctx)[0].Restarts; r != 1 {
		t.Errorf("Restarts = %d, want 1", r)
	}
}

func TestPluginLogsAreStructured(t *testing.T) {
	capture := newCapture()
	h, _ := mustStartSample(t, pluginhost.Options{Logger: slog.New(capture), LogLevel: "debug"})
	configure(t, h, "bank-a", "hello")
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range capture.all() {
			if r.Msg == "configured" {
				if r.Attrs["plugin"] != "sample" || r.Attrs["instance"] != "bank-a" || r.Level != slog.LevelInfo {
					t.Fatalf("record = %+v, want level INFO, plugin=sample, instance=bank-a", r)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"configured\" record from the plugin; got %+v", capture.all())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startStandInDaemon runs testdata/daemon (a host with the sample plugin
// at pluginPath) with the extra environment env, and returns it and its
// plugin's pid. The daemon is killed when the test ends.
func startStandInDaemon(t *testing.T, pluginPath string, env ...string) (*exec.Cmd, int) {
	t.Helper()
	daemon := testbin.MustBuild(t, "./switchd/internal/pluginhost/testdata/daemon")
	cmd := exec.Command(daemon, pluginPath, mustSHA(t, pluginPath))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := within(t, 30*time.Second, func() string {
		s, _ := bufio.NewReader(out).ReadString('\n')
		return s
	})
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("daemon printed %q, want the plugin pid", line)
	}
	return cmd, pid
}

// killDaemon SIGKILLs a stand-in daemon and waits until its plugin, pid,
// has died with it.
func killDaemon(t *testing.T, cmd *exec.Cmd, pid int) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 10s after the daemon was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNoPluginOutlivesKilledDaemon(t *testing.T) {
	cmd, pid := startStandInDaemon(t, mustCopyBinary(t, samplePkg))
	if !alive(pid) {
		t.Fatalf("plugin %d not running before the daemon is killed", pid)
	}
	killDaemon(t, cmd, pid)
}

// TestNextDaemonRemovesKilledDaemonsSockets: a daemon killed with SIGKILL
// cannot remove its plugins' socket directories; the next daemon does, at
// its first plugin launch, once they are a minute old (package tmpdir).
func TestNextDaemonRemovesKilledDaemonsSockets(t *testing.T) {
	// A TMPDIR of this test's own, short enough for Unix socket paths.
	tmp, err := os.MkdirTemp("", "sweep")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	plugin := mustCopyBinary(t, samplePkg)

	first, pid := startStandInDaemon(t, plugin, "TMPDIR="+tmp)
	dir := processEnv(t, pid)["PLUGIN_UNIX_SOCKET_DIR"]
	if filepath.Dir(dir) != tmp {
		t.Fatalf("socket directory %q is not in the daemon's TMPDIR %s", dir, tmp)
	}
	killDaemon(t, first, pid)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the killed daemon's socket directory is already gone (%v); this test needs it left behind", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}

	_, pid = startStandInDaemon(t, plugin, "TMPDIR="+tmp)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the next daemon left the killed daemon's socket directory %s (stat: %v)", dir, err)
	}
	if now := processEnv(t, pid)["PLUGIN_UNIX_SOCKET_DIR"]; filepath.Dir(now) != tmp {
		t.Errorf("the next daemon's socket directory %q is not in %s", now, tmp)
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func TestClose(t *testing.T) {
	h, _ := mustStartSample(t, pluginhost.Options{})
	pid := samplePID(t, h)
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("plugin %d still running after Close", pid)
	}
	if _, err := resolve(context.Background(), m, "bank-a", "ok"); !errors.Is(err, pluginhost.ErrClosed) {
		t.Errorf("call after Close: err = %v, want ErrClosed", err)
	}
	if err := h.Start(context.Background(), nil); !errors.Is(err, pluginhost.ErrClosed) {
		t.Errorf("Start after Close: err = %v", err)
	}
}

func TestRestartRefusesReplacedBinary(t *testing.T) {
	h, path := mustStartSample(t, pluginhost.Options{})
	configure(t, h, "bank-a", "hello a")
	m, err := h.PaymentMethod("sample")
	if err != nil {
		t.Fatal(err)
	}
	// The binary on disk changes while the plugin runs (a botched upgrade,
	// or tampering); the restart after a crash must refuse it.
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", append(bin, "tampered"...), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".started"); err != nil {
		t.Fatal(err)
	}
	if _, err := resolve(context.Background(), m, "bank-a", "crash"); !sdk.IsRetryable(err) {
		t.Fatalf("crashing call: err = %v", err)
	}
	// A call made before the host has noticed the exit still reaches the
	// dead process and gets ErrPluginExited (also retryable); the host
	// notices within milliseconds, so try a few times.
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = resolve(ctx, m, "bank-a", "ok")
		cancel()
		if !errors.Is(err, pluginhost.ErrPluginExited) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sdk.IsRetryable(err) || !errors.Is(err, pluginhost.ErrRestarting) {
		t.Fatalf("call during the refused restart: err = %v, want retryable ErrRestarting", err)
	}
	if !errors.Is(err, pluginhost.ErrDigestMismatch) {
		t.Errorf("err = %v, does not say why the restart fails", err)
	}
	st := h.Status(context.Background())[0]
	if st.Healthy || st.PID != 0 || !strings.Contains(st.Message, "sha256 mismatch") {
		t.Errorf("status = %+v, want down with the digest mismatch", st)
	}
	if _, err := os.Stat(path + ".started"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replaced binary ran (%v)", err)
	}
}
