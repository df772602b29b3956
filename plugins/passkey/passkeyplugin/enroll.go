package passkeyplugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"

	"github.com/go-webauthn/webauthn/protocol"
	bolt "go.etcd.io/bbolt"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// userIDSize is the size of the random WebAuthn user handle. It is random
// rather than the payer_ref so that authenticators never hold the issuer's
// reference for the payer.
const userIDSize = 32

// enrolPayer checks what both enrolment calls share.
func (p *Plugin) enrolPayer(instanceID, payerRef string) (*instance, error) {
	inst, err := p.instance(instanceID)
	if err != nil {
		return nil, err
	}
	if payerRef == "" {
		return nil, sdk.InvalidArgument("payer_ref", "is empty")
	}
	if _, ok := inst.payers[payerRef]; !ok {
		return nil, sdk.NotFound("passkey: the payer is not allowed to enrol at this issuer")
	}
	return inst, nil
}

// errAlreadyEnrolled refuses a second passkey: the payment page can reach
// enrolment with nothing but the payer's card or account number, so only a
// payer without a passkey may enrol one there.
var errAlreadyEnrolled = sdk.FailedPrecondition("passkey: the payer already has a passkey; the issuer must remove it before another can be enrolled")

var errLocked = sdk.FailedPrecondition("passkey: %s: the payer is locked after too many failed attempts", sdk.DeclineLocked)

// DeclineNoEnrollmentCode starts the FailedPrecondition message of
// BeginEnrollment for a payer whose payer block has no
// enrollment_code_sha256: that payer cannot enrol a passkey.
const DeclineNoEnrollmentCode = "no_enrollment_code"

// MaxEnrollmentCodeLen is the longest activation code BeginEnrollment
// accepts, in bytes.
const MaxEnrollmentCodeLen = 256

var (
	errNoCode  = sdk.FailedPrecondition("passkey: %s: the issuer has set no activation code for the payer, so no passkey can be enrolled", DeclineNoEnrollmentCode)
	errBadCode = sdk.FailedPrecondition("passkey: %s: the activation code is not the one the issuer gave the payer", sdk.DeclineAuthFailed)
)

// enrolPayerData is BeginEnrollment's payer_data.
type enrolPayerData struct {
	EnrollmentCode *string `json:"enrollment_code"`
}

// parseEnrolPayerData reads {"enrollment_code": "..."}: exactly that one
// field, a non-empty string of at most MaxEnrollmentCodeLen bytes. Errors
// never include the code.
func parseEnrolPayerData(data []byte) (string, error) {
	var pd enrolPayerData
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pd); err != nil {
		return "", sdk.InvalidArgument("payer_data", `want {"enrollment_code": "..."}, a JSON object with only that field`)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", sdk.InvalidArgument("payer_data", "trailing data after the JSON object")
	}
	switch {
	case pd.EnrollmentCode == nil:
		return "", sdk.InvalidArgument("payer_data", "enrollment_code is missing: enrolment needs the activation code the issuer gave the payer")
	case *pd.EnrollmentCode == "":
		return "", sdk.InvalidArgument("payer_data", "enrollment_code is empty")
	case len(*pd.EnrollmentCode) > MaxEnrollmentCodeLen:
		return "", sdk.InvalidArgument("payer_data", "enrollment_code is longer than %d bytes", MaxEnrollmentCodeLen)
	}
	return *pd.EnrollmentCode, nil
}

