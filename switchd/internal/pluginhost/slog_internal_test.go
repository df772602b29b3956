package pluginhost

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestSlogAdapter(t *testing.T) {
	tests := []struct {
		name      string
		min       slog.Level
		log       func(hclog.Logger)
		wantLevel hclog.Level
		want      map[string]any // nil: nothing logged
	}{
		{
			name:      "info with attributes",
			min:       slog.LevelDebug,
			log:       func(l hclog.Logger) { l.Info("configured", "instance", "bank-a", "timestamp", "x") },
			wantLevel: hclog.Debug,
			want:      map[string]any{"level": "INFO", "msg": "configured", "plugin": "card", "instance": "bank-a"},
		},
		{
			name:      "go-plugin's own plugin key does not clobber ours",
			min:       slog.LevelInfo,
			log:       func(l hclog.Logger) { l.Named("card-bin").Warn("plugin process exited", "plugin", "/bin/card") },
			wantLevel: hclog.Info,
			want:      map[string]any{"level": "WARN", "msg": "plugin process exited", "plugin": "card", "plugin_path": "/bin/card"},
		},
		{
			name:      "With adds attributes",
			min:       slog.LevelInfo,
			log:       func(l hclog.Logger) { l.With("id", 7).Error("boom") },
			wantLevel: hclog.Info,
			want:      map[string]any{"level": "ERROR", "msg": "boom", "plugin": "card", "id": float64(7)},
		},
		{
			name:      "below the handler's level",
			min:       slog.LevelWarn,
			log:       func(l hclog.Logger) { l.Debug("noise") },
			wantLevel: hclog.Warn,
		},
		{
			name:      "trace maps below debug",
			min:       slog.LevelDebug - 4,
			log:       func(l hclog.Logger) { l.Trace("fine") },
			wantLevel: hclog.Trace,
			want:      map[string]any{"level": "DEBUG-4", "msg": "fine", "plugin": "card"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			a := newSlogAdapter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.min})), "card")
			if a.GetLevel() != tt.wantLevel {
				t.Errorf("GetLevel = %v, want %v", a.GetLevel(), tt.wantLevel)
			}
			tt.log(a)
			if tt.want == nil {
				if buf.Len() != 0 {
					t.Fatalf("logged %s", buf.String())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, buf.String())
			}
			delete(got, "time")
			if len(got) != len(tt.want) {
				t.Errorf("record = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (record %s)", k, got[k], v, strings.TrimSpace(buf.String()))
				}
			}
		})
	}
}
