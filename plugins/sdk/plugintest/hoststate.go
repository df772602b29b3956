package plugintest

import (
	"fmt"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// checkHostState runs the checks of a plugin that lists host_state: the
// kit, as the host, loads, commits, withholds commits and restarts the
// plugin, and checks that what the plugin answers after a restart is what
// the committed records make true.
func (e *env) checkHostState(t tb) {
	t.Run("not_loaded", e.checkNotLoaded)
}

// restart stops the plugin process and starts a fresh one, then loads and
// configures the suite's instance in it as the host does after a crash.
// It skips t when the target cannot be restarted.
func (e *env) restart(t tb) {
	t.Helper()
	if !e.s.Target.restartable() {
		t.Skipf("%v cannot be restarted: use Binary, or InProcessFunc with a constructor", e.s.Target)
	}
	e.conn.stop()
	cn, err := e.s.Target.start(e.top)
	if err != nil {
		t.Fatalf("restart %v: %v", e.s.Target, err)
	}
	e.conn = cn
	e.c.restarted(cn.client)
	for _, k := range e.info.GetKinds() {
		res, err := e.configure(e.inst, k, e.s.Config, e.dataDir[k])
		if err != nil {
			t.Fatalf("after a restart, Configure(%v) with Suite.Config: %v", k, err)
		}
		if sdk.HasErrors(res.GetDiagnostics()) {
			t.Fatalf("after a restart, Configure(%v) with Suite.Config has errors: %v", k, res.GetDiagnostics())
		}
	}
}

// checkNotLoaded configures an instance whose state was never loaded: the
// plugin must refuse, since it cannot know what the host holds for it.
func (e *env) checkNotLoaded(t tb) {
	inst := e.inst + "-not-loaded"
	for _, k := range e.info.GetKinds() {
		ctx, cancel := callCtx()
		req := &pb.ConfigureRequest{InstanceId: inst, Kind: k, ConfigJson: e.s.Config, DataDir: t.TempDir(), Institution: e.s.Institution}
		if k == pb.Kind_KIND_PAYMENT_METHOD {
			req.Method = e.method
		}
		res, err := e.c.Client.Configure(ctx, req) // not through the host: no LoadState
		cancel()
		if err == nil && !sdk.HasErrors(res.GetDiagnostics()) {
			t.Errorf("Configure(%v) of an instance before any LoadState was accepted; a host_state plugin must refuse it (rule 4)", k)
		}
		if n := len(res.GetStateWrites()); n > 0 {
			t.Errorf("the refused Configure(%v) carried %d state_writes", k, n)
		}
	}
	ctx, cancel := callCtx()
	defer cancel()
	if h, err := e.c.Health(ctx, &pb.HealthRequest{InstanceId: inst}); err == nil && h.GetServing() {
		t.Errorf("Health of an instance configured before any LoadState says serving")
	}
}

// describe names a result for messages.
func describe(r *pb.MoneyResult) string {
	return fmt.Sprintf("%v %q %d %s", r.GetState(), r.GetReference(), r.GetAmountMinor(), r.GetCurrency())
}
