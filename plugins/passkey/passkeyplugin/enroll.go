package passkeyplugin

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"

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

var errLocked = sdk.FailedPrecondition("passkey: the payer is locked after too many failed attempts")

// BeginEnrollment starts enrolling a passkey for a payer listed in a payer
// block. challenge_data is {"publicKey": PublicKeyCredentialCreationOptions}.
func (p *Plugin) BeginEnrollment(ctx context.Context, req *pb.BeginEnrollmentRequest) (*pb.BeginEnrollmentResponse, error) {
	inst, err := p.enrolPayer(req.GetInstanceId(), req.GetPayerRef())
	if err != nil {
		return nil, err
	}
	if err := emptyPayerData(req.GetPayerData()); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := sdk.Logger().With("instance", inst.id, "payer_ref", req.GetPayerRef())
	var refusal error
	var data []byte
	// The fn may run more than once (group commit): it sets refusal and
	// data afresh.
	err = inst.db.Update(ctx, func(tx *bolt.Tx) error {
		refusal, data = nil, nil
		b := inst.buckets(tx)
		var st payerState
		if _, err := getJSON(b.payers, []byte(req.GetPayerRef()), &st); err != nil {
			return err
		}
		if st.Locked {
			refusal = errLocked
			return nil
		}
		var rec userRecord
		if _, err := getJSON(b.users, []byte(req.GetPayerRef()), &rec); err != nil {
			return err
		}
		if len(rec.Credentials) > 0 {
			refusal = errAlreadyEnrolled
			return nil
		}
		if len(rec.UserID) == 0 {
			rec.UserID = make([]byte, userIDSize)
			if _, err := rand.Read(rec.UserID); err != nil {
				return err
			}
			if err := putJSON(b.users, []byte(req.GetPayerRef()), rec); err != nil {
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
		return putJSON(b.enrol, []byte(req.GetPayerRef()), enrolRecord{Session: *session, ExpiresUnixMS: p.now().Add(inst.ttl).UnixMilli()})
	})
	if err != nil {
		return nil, storeError(ctx, log, err)
	}
	if refusal != nil {
		log.Warn("passkey: enrolment refused", "reason", refusal)
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
		var rec userRecord
		if _, err := getJSON(b.users, key, &rec); err != nil {
			return err
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
