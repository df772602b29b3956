package api

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAdminBackup(t *testing.T) {
	t.Run("streams the snapshot", func(t *testing.T) {
		ts := mustServer(t, func(o *Options) {
			o.Admin.Backup = func(w io.Writer) error { _, err := io.WriteString(w, "bolt-bytes"); return err }
		})
		w := ts.do(t, ts.admin, req{method: "GET", path: "/v1/admin/backup"})
		if w.Code != http.StatusOK || w.Body.String() != "bolt-bytes" || w.Header().Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("%d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	})
	t.Run("not available", func(t *testing.T) {
		ts := mustServer(t, nil)
		mustProblem(t, ts.do(t, ts.admin, req{method: "GET", path: "/v1/admin/backup"}), http.StatusServiceUnavailable, CodeNotReady)
	})
	t.Run("a failure mid-stream cuts the connection", func(t *testing.T) {
		ts := mustServer(t, func(o *Options) {
			o.Admin.Backup = func(w io.Writer) error {
				_, _ = io.WriteString(w, "partial")
				return errors.New("disk error")
			}
		})
		srv := httptest.NewServer(ts.admin)
		defer srv.Close()
		res, err := http.Get(srv.URL + "/v1/admin/backup")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		if err == nil {
			t.Fatal("a failed backup looked complete to the client")
		}
	})
}
