package flow

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/switchd/switchd/internal/edsig"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk/order"
	"github.com/switchd/switchd/switchd/internal/store"
)

func parseMethod(s string) (pb.Method, bool) { return order.ParseMethod(s) }

// OrderOf returns the order of payment p, built from its stored fields.
// The engine recomputes the digest from it before every step, so a stored
// field changed after a proof was made makes that proof fail.
func OrderOf(p *store.Payment) *pb.Order {
	m, _ := parseMethod(p.Method)
	return &pb.Order{
		PaymentId:     p.ID,
		MerchantId:    p.MerchantID,
		AcquirerId:    p.AcquirerID,
		IssuerId:      p.IssuerID,
		AmountMinor:   p.AmountMinor,
		Currency:      p.Currency,
		Method:        m,
		OrderRef:      p.OrderRef,
		ExpiresAtUnix: p.ExpiresAt.Unix(),
	}
}

// digestOf returns the order and its canonical digest.
func digestOf(p *store.Payment) (*pb.Order, []byte) {
	o := OrderOf(p)
	d := order.Digest(o)
	return o, d[:]
}

// ed25519Verify is edsig.Verify (crypto/ed25519's rules, twice as fast);
// the engine benchmark counts the calls.
var ed25519Verify = edsig.Verify

// verifyAttestation checks that a is institution inst's signature at step
// over digest, with a key the institution reported at Configure.
func (e *Engine) verifyAttestation(p *store.Payment, a *pb.Attestation, step, inst string, digest []byte) error {
	if a == nil {
		return fmt.Errorf("%w: step %s: no attestation", errAttestation, step)
	}
	if a.GetStep() != step || a.GetInstitutionId() != inst {
		return fmt.Errorf("%w: step %s: attestation is for step %q by %q", errAttestation, step, a.GetStep(), a.GetInstitutionId())
	}
	key, ok := e.attestationKey(p, inst, a.GetKeyId())
	if !ok {
		return fmt.Errorf("%w: step %s: institution %q has no key %q", errAttestation, step, inst, a.GetKeyId())
	}
	if !ed25519Verify(key, order.AttestationMessage(step, inst, digest), a.GetSignature()) {
		return fmt.Errorf("%w: step %s: bad signature by %q", errAttestation, step, inst)
	}
	return nil
}

func (e *Engine) attestationKey(p *store.Payment, inst, keyID string) (ed25519.PublicKey, bool) {
	if k, ok := e.cur.Load().AttestationKeys[inst][keyID]; ok && len(k) == ed25519.PublicKeySize {
		return k, true
	}
	// The generation the payment started in (genFor takes a lock): only
	// when a reload removed the key.
	if c := e.genFor(p); c != nil {
		if k, ok := c.AttestationKeys[inst][keyID]; ok && len(k) == ed25519.PublicKeySize {
			return k, true
		}
	}
	return nil, false
}

// storedAttestation decodes the attestation of step stored on p.
func storedAttestation(p *store.Payment, step string) *pb.Attestation {
	b, ok := p.Attestations[step]
	if !ok {
		return nil
	}
	a := new(pb.Attestation)
	if err := proto.Unmarshal(b, a); err != nil {
		return nil
	}
	return a
}

func putAttestation(p *store.Payment, step string, a *pb.Attestation) {
	if a == nil {
		return
	}
	b, err := proto.Marshal(a)
	if err != nil {
		return
	}
	if p.Attestations == nil {
		p.Attestations = map[string][]byte{}
	}
	p.Attestations[step] = b
}

// VerifyStored checks the stored attestation of step ("B", "C" or "D")
// against the digest recomputed from p's current fields, signature
// included. The issuer signs C and D, the acquirer B. The payment steps do
// not call it: every attestation is verified once, when its plugin returns
// it, and later steps use checkOrder; it is for audits and tests.
func (e *Engine) VerifyStored(p *store.Payment, step string) error {
	inst := p.IssuerID
	if step == "B" {
		inst = p.AcquirerID
	}
	_, d := digestOf(p)
	return e.verifyAttestation(p, storedAttestation(p, step), step, inst, d)
}

// checkOrder is what a step checks before it relies on the stored proofs
// of steps: each is present, and the digest recomputed from p's stored
// fields is still the digest fixed at step A (p.Digest), which is the
// digest every stored attestation was verified over when its plugin
// returned it, before it was stored in the same transaction as the state
// it justifies. Comparing the digest is enough: the stored copy comes from
// our own database, so its signature is not verified again. It returns the
// order and its digest for the step's plugin request.
func checkOrder(p *store.Payment, steps ...string) (*pb.Order, []byte, error) {
	o, d := digestOf(p)
	if !bytes.Equal(d, p.Digest) {
		return nil, nil, fmt.Errorf("%w: the order changed since its digest was fixed at step A", errAttestation)
	}
	for _, step := range steps {
		if len(p.Attestations[step]) == 0 {
			return nil, nil, fmt.Errorf("%w: step %s: no attestation stored", errAttestation, step)
		}
	}
	return o, d, nil
}