// BeginEnrollment starts enrolling a passkey for a payer listed in a payer
// block, if payer_data carries the activation code whose SHA-256 is the
// payer's enrollment_code_sha256: {"enrollment_code": "..."}. challenge_data
// is {"publicKey": PublicKeyCredentialCreationOptions}.
//
// A wrong code is FailedPrecondition "auth_failed: ..." and counts as a
// failure toward the payer's lock, like a wrong assertion; the count is
// written before the answer. A right code clears the count. Malformed
// payer_data is InvalidArgument and changes nothing.
func (p *Plugin) BeginEnrollment(ctx context.Context, req *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	inst, err := p.enrolPayer(req.GetInstanceId(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	code, err := parseEnrolPayerData(req.GetPayerData())
	if err != nil {
		return nil, err
	}
	log := sdk.Logger().With("instance", inst.id, "payer_ref", req.GetPayerRef())
	want := inst.payers[req.GetPayerRef()].codeHash
	if want == nil {
		log.Warn("passkey: enrolment refused", "reason", errNoCode)
		return nil, errNoCode
	}
	got := sha256.Sum256([]byte(code))
	right := subtle.ConstantTimeCompare(got[:], want) == 1
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var refusal error
	var data []byte
	var failures int
	// The fn may run more than once (group commit): it sets refusal, data
	// and failures afresh. Once the code was checked the transaction runs
	// to the end even if the caller has gone, so a wrong code is always
	// counted.
	err = inst.db.Update(context.WithoutCancel(ctx), func(tx *bolt.Tx) error {
		refusal, data, failures = nil, nil, 0
		b := inst.buckets(tx)
		key := []byte(req.GetPayerRef())
		st, rec, err := b.payer(key)
		if err != nil {
			return err
		}
		if st.Locked {
			refusal = errLocked
			return nil
		}
		if len(rec.Credentials) > 0 {
			refusal = errAlreadyEnrolled
			return nil
		}
		if !right || st.Failures != 0 {
			_, failures = st.Answer(right, inst.maxFailures)
			if err := putJSON(b.payers, key, st); err != nil {
				return err
			}
			if !right {
				refusal = errBadCode
				if st.Locked {
					refusal = errLocked
					// A lock also closes an enrolment the payer opened
					// before.
					return b.enrol.Delete(key)
				}
				return nil
			}
		}
		if len(rec.UserID) == 0 {
			rec.UserID = make([]byte, userIDSize)
			if _, err := rand.Read(rec.UserID); err != nil {
				return err
			}
			if err := putJSON(b.users, key, rec); err != nil {
				return err
			}
		}
		creation, session, err := inst.wa.BeginRegistration(&user{rec: &rec, name: inst.displayName(req.GetPayerRef())})
		if err != nil {
			return err
		}
		if data, err = json.Marshal(creation); err != nil {
			return err
		}
		// A new Begin replaces any open enrolment of the payer.
		return putJSON(b.enrol, key, enrolRecord{Session: *session, ExpiresUnixMS: p.now().Add(inst.ttl).UnixMilli()})
	})
	if err != nil {
		return nil, storeError(ctx, log, err)
	}
	if refusal != nil {
		log.Warn("passkey: enrolment refused", "reason", refusal, "failures", failures)
		return nil, refusal
	}
	log.Info("passkey: enrolment started")
	return &pb.BeginEnrollmentResponse{Mechanism: Mechanism, ChallengeData: data}, nil
}

// FinishEnrollment verifies the browser's new credential against the open
// enrolment and stores it. The open enrolment is spent, right or wrong.
func (p *Plugin) FinishEnrollment(ctx context.Context, req *pb.FinishEnrollmentRequest) (*pb.FinishEnrollmentResponse, error) {
	inst, err := p.enrolPayer(req.GetInstanceId(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.GetPayerData())
	if err != nil {
		return nil, sdk.InvalidArgument("payer_data", "not a WebAuthn credential creation response: %s", details(err))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := sdk.Logger().With("instance", inst.id, "payer_ref", req.GetPayerRef())
	var refusal error
	var credID string
	// The fn may run more than once (group commit): it sets refusal and
	// credID afresh.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		refusal, credID = nil, ""
		b := inst.buckets(tx)
		key := []byte(req.GetPayerRef())
		var open enrolRecord
		found, err := getJSON(b.enrol, key, &open)
		if err != nil {
			return err
		}
		if !found {
			refusal = sdk.FailedPrecondition("passkey: no enrolment is open for the payer (never begun, already finished, or replaced)")
			return nil
		}
		if err := b.enrol.Delete(key); err != nil {
			return err
		}
		if p.now().UnixMilli() > open.ExpiresUnixMS {
			refusal = sdk.FailedPrecondition("passkey: the enrolment expired; begin again")
			return nil
		}
		st, rec, err := b.payer(key)
		if err != nil {
			return err
		}
		if st.Locked {
			refusal = errLocked
			return nil
		}
		if len(rec.Credentials) > 0 {
			refusal = errAlreadyEnrolled
			return nil
		}
		cred, err := inst.wa.CreateCredential(&user{rec: &rec, name: inst.displayName(req.GetPayerRef())}, open.Session, parsed)
		if err != nil {
			refusal = sdk.InvalidArgument("payer_data", "the new credential did not verify: %s", details(err))
			return nil
		}
		rec.Credentials = append(rec.Credentials, *cred)
		credID = protocol.URLEncodedBase64(cred.ID).String()
		return putJSON(b.users, key, rec)
	})
	if err != nil {
		return nil, storeError(ctx, log, err)
	}
	if refusal != nil {
		log.Warn("passkey: enrolment refused", "reason", refusal)
		return nil, refusal
	}
	log.Info("passkey: enrolled", "credential_id", credID)
	return &pb.FinishEnrollmentResponse{CredentialId: credID}, nil
}

// details is the short, payer-safe description of a go-webauthn error.
func details(err error) string {
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Details != "" {
		return perr.Details
	}
	return err.Error()
}
