package pluginhost

import (
	"context"
	"crypto/tls"
	"log/slog"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/switchd/switchd/internal/testbin"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
)

// TestTransportTLS13 checks what a plugin connection negotiates: TLS 1.3
// (go-plugin's AutoMTLS only sets a minimum of 1.2) with an AEAD suite,
// the plugin's certificate presented, over h2. The suites a slower
// negotiation could fall back to (TLS 1.2 CBC) would cost CPU per call.
func TestTransportTLS13(t *testing.T) {
	path := testbin.MustBuild(t, "./switchd/internal/pluginhost/testdata/sample")
	sum, err := FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := launch(Spec{Name: "sample", Path: path, SHA256: sum}, Options{LogLevel: "error"}, newSlogAdapter(slog.Default(), "sample"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	if p.cc == nil {
		t.Fatal("no gRPC connection")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pr peer.Peer
	if err := p.cc.Invoke(ctx, pb.Plugin_Health_FullMethodName, &pb.HealthRequest{}, &pb.HealthResponse{}, grpc.Peer(&pr)); err != nil {
		t.Fatal(err)
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("connection is not TLS: auth info %T", pr.AuthInfo)
	}
	st := info.State
	t.Logf("negotiated %s, %s, ALPN %q", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol)
	if st.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %s, want TLS 1.3", tls.VersionName(st.Version))
	}
	aead := []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256}
	if !slices.Contains(aead, st.CipherSuite) {
		t.Errorf("cipher suite %s, want a TLS 1.3 AEAD suite", tls.CipherSuiteName(st.CipherSuite))
	}
	if len(st.PeerCertificates) == 0 {
		t.Error("the plugin presented no certificate")
	}
	if st.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN %q, want h2", st.NegotiatedProtocol)
	}
}
