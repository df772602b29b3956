package plugintest

import (
	"crypto/ed25519"
	"errors"

	"google.golang.org/protobuf/proto"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
	"github.com/switchd/switchd/plugins/sdk/order"
)

// mutation changes one field of an order. term marks the seller's terms,
// which the seller's signature covers.
type mutation struct {
	field  string
	term   bool
	change func(*pb.Order)
}

var mutations = []mutation{
	{"payment_id", false, func(o *pb.Order) { o.PaymentId += "-other" }},
	{"merchant_id", true, func(o *pb.Order) { o.MerchantId += "-other" }},
	{"acquirer_id", true, func(o *pb.Order) { o.AcquirerId += "-other" }},
	{"issuer_id", false, func(o *pb.Order) { o.IssuerId += "-other" }},
	{"amount_minor", true, func(o *pb.Order) { o.AmountMinor++ }},
	{"currency", true, func(o *pb.Order) {
		if o.Currency == "EUR" {
			o.Currency = "USD"
		} else {
			o.Currency = "EUR"
		}
	}},
	{"method", false, func(o *pb.Order) {
		if o.Method == pb.Method_METHOD_CARD {
			o.Method = pb.Method_METHOD_BANK_TRANSFER
		} else {
			o.Method = pb.Method_METHOD_CARD
		}
	}},
	{"order_ref", true, func(o *pb.Order) { o.OrderRef += "-other" }},
	{"expires_at", true, func(o *pb.Order) { o.ExpiresAtUnix += 60 }},
}

func mutated(o *pb.Order, m mutation) *pb.Order {
	c := proto.Clone(o).(*pb.Order)
	m.change(c)
	return c
}

func (e *env) checkAuthenticator(t tb) {
	if e.s.SellerSignature != nil {
		t.Run("seller_approve", e.checkSellerApprove)
		t.Run("seller_bound", e.checkSellerBound)
	} else {
		t.Logf("no Suite.SellerSignature: step B checks skipped")
	}
	if e.s.PayerAnswer != nil {
		t.Run("mutual_approve", e.checkMutualApprove)
		t.Run("mutual_bound", e.checkMutualBound)
		t.Run("mutual_bad_digest", e.checkMutualBadDigest)
		if e.s.PayerVerifiesIssuer {
			t.Run("issuer_proof_bound", e.checkIssuerProofBound)
		}
	} else {
		t.Logf("no Suite.PayerAnswer: step C checks skipped")
	}
	t.Run("enrollment", e.checkEnrollment)
}

// verifyAttestation fails unless a is the instance's valid attestation of
// digest at step.
func (e *env) verifyAttestation(t tb, a *pb.Attestation, step string, digest []byte) {
	t.Helper()
	if a == nil {
		t.Errorf("approved without an attestation (step %s)", step)
		return
	}
	if a.GetStep() != step || a.GetInstitutionId() != e.inst {
		t.Errorf("attestation for step %q by %q, want step %q by %q", a.GetStep(), a.GetInstitutionId(), step, e.inst)
	}
	for _, k := range e.keys {
		if k.GetKeyId() == a.GetKeyId() {
			if len(k.GetEd25519()) != ed25519.PublicKeySize {
				t.Errorf("attestation key %q is %d bytes", k.GetKeyId(), len(k.GetEd25519()))
				return
			}
			if !ed25519.Verify(k.GetEd25519(), order.AttestationMessage(step, a.GetInstitutionId(), digest), a.GetSignature()) {
				t.Errorf("attestation signature by key %q does not verify over the order digest", k.GetKeyId())
			}
			return
		}
	}
	t.Errorf("attestation key %q is not among the attestation_keys from Configure", a.GetKeyId())
}

func (e *env) authenticateSeller(t tb, o, signed *pb.Order) (*pb.AuthenticateSellerResponse, error) {
	t.Helper()
	keyID, sig, at := e.s.SellerSignature(signed)
	ctx, cancel := callCtx()
	defer cancel()
	return e.c.AuthenticateSeller(ctx, &pb.AuthenticateSellerRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o),
		SellerSignature: sig, SellerKeyId: keyID, SignedAtUnixMs: at})
}

func (e *env) checkSellerApprove(t tb) {
	o := e.newOrder("seller")
	res, err := e.authenticateSeller(t, o, o)
	if err != nil {
		t.Fatalf("AuthenticateSeller: %v", err)
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("AuthenticateSeller with Suite.SellerSignature: %v (%s), want APPROVED", res.GetVerdict(), res.GetDeclineCode())
	}
	e.verifyAttestation(t, res.GetAttestation(), "B", digest(o))
}

func (e *env) checkSellerBound(t tb) {
	t.Run("signature", func(t tb) {
		o := e.newOrder("sellersig")
		keyID, sig, at := e.s.SellerSignature(o)
		sig = append([]byte(nil), sig...)
		if len(sig) > 0 {
			sig[len(sig)/2] ^= 1
		}
		ctx, cancel := callCtx()
		defer cancel()
		res, err := e.c.AuthenticateSeller(ctx, &pb.AuthenticateSellerRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o),
			SellerSignature: sig, SellerKeyId: keyID, SignedAtUnixMs: at})
		if err == nil && res.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
			t.Errorf("a seller signature with a flipped bit was approved")
		}
	})
	for _, m := range mutations {
		if !m.term {
			continue
		}
		t.Run(m.field, func(t tb) {
			signed := e.newOrder("sellerbound")
			res, err := e.authenticateSeller(t, mutated(signed, m), signed)
			if err == nil && res.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
				t.Errorf("a seller signature over one %s was approved for another", m.field)
			}
		})
	}
}

// begin runs BeginMutualAuth for o and fails unless it started.
func (e *env) begin(t tb, o *pb.Order) *pb.BeginMutualAuthResponse {
	t.Helper()
	var hello []byte
	if e.s.PayerHello != nil {
		hello = e.s.PayerHello(o)
	}
	ctx, cancel := callCtx()
	defer cancel()
	res, err := e.c.BeginMutualAuth(ctx, &pb.BeginMutualAuthRequest{InstanceId: e.inst, Order: o, OrderDigest: digest(o),
		PayerRef: e.s.PayerRef, PayerData: hello})
	if err != nil {
		t.Fatalf("BeginMutualAuth: %v", err)
	}
	if res.GetVerdict() == pb.Verdict_VERDICT_DECLINED {
		t.Fatalf("BeginMutualAuth for Suite.PayerRef declined (%s)", res.GetDeclineCode())
	}
	return res
}

func (e *env) answer(t tb, b *pb.BeginMutualAuthResponse, o *pb.Order) []byte {
	t.Helper()
	a, err := e.s.PayerAnswer(b, o)
	if err != nil {
		t.Fatalf("Suite.PayerAnswer for the order BeginMutualAuth was called with: %v", err)
	}
	return a
}

func (e *env) finish(o *pb.Order, d, answer []byte) (*pb.FinishMutualAuthResponse, error) {
	ctx, cancel := callCtx()
	defer cancel()
	return e.c.FinishMutualAuth(ctx, &pb.FinishMutualAuthRequest{InstanceId: e.inst, Order: o, OrderDigest: d,
		PayerRef: e.s.PayerRef, PayerData: answer})
}

func (e *env) checkMutualApprove(t tb) {
	o := e.newOrder("mutual")
	b := e.begin(t, o)
	if b.GetMechanism() == "" {
		t.Errorf("BeginMutualAuth names no mechanism")
	}
	res, err := e.finish(o, digest(o), e.answer(t, b, o))
	if err != nil {
		t.Fatalf("FinishMutualAuth: %v", err)
	}
	if res.GetVerdict() != pb.Verdict_VERDICT_APPROVED {
		t.Fatalf("FinishMutualAuth with Suite.PayerAnswer: %v (%s), want APPROVED", res.GetVerdict(), res.GetDeclineCode())
	}
	e.verifyAttestation(t, res.GetAttestation(), "C", digest(o))
}

func (e *env) checkMutualBound(t tb) {
	for _, m := range mutations {
		t.Run(m.field, func(t tb) {
			o := e.newOrder("mutualbound")
			answer := e.answer(t, e.begin(t, o), o)
			other := mutated(o, m)
			res, err := e.finish(other, digest(other), answer)
			if err == nil && res.GetVerdict() == pb.Verdict_VERDICT_APPROVED {
				t.Errorf("a payer's proof for one order was approved for an order with another %s", m.field)
			}
		})
	}
}

func (e *env) checkMutualBadDigest(t tb) {
	o := e.newOrder("mutualdigest")
	answer := e.answer(t, e.begin(t, o), o)
	other := mutated(o, mutations[4])
	_, err := e.finish(other, digest(o), answer)
	if sdk.CodeOf(err) != sdk.CodeInvalidArgument {
		t.Errorf("FinishMutualAuth with a digest of another order: %v, want invalid_argument", err)
	}
}

func (e *env) checkIssuerProofBound(t tb) {
	for _, m := range mutations {
		t.Run(m.field, func(t tb) {
			o := e.newOrder("issuerbound")
			b := e.begin(t, o)
			if _, err := e.s.PayerAnswer(b, mutated(o, m)); err == nil {
				t.Errorf("the issuer's proof for one order verified for an order with another %s", m.field)
			}
		})
	}
}

// checkEnrollment checks that enrolment is served exactly when the
// "enrollment" capability is listed.
func (e *env) checkEnrollment(t tb) {
	listed := false
	for _, c := range e.info.GetCapabilities() {
		listed = listed || c == sdk.CapEnrollment
	}
	ctx, cancel := callCtx()
	defer cancel()
	_, err := e.c.BeginEnrollment(ctx, &pb.BeginEnrollmentRequest{InstanceId: e.inst, PayerRef: e.s.PayerRef, PayerData: []byte("{}")})
	unimpl := errors.Is(err, sdk.ErrUnimplemented)
	switch {
	case listed && unimpl:
		t.Errorf("capability %q is listed but BeginEnrollment is unimplemented", sdk.CapEnrollment)
	case !listed && !unimpl:
		t.Errorf("BeginEnrollment answered %v without the %q capability; want unimplemented", err, sdk.CapEnrollment)
	}
}
